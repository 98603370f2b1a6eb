/**
 * Carries out a fault schedule on a live local cluster and undoes it: SIGKILL and restart from the
 * data directory, SIGSTOP and SIGCONT, and cut links through `control` admin messages.
 *
 * Links are kept as a wanted state: each replica's set of blocked peers is what the active cuts
 * say, and a replica whose set changed, or that was restarted (a new process blocks nothing), is
 * sent its whole set again (unblock everything, block the wanted peers) once it runs: a paused or
 * dead replica cannot read admin messages, so it is brought up to date when it is resumed or
 * restarted. Everything happens when the harness calls, in order, except restarts: a process takes
 * a while to start, so a killed replica is restarted in the background and stays charged to the
 * schedule's budget until it listens.
 */
import { addrKey, replicaAddr, type ReplicaAddr } from '../protocol/common/core.js';
import type { Control } from './admin.js';
import { describeFault, type Fault, type PlannedFault } from './schedule.js';

/** What the injector needs of a cluster (LocalCluster has it). */
export interface ProcessControl {
  killReplica(shard: number, replica: number): Promise<void>;
  /** Resolves with the replica's address once it listens. */
  restartReplica(shard: number, replica: number): Promise<string>;
  signalReplica(shard: number, replica: number, signal: 'SIGSTOP' | 'SIGCONT'): void;
}

/** `crashed`: it died without being killed (a bug the harness reports). */
export type ProcessState = 'up' | 'killed' | 'restarting' | 'paused' | 'crashed';

export interface InjectorOptions {
  readonly shards: number;
  readonly replicas: number;
  readonly processes: ProcessControl;
  /** Every replica's address (`addrKey` → host:port). */
  readonly addresses: ReadonlyMap<string, string>;
  /** Sends admin `controls` to the replica at `address`; resolves once it has handled them. */
  readonly sendControls: (target: ReplicaAddr, address: string, controls: readonly Control[]) => Promise<void>;
  /** One line per fault injected or reverted, and per problem. */
  readonly log: (line: string) => void;
}

interface ActiveFault extends PlannedFault {
  readonly untilMs: number;
}

const RESTART_TIMEOUT_MS = 20_000;

/** A cut link: both directions between two replicas, cut by `count` active faults. */
interface Cut {
  readonly ends: readonly [ReplicaAddr, ReplicaAddr];
  count: number;
}

function linkKey(a: ReplicaAddr, b: ReplicaAddr): string {
  const [x, y] = [addrKey(a), addrKey(b)].sort();
  return `${x}|${y}`;
}

export class FaultInjector {
  /** Faults injected so far. */
  injected = 0;
  private readonly active: ActiveFault[] = [];
  private readonly states = new Map<string, ProcessState>();
  private readonly addresses: Map<string, string>;
  /** Cut links by `linkKey`. */
  private readonly cuts = new Map<string, Cut>();
  /** Replicas whose blocked peers must be sent again. */
  private readonly stale = new Set<string>();
  /** Restarts under way (a process takes a while to start), by `addrKey`. */
  private readonly restarts = new Map<string, Promise<void>>();
  /** Every replica, by `addrKey`. */
  private readonly replicas = new Map<string, ReplicaAddr>();

  constructor(private readonly opts: InjectorOptions) {
    this.addresses = new Map(opts.addresses);
    for (let s = 0; s < opts.shards; s++) {
      for (let r = 0; r < opts.replicas; r++) {
        this.replicas.set(addrKey(replicaAddr(s, r)), replicaAddr(s, r));
        this.states.set(addrKey(replicaAddr(s, r)), 'up');
      }
    }
  }

  /** Replicas carrying an active fault or down for another reason: the schedule's budget. */
  charged(): Set<string> {
    const keys = new Set(this.active.map((f) => addrKey(f.fault.target)));
    for (const [key, state] of this.states) if (state !== 'up') keys.add(key);
    return keys;
  }

  /** What is wrong right now, for progress lines: `r0.1:kill r1.0:cut r1.2:restarting`. */
  describeDown(): string {
    const down = this.active.map((f) => `${addrKey(f.fault.target)}:${f.fault.kind}`);
    for (const [key, state] of this.states) if (state === 'crashed' || state === 'restarting') down.push(`${key}:${state}`);
    return down.length === 0 ? '-' : down.join(' ');
  }

  /** The cluster saw a replica die that nobody killed. */
  onCrash(key: string): void {
    if (this.states.has(key)) this.states.set(key, 'crashed');
  }

  async inject(planned: PlannedFault, nowMs: number): Promise<void> {
    const { fault } = planned;
    const { shard, replica } = fault.target;
    const key = addrKey(fault.target);
    switch (fault.kind) {
      case 'kill':
        await this.opts.processes.killReplica(shard, replica);
        this.states.set(key, 'killed');
        break;
      case 'pause':
        this.opts.processes.signalReplica(shard, replica, 'SIGSTOP');
        this.states.set(key, 'paused');
        break;
      case 'cut':
      case 'isolate':
        this.changeCuts(fault, +1);
        break;
    }
    this.injected++;
    this.active.push({ ...planned, untilMs: nowMs + planned.durationMs });
    this.opts.log(`${describeFault(fault)} for ${(planned.durationMs / 1000).toFixed(1)} s`);
    await this.sendStale();
  }

  /**
   * Reverts the faults whose time is up (a killed replica is restarted in the background: it stays
   * charged until it listens), and retries link updates that did not get through.
   */
  async revertDue(nowMs: number): Promise<void> {
    for (const f of this.active.filter((a) => a.untilMs <= nowMs)) this.revert(f);
    await this.sendStale();
  }

  /**
   * Ends every fault: restarts killed (and crashed) replicas, resumes paused ones, and has every
   * replica unblock every peer; throws if some replica cannot be brought back by `deadlineMs`.
   */
  async healAll(deadlineMs: number): Promise<void> {
    for (const f of [...this.active].reverse()) this.revert(f);
    await Promise.all(this.restarts.values());
    for (const [key, target] of this.replicas) if (this.states.get(key) === 'crashed') this.restart(target);
    await Promise.all(this.restarts.values());
    for (const key of this.replicas.keys()) this.stale.add(key);
    while (this.stale.size > 0) {
      if (performance.now() > deadlineMs) throw new Error(`could not unblock the links of ${[...this.stale].join(', ')}`);
      await this.sendStale();
      if (this.stale.size > 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  private revert(f: ActiveFault): void {
    this.active.splice(this.active.indexOf(f), 1);
    const { fault } = f;
    const { shard, replica } = fault.target;
    const key = addrKey(fault.target);
    switch (fault.kind) {
      case 'kill':
        this.restart(fault.target);
        break;
      case 'pause':
        this.opts.processes.signalReplica(shard, replica, 'SIGCONT');
        if (this.states.get(key) === 'paused') this.states.set(key, 'up');
        break;
      case 'cut':
      case 'isolate':
        this.changeCuts(fault, -1);
        break;
    }
    this.opts.log(`end ${describeFault(fault)}`);
  }

  /** Starts the replica again; its state is `restarting` until it listens (then `up`) or fails (`crashed`). */
  private restart(target: ReplicaAddr): void {
    const key = addrKey(target);
    this.states.set(key, 'restarting');
    const done = this.restartNow(target).finally(() => this.restarts.delete(key));
    this.restarts.set(key, done);
  }

  private async restartNow(target: ReplicaAddr): Promise<void> {
    const key = addrKey(target);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${key} did not listen within ${RESTART_TIMEOUT_MS} ms of its restart`)), RESTART_TIMEOUT_MS);
    });
    try {
      const address = await Promise.race([this.opts.processes.restartReplica(target.shard, target.replica), timeout]);
      this.addresses.set(key, address);
      this.states.set(key, 'up');
      // A new process blocks nothing: give it the cuts still active.
      this.stale.add(key);
      this.opts.log(`${key} restarted`);
    } catch (err) {
      this.states.set(key, 'crashed');
      this.opts.log(`cannot restart ${key}: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  private changeCuts(fault: Extract<Fault, { peers: readonly ReplicaAddr[] }>, delta: 1 | -1): void {
    for (const peer of fault.peers) {
      const key = linkKey(fault.target, peer);
      const cut = this.cuts.get(key) ?? { ends: [fault.target, peer] as const, count: 0 };
      cut.count += delta;
      if (cut.count > 0) this.cuts.set(key, cut);
      else this.cuts.delete(key);
      this.stale.add(addrKey(fault.target));
      this.stale.add(addrKey(peer));
    }
  }

  /** Sends each running replica with a stale link state its wanted state; keeps those that did not answer. */
  private async sendStale(): Promise<void> {
    const ready = [...this.stale].filter((key) => this.states.get(key) === 'up');
    await Promise.all(
      ready.map(async (key) => {
        const address = this.addresses.get(key);
        const target = this.replicas.get(key);
        if (address === undefined || target === undefined) return;
        try {
          await this.opts.sendControls(target, address, this.wantedControls(key));
          this.stale.delete(key);
        } catch (err) {
          this.opts.log(`link update of ${key} failed (will retry): ${(err as Error).message}`);
        }
      }),
    );
  }

  /** Unblock everything, then block the peers the active cuts name. */
  private wantedControls(key: string): Control[] {
    const controls: Control[] = [];
    for (let shard = 0; shard < this.opts.shards; shard++) controls.push({ action: 'unblock', shard, replica: -1 });
    for (const { ends } of this.cuts.values()) {
      const [a, b] = ends;
      const peer = addrKey(a) === key ? b : addrKey(b) === key ? a : null;
      if (peer !== null) controls.push({ action: 'block', shard: peer.shard, replica: peer.replica });
    }
    return controls;
  }
}

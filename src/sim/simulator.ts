/**
 * A deterministic simulator that runs the very same protocol cores as production (in the manner
 * of TigerBeetle's VOPR and etcd-raft's tests). Virtual time is an integer number of
 * milliseconds: coarse enough that several messages often arrive at the same instant, which
 * exercises a core's batching (`flush`), and fine enough for the link delays a cluster sees.
 * Every random choice comes from one seed, split into independent streams per purpose
 * (network, disk, nodes, workload, faults), so one run is reproducible byte for byte and
 * changing how one stream is used does not reshuffle the others.
 *
 * How a host's duties are simulated:
 * - Each instant, every event due (deliveries, ticks, syncs, scripted actions) runs in the order
 *   it was scheduled; then every node that was called during the instant gets one `flush()`.
 * - Outputs run strictly in order. `persist` appends to the node's disk unsynced. A `send` that
 *   follows a `persist` in the same list leaves only once a sync covers that persist (after
 *   `fsyncMs`; 0 means at once). A send never overtakes an earlier send of the same node that is
 *   waiting for a sync (the host rule in core.ts), so a reply that depends on a record persisted
 *   in an earlier step cannot leave before that record is durable.
 * - A crash drops the node's timers, its inbound messages in flight, its sends waiting for a
 *   sync, and its unsynced records; a restart builds a new core from the synced records.
 * - A send to a `LeaderAddr` goes to whoever the simulated master believes leads the shard: the
 *   master refreshes every `masterRefreshMs` from the replicas' `status()` (the live replica
 *   claiming leadership with the highest ballot), so it lags like a real master learning from
 *   heartbeats. When it knows no leader the message is dropped. The master itself is never
 *   partitioned or down: it hears from every live replica.
 */
import { assert } from '../protocol/common/assert.js';
import type {
  Address,
  ClientAddr,
  ClientCore,
  Completion,
  Output,
  ReplicaAddr,
  ReplicaCore,
  Sender,
} from '../protocol/common/core.js';
import { addrKey, clientAddr, replicaAddr } from '../protocol/common/core.js';
import type { OpInput } from '../protocol/common/kv.js';
import { SeededRng, type Rng } from '../protocol/common/rng.js';
import { SimDisk } from './disk.js';
import { EventQueue } from './queue.js';
import {
  DEFAULT_LINK,
  Network,
  type Degradation,
  type DropReason,
  type LinkClass,
  type LinkProfile,
} from './network.js';
import { Trace, type TraceMode } from './trace.js';

/** Builds a replica core: at start with no records, on restart with the records that were durable at the crash. */
export type ReplicaFactory<M, R> = (addr: ReplicaAddr, durableRecords: R[], rng: Rng) => ReplicaCore<M, R>;

export type ClientFactory<M> = (addr: ClientAddr, rng: Rng) => ClientCore<M>;

/** Told about a client core's operations as they are issued and as they finish (the workload driver). */
export interface ClientListener {
  submitted(seq: number, op: OpInput): void;
  completed(completions: readonly Completion[]): void;
}

export interface SimConfig<M> {
  readonly seed: number;
  /** Interval between a node's ticks. Default 5. */
  readonly tickMs?: number;
  /** Start each node's ticks at a random phase within the first interval. Default true. */
  readonly tickPhase?: boolean;
  /** Latency of a sync that a send is waiting for. Default 0. */
  readonly fsyncMs?: number;
  /** How often the simulated master relearns who leads each shard. Default 20. */
  readonly masterRefreshMs?: number;
  /** Link profiles per class, over DEFAULT_LINK. */
  readonly links?: { readonly replica?: Partial<LinkProfile>; readonly client?: Partial<LinkProfile> };
  /** Default 'hash'. */
  readonly trace?: TraceMode;
  /** How a message appears in the trace. Default JSON.stringify. */
  readonly describeMessage?: (msg: M) => string;
  /**
   * Copies a message as it is sent (and again for a duplicate), as serialization would, so a
   * core that mutates a message after sending it, or one it received, cannot affect other
   * nodes. Default: no copy (fastest; cores are expected to treat messages as immutable).
   */
  readonly copyMessage?: (msg: M) => M;
  /** Call `checkInvariants()` on a replica after every call into it. Default true. */
  readonly checkInvariants?: boolean;
  /** A crash keeps a random prefix of the unsynced records (the OS flushed them on its own). Default false: it keeps none. */
  readonly crashKeepsUnsyncedPrefix?: boolean;
  /** Bound on events in one instant, to catch zero-delay loops. Default 1,000,000. */
  readonly instantEventsMax?: number;
}

export interface SimCounters {
  /** Messages the cores sent (each counted once, whatever happened to it). */
  sent: number;
  /** Copies handed to a core (a duplicated message can count twice). */
  delivered: number;
  /** Messages the network delivered twice. */
  duplicated: number;
  dropped: Record<DropReason, number>;
  persisted: number;
  syncs: number;
  /** Records lost in crashes (unsynced at the time). */
  recordsLost: number;
  crashes: number;
  restarts: number;
}

export interface DiskView<R> {
  readonly length: number;
  readonly synced: number;
  durable(): R[];
}

export interface SimLayout {
  readonly shards: readonly { readonly shard: number; readonly replicas: number }[];
  readonly clients: readonly ClientAddr[];
}

/** A failure inside a core (a failed assertion is a bug): names the seed that reproduces it. */
export class SimulationError extends Error {
  override readonly name = 'SimulationError';

  constructor(
    readonly seed: number,
    readonly timeMs: number,
    readonly node: string,
    readonly call: string,
    cause: unknown,
    traceTail: readonly string[],
  ) {
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    const tail = traceTail.length === 0 ? '' : `\nlast trace lines:\n${traceTail.join('\n')}`;
    super(`seed ${seed}: ${node} failed in ${call} at ${timeMs}ms: ${reason}${tail}`, { cause });
  }
}

interface Waiting<M> {
  /** The disk length that must be synced before this send leaves. */
  readonly mark: number;
  readonly to: Address;
  readonly msg: M;
}

class ReplicaNode<M, R> {
  readonly kind = 'replica';
  core: ReplicaCore<M, R> | null = null;
  /** Bumped on every crash: events addressed to an older incarnation are void. */
  incarnation = 0;
  readonly disk = new SimDisk<R>();
  /** Sends waiting for a sync, in output order (their marks never decrease). */
  readonly waiting: Waiting<M>[] = [];
  /** The disk length the latest scheduled sync will make durable. */
  syncScheduledTo = 0;
  dirty = false;

  constructor(
    readonly addr: ReplicaAddr,
    readonly key: string,
    readonly factory: ReplicaFactory<M, R>,
    readonly rng: Rng,
  ) {}
}

class ClientNode<M> {
  readonly kind = 'client';
  readonly incarnation = 0;
  dirty = false;

  constructor(
    readonly addr: ClientAddr,
    readonly key: string,
    readonly core: ClientCore<M>,
    readonly listener: ClientListener,
    readonly rng: Rng,
  ) {}
}

type SimNode<M, R> = ReplicaNode<M, R> | ClientNode<M>;

type SimEvent<M, R> =
  | {
      readonly kind: 'deliver';
      readonly id: number;
      readonly from: SimNode<M, R>;
      readonly to: SimNode<M, R>;
      readonly incarnation: number;
      readonly msg: M;
    }
  | { readonly kind: 'tick'; readonly node: SimNode<M, R>; readonly incarnation: number }
  | { readonly kind: 'sync'; readonly node: ReplicaNode<M, R>; readonly incarnation: number; readonly upTo: number }
  | { readonly kind: 'action'; readonly run: () => void };

const TRACE_TAIL_LINES = 30;

export class Simulator<M, R> {
  readonly seed: number;
  readonly counters: SimCounters = {
    sent: 0,
    delivered: 0,
    duplicated: 0,
    dropped: { loss: 0, partition: 0, down: 0, no_leader: 0, unsynced: 0 },
    persisted: 0,
    syncs: 0,
    recordsLost: 0,
    crashes: 0,
    restarts: 0,
  };

  private readonly tickMs: number;
  private readonly tickPhase: boolean;
  private readonly fsyncMs: number;
  private readonly checks: boolean;
  private readonly keepUnsyncedPrefix: boolean;
  private readonly instantEventsMax: number;
  private readonly describe: (msg: M) => string;
  private readonly copy: ((msg: M) => M) | null;

  private readonly networkRng: Rng;
  private readonly diskRng: Rng;
  private readonly nodesRng: Rng;
  private readonly workloadRng: Rng;
  private readonly faultsRng: Rng;

  private readonly queue = new EventQueue<SimEvent<M, R>>();
  private readonly network: Network;
  private readonly trace: Trace;
  private readonly nodes = new Map<string, SimNode<M, R>>();
  private readonly shards = new Map<number, ReplicaNode<M, R>[]>();
  private readonly clients: ClientNode<M>[] = [];
  private readonly leaders = new Map<number, { node: ReplicaNode<M, R>; ballot: number } | null>();
  private dirty: SimNode<M, R>[] = [];
  private now = 0;
  private messageIds = 0;

  constructor(config: SimConfig<M>) {
    this.seed = config.seed;
    this.tickMs = config.tickMs ?? 5;
    this.tickPhase = config.tickPhase ?? true;
    this.fsyncMs = config.fsyncMs ?? 0;
    this.checks = config.checkInvariants ?? true;
    this.keepUnsyncedPrefix = config.crashKeepsUnsyncedPrefix ?? false;
    this.instantEventsMax = config.instantEventsMax ?? 1_000_000;
    this.describe = config.describeMessage ?? ((msg) => JSON.stringify(msg));
    this.copy = config.copyMessage ?? null;
    const masterRefreshMs = config.masterRefreshMs ?? 20;
    assert(Number.isSafeInteger(this.tickMs) && this.tickMs >= 1, 'tickMs must be a whole number >= 1');
    assert(Number.isSafeInteger(this.fsyncMs) && this.fsyncMs >= 0, 'fsyncMs must be a whole number >= 0');
    assert(Number.isSafeInteger(masterRefreshMs) && masterRefreshMs >= 1, 'masterRefreshMs must be a whole number >= 1');

    const root = new SeededRng(config.seed);
    this.networkRng = root.fork();
    this.diskRng = root.fork();
    this.nodesRng = root.fork();
    this.workloadRng = root.fork();
    this.faultsRng = root.fork();

    this.network = new Network({
      replica: { ...DEFAULT_LINK, ...config.links?.replica },
      client: { ...DEFAULT_LINK, ...config.links?.client },
    });
    this.trace = new Trace(config.trace ?? 'hash');
    const refresh = (): void => {
      this.refreshMasterView();
      this.after(masterRefreshMs, refresh);
    };
    this.after(masterRefreshMs, refresh);
  }

  /** Virtual time, in milliseconds since the simulation started. */
  get nowMs(): number {
    return this.now;
  }

  /** A fresh generator for a purpose outside the simulator proper (workload driver, fault schedules). */
  forkRng(purpose: 'workload' | 'faults'): Rng {
    return purpose === 'workload' ? this.workloadRng.fork() : this.faultsRng.fork();
  }

  // ---- building the cluster ----

  /** Adds and starts replicas 0..replicas-1 of `shard`. */
  addShard(shard: number, replicas: number, factory: ReplicaFactory<M, R>): ReplicaAddr[] {
    assert(!this.shards.has(shard), `shard ${shard} already exists`);
    assert(Number.isSafeInteger(replicas) && replicas >= 1, 'a shard needs at least one replica');
    const group: ReplicaNode<M, R>[] = [];
    for (let r = 0; r < replicas; r++) {
      const addr = replicaAddr(shard, r);
      const node = new ReplicaNode<M, R>(addr, addrKey(addr), factory, this.nodesRng.fork());
      this.nodes.set(node.key, node);
      group.push(node);
      this.start(node, 'start');
    }
    this.shards.set(shard, group);
    this.leaders.set(shard, null);
    return group.map((n) => n.addr);
  }

  addClient(id: string, factory: ClientFactory<M>, listener: ClientListener): ClientAddr {
    const addr = clientAddr(id);
    const key = addrKey(addr);
    assert(!this.nodes.has(key), `client ${id} already exists`);
    const rng = this.nodesRng.fork();
    const node = new ClientNode<M>(addr, key, factory(addr, rng.fork()), listener, rng);
    this.nodes.set(key, node);
    this.clients.push(node);
    this.scheduleTicks(node);
    return addr;
  }

  layout(): SimLayout {
    return {
      shards: [...this.shards.entries()].map(([shard, group]) => ({ shard, replicas: group.length })),
      clients: this.clients.map((c) => c.addr),
    };
  }

  // ---- driving ----

  /** Runs `action` at virtual time `timeMs` (not before now), after events already due then. */
  at(timeMs: number, action: () => void): void {
    assert(timeMs >= this.now, `cannot schedule in the past (${timeMs} < ${this.now})`);
    this.queue.push(timeMs, { kind: 'action', run: action });
  }

  after(delayMs: number, action: () => void): void {
    this.at(this.now + delayMs, action);
  }

  /** Advances virtual time by `durationMs`, running everything due. */
  run(durationMs: number): void {
    assert(durationMs >= 0, 'cannot run backwards');
    this.runTo(this.now + durationMs, null);
  }

  /**
   * Runs until `predicate` holds (checked after every instant) or virtual time reaches
   * `deadlineMs` (absolute). Returns whether the predicate held; time stops where it did.
   */
  runUntil(predicate: () => boolean, deadlineMs: number): boolean {
    assert(deadlineMs >= this.now, `deadline ${deadlineMs}ms is in the past`);
    return this.runTo(deadlineMs, predicate);
  }

  /** Issues an operation on a client core now; returns its sequence number. */
  submit(client: string, op: OpInput): number {
    const node = this.clientNode(client);
    let seq = -1;
    this.call(node, 'submit', () => {
      const issued = node.core.submit(op);
      seq = issued.seq;
      if (this.trace.enabled) this.trace.record(`${this.now} i ${node.key} ${seq} ${JSON.stringify(op)}`);
      node.listener.submitted(seq, op);
      return issued.outputs;
    });
    return seq;
  }

  // ---- faults ----

  crash(addr: ReplicaAddr): void {
    const node = this.replicaNode(addr);
    assert(node.core !== null, `${node.key} is already down`);
    node.core = null;
    node.incarnation++;
    const keep = this.keepUnsyncedPrefix ? this.diskRng.int(node.disk.unsynced + 1) : 0;
    const lost = node.disk.crash(keep);
    this.counters.recordsLost += lost;
    this.counters.dropped.unsynced += node.waiting.length;
    node.waiting.length = 0;
    node.syncScheduledTo = 0;
    this.counters.crashes++;
    if (this.trace.enabled) this.trace.record(`${this.now} C ${node.key} lost ${lost}`);
  }

  restart(addr: ReplicaAddr): void {
    const node = this.replicaNode(addr);
    assert(node.core === null, `${node.key} is not down`);
    this.counters.restarts++;
    this.start(node, 'restart');
  }

  isUp(addr: ReplicaAddr): boolean {
    return this.replicaNode(addr).core !== null;
  }

  /** Blocks messages from `from` to `to` only (a one-way partition). */
  cut(from: Sender, to: Sender): void {
    this.network.cut(this.nodeOf(from).key, this.nodeOf(to).key);
    this.note(`cut ${addrKey(from)}>${addrKey(to)}`);
  }

  /** Blocks every message to and from `node`. */
  isolate(node: Sender): void {
    this.network.isolate(this.nodeOf(node).key);
    this.note(`isolate ${addrKey(node)}`);
  }

  /** Blocks messages between nodes of different groups (nodes in no group are unaffected). */
  split(groups: readonly (readonly Sender[])[]): void {
    const keys = groups.map((g) => g.map((a) => this.nodeOf(a).key));
    this.network.split(keys);
    this.note(`split ${keys.map((g) => g.join(',')).join(' | ')}`);
  }

  /** Removes every partition. */
  heal(): void {
    this.network.heal();
    this.note('heal');
  }

  degrade(d: Degradation): void {
    this.network.degrade(d);
    this.note(`degrade loss ${d.loss} dup ${d.duplicate} reorder ${d.reorder}`);
  }

  restore(): void {
    this.network.restore();
    this.note('restore');
  }

  get partitioned(): boolean {
    return this.network.partitioned;
  }

  get degraded(): boolean {
    return this.network.degraded;
  }

  /** Overrides the profile of the directed link `from → to`. */
  setLink(from: Sender, to: Sender, profile: Partial<LinkProfile>): void {
    const a = this.nodeOf(from);
    const b = this.nodeOf(to);
    this.network.setLink(a.key, b.key, linkClass(a, b), profile);
    this.note(`link ${a.key}>${b.key} ${JSON.stringify(profile)}`);
  }

  // ---- observing ----

  /** The replica's current core, or null while it is down. */
  replica(addr: ReplicaAddr): ReplicaCore<M, R> | null {
    return this.replicaNode(addr).core;
  }

  client(id: string): ClientCore<M> {
    return this.clientNode(id).core;
  }

  disk(addr: ReplicaAddr): DiskView<R> {
    return this.replicaNode(addr).disk;
  }

  replicas(shard: number): ReplicaAddr[] {
    return this.shardNodes(shard).map((n) => n.addr);
  }

  /** Who the simulated master believes leads `shard`, or null. */
  leaderOf(shard: number): ReplicaAddr | null {
    const view = this.leaders.get(shard);
    assert(view !== undefined, `no shard ${shard} in the simulation`);
    return view?.node.addr ?? null;
  }

  /** Relearns every shard's leader now (the master also does this every `masterRefreshMs`). */
  refreshMasterView(): void {
    for (const [shard, group] of this.shards) {
      let best: { node: ReplicaNode<M, R>; ballot: number } | null = null;
      for (const node of group) {
        const core = node.core;
        if (core === null) continue;
        const status = this.guard(node, 'status', () => core.status());
        if (status.role === 'leader' && (best === null || status.ballot > best.ballot)) {
          best = { node, ballot: status.ballot };
        }
      }
      const old = this.leaders.get(shard) ?? null;
      if (old?.node !== best?.node || old?.ballot !== best?.ballot) {
        this.leaders.set(shard, best);
        this.note(`master ${shard} ${best === null ? '-' : `${best.node.key}@${best.ballot}`}`);
      }
    }
  }

  /** `stateDigest()` of each live replica of `shard`, as canonical JSON. */
  digests(shard: number): { replica: number; digest: string }[] {
    const out: { replica: number; digest: string }[] = [];
    for (const node of this.shardNodes(shard)) {
      const core = node.core;
      if (core === null) continue;
      out.push({ replica: node.addr.replica, digest: JSON.stringify(this.guard(node, 'stateDigest', () => core.stateDigest())) });
    }
    return out;
  }

  /** Whether every live replica of `shard` (at least one) has executed to the same state. */
  converged(shard: number): boolean {
    const ds = this.digests(shard);
    return ds.length > 0 && ds.every((d) => d.digest === ds[0]?.digest);
  }

  get traceHash(): string {
    return this.trace.hash;
  }

  get traceLines(): readonly string[] {
    return this.trace.lines;
  }

  // ---- the event loop ----

  private runTo(endMs: number, predicate: (() => boolean) | null): boolean {
    this.runInstant();
    if (predicate?.() === true) return true;
    for (;;) {
      const next = this.queue.peekTimeMs();
      if (next === null || next > endMs) break;
      this.now = next;
      this.runInstant();
      if (predicate?.() === true) return true;
    }
    this.now = endMs;
    return false;
  }

  /** Runs every event due now, then flushes the nodes that were called, until nothing is left at this instant. */
  private runInstant(): void {
    let events = 0;
    for (;;) {
      while (this.queue.peekTimeMs() === this.now) {
        this.handle(this.queue.pop() as SimEvent<M, R>);
        assert(++events <= this.instantEventsMax, `seed ${this.seed}: more than ${this.instantEventsMax} events at ${this.now}ms (a zero-delay loop?)`);
      }
      if (this.dirty.length === 0) return;
      const dirty = this.dirty;
      this.dirty = [];
      for (const node of dirty) {
        node.dirty = false;
        const core = node.core;
        if (core !== null) this.call(node, 'flush', () => core.flush(), false);
      }
    }
  }

  private handle(ev: SimEvent<M, R>): void {
    switch (ev.kind) {
      case 'deliver':
        return this.deliver(ev.id, ev.from, ev.to, ev.incarnation, ev.msg);
      case 'tick': {
        const node = ev.node;
        const core = node.core;
        if (core === null || node.incarnation !== ev.incarnation) return;
        this.queue.push(this.now + this.tickMs, ev);
        return this.call(node, 'tick', () => core.tick());
      }
      case 'sync':
        return this.completeSync(ev.node, ev.incarnation, ev.upTo);
      case 'action':
        return ev.run();
    }
  }

  private deliver(id: number, from: SimNode<M, R>, to: SimNode<M, R>, incarnation: number, msg: M): void {
    const core = to.core;
    if (core === null || to.incarnation !== incarnation) return this.drop(id, 'down');
    if (this.network.blocked(from.key, to.key)) return this.drop(id, 'partition');
    this.counters.delivered++;
    if (this.trace.enabled) this.trace.record(`${this.now} d${id}`);
    this.call(to, 'step', () => core.step(from.addr, msg));
  }

  /** Calls into a core, checks its invariants, carries out its outputs, and hands a client's completions to its listener. */
  private call(node: SimNode<M, R>, what: string, f: () => Output<M, R>[], markDirty = true): void {
    this.guard(node, what, () => {
      const outputs = f();
      if (this.checks && node.kind === 'replica') node.core?.checkInvariants();
      this.perform(node, outputs);
    });
    if (node.kind === 'client') {
      const completions = this.guard(node, 'takeCompletions', () => node.core.takeCompletions());
      if (completions.length > 0) {
        if (this.trace.enabled) {
          for (const c of completions) this.trace.record(`${this.now} c ${node.key} ${c.seq} ${c.status}${c.status === 'ok' ? ` ${JSON.stringify(c.output)}` : ''}`);
        }
        this.guard(node, 'completed', () => node.listener.completed(completions));
      }
    }
    if (markDirty && !node.dirty) {
      node.dirty = true;
      this.dirty.push(node);
    }
  }

  private guard<T>(node: SimNode<M, R>, what: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof SimulationError) throw e;
      throw new SimulationError(this.seed, this.now, node.key, what, e, this.trace.lines.slice(-TRACE_TAIL_LINES));
    }
  }

  private perform(node: SimNode<M, R>, outputs: Output<M, R>[]): void {
    /** The disk length the sends from here on must wait for: set by each persist in this list. */
    let mark = 0;
    for (const out of outputs) {
      if (out.type === 'observe') continue;
      if (out.type === 'persist') {
        assert(node.kind === 'replica', `client ${node.key} tried to persist`);
        node.disk.append(out.record);
        this.counters.persisted++;
        if (this.trace.enabled) this.trace.record(`${this.now} p ${node.key} ${JSON.stringify(out.record)}`);
        // A lazy record (one that can be relearned) is synced with the next sync, but no send waits for it.
        if (!out.lazy) mark = node.disk.length;
        continue;
      }
      const msg = this.copy === null ? out.msg : this.copy(out.msg);
      const queued = node.kind === 'replica' ? node.waiting.length : 0;
      if (node.kind === 'replica' && out.independent !== true && (mark > node.disk.synced || queued > 0)) {
        if (this.fsyncMs === 0) {
          this.sync(node, node.disk.length);
        } else {
          // FIFO: a send never overtakes an earlier one that is waiting for a sync.
          if (queued > 0) mark = Math.max(mark, (node.waiting[queued - 1] as Waiting<M>).mark);
          if (node.syncScheduledTo < mark) {
            node.syncScheduledTo = node.disk.length;
            this.queue.push(this.now + this.fsyncMs, {
              kind: 'sync',
              node,
              incarnation: node.incarnation,
              upTo: node.disk.length,
            });
          }
          node.waiting.push({ mark, to: out.to, msg });
          continue;
        }
      }
      this.transmit(node, out.to, msg);
    }
  }

  private sync(node: ReplicaNode<M, R>, upTo: number): void {
    node.disk.syncTo(upTo);
    this.counters.syncs++;
    if (this.trace.enabled) this.trace.record(`${this.now} y ${node.key} ${upTo}`);
  }

  private completeSync(node: ReplicaNode<M, R>, incarnation: number, upTo: number): void {
    if (node.incarnation !== incarnation) return;
    this.sync(node, upTo);
    let released = 0;
    while (released < node.waiting.length && (node.waiting[released] as Waiting<M>).mark <= node.disk.synced) released++;
    for (const w of node.waiting.splice(0, released)) this.transmit(node, w.to, w.msg);
  }

  private transmit(from: SimNode<M, R>, to: Address, msg: M): void {
    const id = ++this.messageIds;
    this.counters.sent++;
    const target = to.kind === 'leader' ? (this.leaders.get(to.shard)?.node ?? null) : this.nodeOf(to);
    if (this.trace.enabled) {
      const dest = to.kind === 'leader' ? `${addrKey(to)}=${target?.key ?? '?'}` : (target as SimNode<M, R>).key;
      this.trace.record(`${this.now} s${id} ${from.key}>${dest} ${this.describe(msg)}`);
    }
    if (target === null) return this.drop(id, 'no_leader');
    if (target.core === null) return this.drop(id, 'down');
    const route = this.network.route(from.key, target.key, linkClass(from, target), this.networkRng);
    if ('dropped' in route) return this.drop(id, route.dropped);
    if (route.delaysMs.length > 1) {
      this.counters.duplicated++;
      if (this.trace.enabled) this.trace.record(`${this.now} D${id}`);
    }
    route.delaysMs.forEach((delayMs, copy) => {
      this.queue.push(this.now + delayMs, {
        kind: 'deliver',
        id,
        from,
        to: target,
        incarnation: target.incarnation,
        msg: copy > 0 && this.copy !== null ? this.copy(msg) : msg,
      });
    });
  }

  private drop(id: number, reason: DropReason): void {
    this.counters.dropped[reason]++;
    if (this.trace.enabled) this.trace.record(`${this.now} x${id} ${reason}`);
  }

  private start(node: ReplicaNode<M, R>, what: 'start' | 'restart'): void {
    const records = node.disk.durable();
    if (this.trace.enabled) this.trace.record(`${this.now} ${what === 'start' ? 'S' : 'R'} ${node.key} ${records.length}`);
    node.core = this.guard(node, what, () => node.factory(node.addr, records, node.rng.fork()));
    this.scheduleTicks(node);
  }

  private scheduleTicks(node: SimNode<M, R>): void {
    const first = this.tickPhase ? node.rng.range(1, this.tickMs) : this.tickMs;
    this.queue.push(this.now + first, { kind: 'tick', node, incarnation: node.incarnation });
  }

  private note(what: string): void {
    if (this.trace.enabled) this.trace.record(`${this.now} N ${what}`);
  }

  private nodeOf(addr: Sender): SimNode<M, R> {
    const node = this.nodes.get(addrKey(addr));
    assert(node !== undefined, `no node ${addrKey(addr)} in the simulation`);
    return node;
  }

  private replicaNode(addr: ReplicaAddr): ReplicaNode<M, R> {
    const node = this.nodeOf(addr);
    assert(node.kind === 'replica', `${node.key} is not a replica`);
    return node;
  }

  private clientNode(id: string): ClientNode<M> {
    const node = this.nodeOf(clientAddr(id));
    assert(node.kind === 'client', `${node.key} is not a client`);
    return node;
  }

  private shardNodes(shard: number): ReplicaNode<M, R>[] {
    const group = this.shards.get(shard);
    assert(group !== undefined, `no shard ${shard} in the simulation`);
    return group;
  }
}

function linkClass(a: { kind: string }, b: { kind: string }): LinkClass {
  return a.kind === 'replica' && b.kind === 'replica' ? 'replica' : 'client';
}

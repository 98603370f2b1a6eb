/**
 * The torture harness's fault schedule: which fault comes next, on which replica, for how long.
 * Pure: every choice comes from the seeded generator and the view it is given (who leads each
 * shard, which replicas already carry a fault), so one seed and one sequence of views give one
 * schedule. (A run of real processes is not exactly reproducible: the views depend on timing.)
 *
 * The budget rule keeps every shard able to make progress while faults are active: each fault is
 * charged to one replica, at most f = ⌊(R−1)/2⌋ replicas of a shard carry a charge at once, and
 * the process faults (kill, pause) only hit charged replicas while every cut link has a charged
 * end. So the uncharged replicas, at least f+1 of each shard, run and reach each other: a
 * majority that can elect a leader and commit.
 */
import { addrKey, replicaAddr, type ReplicaAddr } from '../protocol/common/core.js';
import type { Rng } from '../protocol/common/rng.js';

export type FaultKind = 'kill' | 'pause' | 'cut' | 'isolate';

export type Fault =
  /** SIGKILL, later a restart from the data directory. */
  | { readonly kind: 'kill'; readonly target: ReplicaAddr }
  /** SIGSTOP, later SIGCONT. */
  | { readonly kind: 'pause'; readonly target: ReplicaAddr }
  /**
   * Both directions of the links between `target` and each of `peers` drop all traffic: one link
   * (`cut`, possibly to another shard's replica), or a leader and every other replica of its
   * shard (`isolate`).
   */
  | { readonly kind: 'cut' | 'isolate'; readonly target: ReplicaAddr; readonly peers: readonly ReplicaAddr[] };

export interface PlannedFault {
  readonly fault: Fault;
  /** How long it lasts before it is reverted. */
  readonly durationMs: number;
}

export interface ScheduleView {
  /** Per shard, the replica the master names as leader, or -1. */
  readonly leaders: readonly number[];
  /** `addrKey`s of the replicas charged with an active fault (or otherwise down). */
  readonly charged: ReadonlySet<string>;
}

export interface ScheduleOptions {
  readonly shards: number;
  readonly replicas: number;
  /** Links between replicas of different shards may be cut too (MDL leaders talk across shards). */
  readonly crossShard: boolean;
}

/** Relative weights of the fault kinds. */
const KIND_WEIGHTS: readonly (readonly [FaultKind, number])[] = [
  ['kill', 35],
  ['pause', 20],
  ['cut', 25],
  ['isolate', 20],
];
/** A process fault hits the shard's leader with this probability (when it has one free to hit). */
const LEADER_BIAS = 0.6;
/** A cut link leads to another shard with this probability (when allowed). */
const CROSS_SHARD_CUT_CHANCE = 0.3;
/** How long each kind of fault lasts, [min, max] in milliseconds. */
const DURATION_MS: { readonly [K in FaultKind]: readonly [number, number] } = {
  kill: [200, 2000],
  // Pauses shorter than an election timeout let a stale leader wake up still believing it leads.
  pause: [100, 1500],
  cut: [300, 2000],
  isolate: [300, 2000],
};
/** The wait between two fault injections, [min, max] in milliseconds. */
const GAP_MS: readonly [number, number] = [100, 800];

export function describeFault(f: Fault): string {
  switch (f.kind) {
    case 'kill':
    case 'pause':
      return `${f.kind} ${addrKey(f.target)}`;
    case 'cut':
    case 'isolate':
      return `${f.kind} ${addrKey(f.target)} from ${f.peers.map(addrKey).join(',')}`;
  }
}

export class FaultSchedule {
  /** Replicas of one shard that may carry a fault at once. */
  readonly faultyPerShardMax: number;

  constructor(
    private readonly rng: Rng,
    private readonly opts: ScheduleOptions,
  ) {
    this.faultyPerShardMax = Math.floor((opts.replicas - 1) / 2);
  }

  /** How long to wait before trying the next fault. */
  gapMs(): number {
    return this.rng.range(GAP_MS[0], GAP_MS[1]);
  }

  /** The next fault, or null when every shard already carries as many faults as it can take. */
  next(view: ScheduleView): PlannedFault | null {
    const open = this.shardsWithBudget(view.charged);
    if (open.length === 0) return null;
    const shard = open[this.rng.int(open.length)] as number;
    const leader = view.leaders[shard] ?? -1;
    const leaderFree = leader >= 0 && !view.charged.has(addrKey(replicaAddr(shard, leader)));
    let kind = this.pickKind();
    if (kind === 'isolate' && !leaderFree) kind = 'cut';
    const fault = this.build(kind, shard, leader, leaderFree, view);
    const [lo, hi] = DURATION_MS[kind];
    return { fault, durationMs: this.rng.range(lo, hi) };
  }

  private build(kind: FaultKind, shard: number, leader: number, leaderFree: boolean, view: ScheduleView): Fault {
    switch (kind) {
      case 'kill':
      case 'pause':
        return { kind, target: this.pickTarget(shard, leader, leaderFree, view.charged) };
      case 'isolate': {
        const target = replicaAddr(shard, leader);
        return { kind, target, peers: this.shardReplicas(shard).filter((r) => r.replica !== leader) };
      }
      case 'cut': {
        const target = this.pickTarget(shard, leader, leaderFree, view.charged);
        return { kind, target, peers: [this.pickPeer(target, view.leaders)] };
      }
    }
  }

  private shardsWithBudget(charged: ReadonlySet<string>): number[] {
    const open: number[] = [];
    for (let shard = 0; shard < this.opts.shards; shard++) {
      const count = this.shardReplicas(shard).filter((r) => charged.has(addrKey(r))).length;
      if (count < this.faultyPerShardMax) open.push(shard);
    }
    return open;
  }

  private pickKind(): FaultKind {
    const total = KIND_WEIGHTS.reduce((sum, [, w]) => sum + w, 0);
    let x = this.rng.int(total);
    for (const [kind, w] of KIND_WEIGHTS) {
      if (x < w) return kind;
      x -= w;
    }
    throw new Error('unreachable: the weights cover every draw');
  }

  /** An uncharged replica of `shard`: its leader with probability LEADER_BIAS, else any. */
  private pickTarget(shard: number, leader: number, leaderFree: boolean, charged: ReadonlySet<string>): ReplicaAddr {
    if (leaderFree && this.rng.chance(LEADER_BIAS)) return replicaAddr(shard, leader);
    const free = this.shardReplicas(shard).filter((r) => !charged.has(addrKey(r)));
    return free[this.rng.int(free.length)] as ReplicaAddr;
  }

  /** The other end of a cut link: another replica of the shard, or another shard's leader (or any replica there). */
  private pickPeer(target: ReplicaAddr, leaders: readonly number[]): ReplicaAddr {
    if (this.opts.crossShard && this.opts.shards > 1 && this.rng.chance(CROSS_SHARD_CUT_CHANCE)) {
      const others = Array.from({ length: this.opts.shards - 1 }, (_, i) => (i >= target.shard ? i + 1 : i));
      const shard = others[this.rng.int(others.length)] as number;
      const leader = leaders[shard] ?? -1;
      return replicaAddr(shard, leader >= 0 ? leader : this.rng.int(this.opts.replicas));
    }
    const peers = this.shardReplicas(target.shard).filter((r) => r.replica !== target.replica);
    return peers[this.rng.int(peers.length)] as ReplicaAddr;
  }

  private shardReplicas(shard: number): ReplicaAddr[] {
    return Array.from({ length: this.opts.replicas }, (_, r) => replicaAddr(shard, r));
  }
}

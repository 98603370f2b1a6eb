/**
 * Fault schedules. A randomized run has two phases (ARCHITECTURE.md, "Randomized sweeps"): a
 * safety phase in which crashes, partitions and lossy/duplicating/reordering windows strike,
 * and a liveness phase that starts with everything healed (every crashed replica restarted,
 * every partition removed, the network restored) and lasts long enough to demand progress.
 * The same helpers replay a hand-written list of faults for scripted scenarios.
 */
import { assert, unreachable } from '../protocol/common/assert.js';
import type { ReplicaAddr, Sender } from '../protocol/common/core.js';
import { addrKey, replicaAddr } from '../protocol/common/core.js';
import type { Rng } from '../protocol/common/rng.js';
import type { SimLayout, Simulator } from './simulator.js';

export type Fault =
  | { readonly kind: 'crash'; readonly node: ReplicaAddr }
  | { readonly kind: 'restart'; readonly node: ReplicaAddr }
  | { readonly kind: 'isolate'; readonly node: Sender }
  | { readonly kind: 'split'; readonly groups: readonly (readonly Sender[])[] }
  /** One-way: messages from `from` to `to` are lost, the other direction works. */
  | { readonly kind: 'cut'; readonly from: Sender; readonly to: Sender }
  /** Removes every partition. */
  | { readonly kind: 'heal' }
  | { readonly kind: 'degrade'; readonly loss: number; readonly duplicate: number; readonly reorder: number }
  /** Ends a degraded window. */
  | { readonly kind: 'restore' };

export interface TimedFault {
  readonly atMs: number;
  readonly fault: Fault;
}

export interface FaultSchedule {
  /** In time order; faults at the same instant apply in list order. */
  readonly faults: readonly TimedFault[];
  /** From here on everything is healed. */
  readonly safetyEndMs: number;
  /** End of the liveness phase. */
  readonly endMs: number;
}

/** Rates are per second of virtual time; durations are inclusive [min, max] ranges. */
export interface FaultProfile {
  /** No fault before this (lets the cluster elect its first leaders). */
  readonly startMs: number;
  readonly safetyMs: number;
  readonly livenessMs: number;
  readonly crashesPerSecond: number;
  readonly downMs: readonly [number, number];
  /** Most replicas of one shard down at once. Default f = (replicas - 1) / 2 for each shard. */
  readonly downPerShardMax?: number;
  readonly partitionsPerSecond: number;
  readonly partitionMs: readonly [number, number];
  /** Whether partitions may involve clients too. */
  readonly partitionClients: boolean;
  readonly degradesPerSecond: number;
  readonly degradeMs: readonly [number, number];
  readonly lossMax: number;
  readonly duplicateMax: number;
  readonly reorderMax: number;
}

export const DEFAULT_FAULT_PROFILE: FaultProfile = {
  startMs: 200,
  safetyMs: 3000,
  livenessMs: 3000,
  crashesPerSecond: 2,
  downMs: [50, 600],
  partitionsPerSecond: 1.5,
  partitionMs: [50, 600],
  partitionClients: true,
  degradesPerSecond: 1,
  degradeMs: [50, 500],
  lossMax: 0.2,
  duplicateMax: 0.2,
  reorderMax: 0.3,
};

export function applyFault<M, R>(sim: Simulator<M, R>, fault: Fault): void {
  switch (fault.kind) {
    case 'crash':
      return sim.crash(fault.node);
    case 'restart':
      return sim.restart(fault.node);
    case 'isolate':
      return sim.isolate(fault.node);
    case 'split':
      return sim.split(fault.groups);
    case 'cut':
      return sim.cut(fault.from, fault.to);
    case 'heal':
      return sim.heal();
    case 'degrade':
      return sim.degrade(fault);
    case 'restore':
      return sim.restore();
    default:
      return unreachable(fault);
  }
}

/** Schedules each fault at its time (generated or written by hand; none may be in the past). */
export function scheduleFaults<M, R>(sim: Simulator<M, R>, faults: readonly TimedFault[]): void {
  for (const { atMs, fault } of faults) sim.at(atMs, () => applyFault(sim, fault));
}

function checkRange(r: readonly [number, number], name: string): void {
  assert(Number.isSafeInteger(r[0]) && r[0] >= 1 && r[1] >= r[0], `${name} must be whole ms with 1 <= min <= max`);
}

/** Milliseconds until the next event of a Poisson process (at least 1; never when the rate is 0). */
function gapMs(rng: Rng, perSecond: number): number {
  if (perSecond <= 0) return Infinity;
  return Math.max(1, Math.ceil((-Math.log(1 - rng.next()) * 1000) / perSecond));
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  assert(items.length > 0, 'pick from an empty list');
  return items[rng.int(items.length)] as T;
}

function roundProbability(p: number): number {
  return Math.round(p * 1000) / 1000;
}

/**
 * Draws a schedule for `layout`. Crashes never take more than `downPerShardMax` replicas of a
 * shard down at once; at most one partition and one degraded window are active at a time; at
 * `safetyEndMs` every replica still down is restarted, partitions are healed and the network
 * is restored.
 */
export function generateFaultSchedule(rng: Rng, profile: FaultProfile, layout: SimLayout): FaultSchedule {
  checkRange(profile.downMs, 'downMs');
  checkRange(profile.partitionMs, 'partitionMs');
  checkRange(profile.degradeMs, 'degradeMs');
  assert(profile.startMs >= 0 && profile.safetyMs >= 0 && profile.livenessMs >= 0, 'phase lengths must be >= 0');
  const safetyEndMs = profile.startMs + profile.safetyMs;
  const replicas: ReplicaAddr[] = [];
  const downMax = new Map<number, number>();
  for (const { shard, replicas: n } of layout.shards) {
    const max = profile.downPerShardMax ?? Math.floor((n - 1) / 2);
    assert(max >= 0 && max <= n, `downPerShardMax ${max} does not fit shard ${shard} of ${n}`);
    downMax.set(shard, max);
    for (let r = 0; r < n; r++) replicas.push(replicaAddr(shard, r));
  }
  const pool: Sender[] = profile.partitionClients ? [...replicas, ...layout.clients] : [...replicas];

  const faults: TimedFault[] = [];
  /** Replicas down, with when they come back (Infinity: at the end of the safety phase). */
  const down = new Map<string, { addr: ReplicaAddr; untilMs: number }>();
  let partitionUntilMs = 0;
  let degradeUntilMs = 0;
  let nextCrashMs = profile.startMs + gapMs(rng, profile.crashesPerSecond);
  let nextPartitionMs = profile.startMs + gapMs(rng, profile.partitionsPerSecond);
  let nextDegradeMs = profile.startMs + gapMs(rng, profile.degradesPerSecond);

  for (;;) {
    const t = Math.min(nextCrashMs, nextPartitionMs, nextDegradeMs);
    if (t >= safetyEndMs) break;
    if (t === nextCrashMs) {
      nextCrashMs = t + gapMs(rng, profile.crashesPerSecond);
      for (const [key, d] of down) if (d.untilMs <= t) down.delete(key);
      const downIn = (shard: number): number => [...down.values()].filter((d) => d.addr.shard === shard).length;
      const candidates = replicas.filter(
        (a) => !down.has(addrKey(a)) && downIn(a.shard) < (downMax.get(a.shard) as number),
      );
      if (candidates.length === 0) continue;
      const node = pick(rng, candidates);
      const backMs = t + rng.range(profile.downMs[0], profile.downMs[1]);
      faults.push({ atMs: t, fault: { kind: 'crash', node } });
      if (backMs < safetyEndMs) faults.push({ atMs: backMs, fault: { kind: 'restart', node } });
      down.set(addrKey(node), { addr: node, untilMs: backMs < safetyEndMs ? backMs : Infinity });
    } else if (t === nextPartitionMs) {
      nextPartitionMs = t + gapMs(rng, profile.partitionsPerSecond);
      if (partitionUntilMs > t || replicas.length < 2) continue;
      faults.push({ atMs: t, fault: drawPartition(rng, pool, replicas) });
      const endMs = t + rng.range(profile.partitionMs[0], profile.partitionMs[1]);
      partitionUntilMs = endMs;
      if (endMs < safetyEndMs) faults.push({ atMs: endMs, fault: { kind: 'heal' } });
    } else {
      nextDegradeMs = t + gapMs(rng, profile.degradesPerSecond);
      if (degradeUntilMs > t) continue;
      faults.push({
        atMs: t,
        fault: {
          kind: 'degrade',
          loss: roundProbability(rng.next() * profile.lossMax),
          duplicate: roundProbability(rng.next() * profile.duplicateMax),
          reorder: roundProbability(rng.next() * profile.reorderMax),
        },
      });
      const endMs = t + rng.range(profile.degradeMs[0], profile.degradeMs[1]);
      degradeUntilMs = endMs;
      if (endMs < safetyEndMs) faults.push({ atMs: endMs, fault: { kind: 'restore' } });
    }
  }

  for (const d of down.values()) {
    if (d.untilMs === Infinity) faults.push({ atMs: safetyEndMs, fault: { kind: 'restart', node: d.addr } });
  }
  faults.push({ atMs: safetyEndMs, fault: { kind: 'heal' } });
  faults.push({ atMs: safetyEndMs, fault: { kind: 'restore' } });
  // Stable: faults at the same instant keep the order they were drawn in (a restart drawn
  // earlier precedes a crash drawn later for the same instant).
  faults.sort((a, b) => a.atMs - b.atMs);
  return { faults, safetyEndMs, endMs: safetyEndMs + profile.livenessMs };
}

function drawPartition(rng: Rng, pool: readonly Sender[], replicas: readonly ReplicaAddr[]): Fault {
  switch (rng.int(3)) {
    case 0:
      return { kind: 'isolate', node: pick(rng, pool) };
    case 1: {
      const sides: Sender[][] = [[], []];
      for (const node of pool) sides[rng.int(2)]?.push(node);
      // Both sides need a replica, or the split cuts nothing between replicas.
      for (let s = 0; s < 2; s++) {
        const side = sides[s] as Sender[];
        if (!side.some((n) => n.kind === 'replica')) {
          const other = sides[1 - s] as Sender[];
          const movable = other.filter((n) => n.kind === 'replica');
          const moved = pick(rng, movable);
          other.splice(other.indexOf(moved), 1);
          side.push(moved);
        }
      }
      return { kind: 'split', groups: sides };
    }
    default: {
      const a = pick(rng, pool);
      const b = pick(rng, replicas.filter((r) => addrKey(r) !== addrKey(a)));
      return rng.chance(0.5) ? { kind: 'cut', from: a, to: b } : { kind: 'cut', from: b, to: a };
    }
  }
}

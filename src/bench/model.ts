/**
 * The latency model of PROTOCOLS.md §5, per topology: how long one application request of N
 * operations should take when nothing queues and nothing is processed, counting one-way link
 * delays only. The benchmark plots it next to what it measures.
 *
 * Links come in three classes: client ↔ leader, leader ↔ leader (coordination between shard
 * leaders) and leader ↔ replica (replication inside a shard). A preset gives each class a
 * one-way delay in ms at scale 1; a run multiplies the preset by one factor. `uniform` is 1 ms on
 * every link, so its factor is the one-way delay T in ms itself.
 */
import { assert } from '../protocol/common/assert.js';

export type Protocol = 'paxos' | 'mdl';

/** One-way delays in ms, per link class. */
export interface LinkDelaysMs {
  clientLeader: number;
  leaderLeader: number;
  leaderReplica: number;
}

export type TopologyName = 'uniform' | 'edge' | 'geo';

/**
 * - uniform: every link the same (a LAN, or the paper's T).
 * - edge: clients and replicas far from leaders that sit close together (leaders in one data
 *   centre, replicas and clients at the edge).
 * - geo: each client next to its leader, leaders and their replicas spread over regions.
 */
export const TOPOLOGIES: Readonly<Record<TopologyName, Readonly<LinkDelaysMs>>> = Object.freeze({
  uniform: Object.freeze({ clientLeader: 1, leaderLeader: 1, leaderReplica: 1 }),
  edge: Object.freeze({ clientLeader: 45, leaderLeader: 1, leaderReplica: 45 }),
  geo: Object.freeze({ clientLeader: 1, leaderLeader: 45, leaderReplica: 45 }),
});

export function isTopologyName(name: string): name is TopologyName {
  return Object.hasOwn(TOPOLOGIES, name);
}

/** A preset's (or explicit) link delays multiplied by `scale` (for `uniform`, `scale` is T in ms). */
export function topologyDelaysMs(topology: TopologyName | LinkDelaysMs, scale: number): LinkDelaysMs {
  assert(Number.isFinite(scale) && scale >= 0, `topology scale must be a finite number ≥ 0, got ${scale}`);
  const base = typeof topology === 'string' ? TOPOLOGIES[topology] : topology;
  return {
    clientLeader: base.clientLeader * scale,
    leaderLeader: base.leaderLeader * scale,
    leaderReplica: base.leaderReplica * scale,
  };
}

/**
 * Predicted latency in ms of one request of `fanout` operations.
 *
 * - Multi-Paxos, single-dispatch: the operations go one after another, each a full round
 *   client → leader → replica → leader → client: N × (2·clientLeader + 2·leaderReplica).
 * - MDL: all operations leave at once; the request costs the send, round 1 (made durable), the
 *   chain of N − 1 coordination messages between the leaders of consecutive operations, round 2
 *   (ordered), the reply: 2·clientLeader + 4·leaderReplica + (N − 1)·leaderLeader. A lone
 *   operation has no predecessor and takes the single-round fast path, the same as Multi-Paxos.
 *   With one shard consecutive operations are coordinated inside the leader, so the chain is free.
 *
 * Worked values (checked in test/bench/model.test.ts), N = 16:
 *   uniform T = 10: MP 16 × 40 = 640, MDL 20 + 40 + 15 × 10 = 210 (0.33); N = 32: 370 / 1280 (0.29)
 *   edge:           MP 16 × 180 = 2880, MDL 90 + 180 + 15 × 1 = 285 (0.099)
 *   geo:            MP 16 × 92 = 1472, MDL 2 + 180 + 15 × 45 = 857 (0.58)
 *
 * `topology` is a preset name (then `scale` multiplies it) or explicit delays (`scale` applies too).
 * `shards` defaults to "at least 2": operations of a request on different shards.
 */
export function modelLatencyMs(
  protocol: Protocol,
  fanout: number,
  topology: TopologyName | LinkDelaysMs,
  scale: number,
  shards = 2,
): number {
  assert(Number.isInteger(fanout) && fanout >= 1, `fanout must be an integer ≥ 1, got ${fanout}`);
  assert(Number.isInteger(shards) && shards >= 1, `shards must be an integer ≥ 1, got ${shards}`);
  const d = topologyDelaysMs(topology, scale);
  const round = 2 * d.leaderReplica;
  const oneOperation = 2 * d.clientLeader + round;
  if (protocol === 'paxos') return fanout * oneOperation;
  if (fanout === 1) return oneOperation;
  const hopMs = shards === 1 ? 0 : d.leaderLeader;
  return 2 * d.clientLeader + 2 * round + (fanout - 1) * hopMs;
}

/** The model's MDL / Multi-Paxos latency ratio for one request of `fanout` operations. */
export function modelRatio(fanout: number, topology: TopologyName | LinkDelaysMs, scale: number, shards = 2): number {
  return modelLatencyMs('mdl', fanout, topology, scale, shards) / modelLatencyMs('paxos', fanout, topology, scale, shards);
}

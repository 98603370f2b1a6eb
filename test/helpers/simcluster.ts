/**
 * Clusters in the deterministic simulator (Multi-Paxos or MDL shards, with client sessions), and
 * the checks every scenario makes: replicas never disagree on a chosen slot, the replicas of a
 * shard converge once healed, and the client history satisfies the model.
 */
import assert from 'node:assert/strict';
import type { ReplicaAddr } from '../../src/protocol/common/core.js';
import { replicaAddr } from '../../src/protocol/common/core.js';
import { ClientSession, type SessionMessage } from '../../src/protocol/client/session.js';
import type { MultiPaxosRecord } from '../../src/protocol/multipaxos/messages.js';
import { MultiPaxosReplica, type MultiPaxosConfig, type MultiPaxosWire } from '../../src/protocol/multipaxos/replica.js';
import type { MdlRecord, MdlWire } from '../../src/protocol/mdl/messages.js';
import { MdlReplica, type MdlConfig } from '../../src/protocol/mdl/replica.js';
import { Simulator, type SimConfig } from '../../src/sim/simulator.js';
import { Workload, type OpGeneratorConfig } from '../../src/sim/workload.js';
import type { HistoryOp } from '../../src/protocol/common/history.js';
import { validateHistory } from '../../src/check/history.js';
import { checkHistory } from '../../src/check/checker.js';

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

/** MDL shards in the simulator: the Multi-Paxos timing plus coordination timeouts (1 s to fail). */
export function simMdlConfig(shard: number, shards: number, replica: number, replicas: number, over: Partial<MdlConfig> = {}): MdlConfig {
  const { batchCommandsMax, pendingCommandsMax, replyAtCommit, ...paxos } = simMpConfig(shard, shards, replica, replicas);
  void replyAtCommit;
  return {
    ...paxos,
    batchItemsMax: batchCommandsMax,
    pendingRequestsMax: pendingCommandsMax,
    coordTimeoutTicks: 200,
    crResendTicks: 20,
    predUnknownTimeoutTicks: 100,
    coordWaitingMax: 1024,
    observePhases: false,
    recentTsMax: 4096,
    ...over,
  };
}

type SimMsg = MultiPaxosWire | MdlWire | SessionMessage;
type SimRecord = MultiPaxosRecord | MdlRecord;

export interface SimClusterOptions {
  seed: number;
  protocol?: 'paxos' | 'mdl';
  shards?: number;
  replicas?: number;
  clients?: number;
  /** Client dispatch; default single for paxos, mdl for mdl. */
  mode?: 'single' | 'pipeline' | 'mdl';
  windowMax?: number;
  /** Ticks (5 ms) a client waits before it gives up on an operation (default 600: 3 s). */
  clientTimeoutTicks?: number;
  keys?: number;
  sim?: Partial<SimConfig<SimMsg>>;
  replica?: Partial<MultiPaxosConfig>;
  mdl?: Partial<MdlConfig>;
}

export function simCluster(o: SimClusterOptions) {
  const shards = o.shards ?? 1;
  const replicas = o.replicas ?? 3;
  const protocol = o.protocol ?? 'paxos';
  const sim = new Simulator<SimMsg, SimRecord>({ seed: o.seed, tickMs: SIM_TICK_MS, ...o.sim });
  for (let s = 0; s < shards; s++) {
    sim.addShard(s, replicas, (addr, records, rng) =>
      protocol === 'mdl'
        ? new MdlReplica(simMdlConfig(s, shards, addr.replica, replicas, o.mdl), rng, records as MdlRecord[])
        : new MultiPaxosReplica(simMpConfig(s, shards, addr.replica, replicas, o.replica), rng, records as MultiPaxosRecord[]),
    );
  }
  const ops: OpGeneratorConfig = { keys: o.keys ?? 6, mix: { get: 4, put: 3, append: 2, cas: 1 } };
  const workload = new Workload(
    sim,
    (addr) =>
      new ClientSession({
        client: addr.client,
        shards,
        replicasPerShard: replicas,
        mode: o.mode ?? (protocol === 'mdl' ? 'mdl' : 'single'),
        windowMax: o.windowMax ?? 4,
        retryTicks: 40,
        opTimeoutTicks: o.clientTimeoutTicks ?? 600,
      }),
    o.clients ?? 3,
    ops,
  );
  return { sim, workload, shards, replicas };
}

export type SimCluster = ReturnType<typeof simCluster>;

function replicaCore(sim: SimCluster['sim'], addr: ReplicaAddr): MultiPaxosReplica | MdlReplica | null {
  const core = sim.replica(addr);
  return core instanceof MultiPaxosReplica || core instanceof MdlReplica ? core : null;
}

/** Safety: no two live replicas of a shard hold different chosen values for one slot. */
export function assertLogsAgree(s: SimCluster): void {
  for (let shard = 0; shard < s.shards; shard++) {
    const cores: { engine: { logEnd: number; chosen(slot: number): unknown } }[] = [];
    for (let r = 0; r < s.replicas; r++) {
      const core = replicaCore(s.sim, replicaAddr(shard, r));
      if (core !== null) cores.push(core);
    }
    const end = Math.max(...cores.map((c) => c.engine.logEnd));
    for (let slot = 0; slot < end; slot++) {
      let first: unknown;
      for (const c of cores) {
        const v: unknown = c.engine.chosen(slot);
        if (v === undefined) continue;
        if (first === undefined) first = v;
        else assert.deepEqual(v, first, `seed ${s.sim.seed}: shard ${shard} slot ${slot} chosen differently`);
      }
    }
  }
}

/** Liveness after healing: every shard's replicas reach the same executed state. */
export function assertConverged(s: SimCluster, deadlineMs: number): void {
  for (let shard = 0; shard < s.shards; shard++) {
    const ok = s.sim.runUntil(() => s.sim.converged(shard), deadlineMs);
    assert.ok(ok, `seed ${s.sim.seed}: shard ${shard} did not converge by ${deadlineMs} ms`);
  }
}

/** The client history is well formed and satisfies `model` (the checker must find a witness). */
export function assertHistory(history: readonly HistoryOp[], model: 'linearizable' | 'mdl', seed: number): void {
  const ops = validateHistory(history);
  assert.ok(ops.length > 0, `seed ${seed}: empty history`);
  const result = checkHistory(ops, { model, timeoutMs: 60_000 });
  if (result.verdict === 'violation') {
    assert.fail(`seed ${seed}: the history is not ${model}: ${result.report.summary}\n${result.report.explanation.join("\n")}`);
  }
  assert.equal(result.verdict, 'ok', `seed ${seed}: the ${model} check gave up: ${result.verdict === 'unknown' ? result.reason : ''}`);
}

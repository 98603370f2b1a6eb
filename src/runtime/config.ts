/**
 * Production limits of a replica process, in milliseconds and counts. The cores count time in
 * ticks; `paxosConfig` turns these into tick counts for one `tickMs`. Every field can be
 * overridden in code (tests shorten the timers); `checkRuntimeLimits` rejects combinations that
 * cannot work, at start-up, before anything is opened.
 */
import { assert } from '../protocol/common/assert.js';
import type { PaxosConfig } from '../protocol/common/paxos.js';
import type { MultiPaxosConfig } from '../protocol/multipaxos/replica.js';
import type { MdlConfig } from '../protocol/mdl/replica.js';

export interface RuntimeLimits {
  /** One core tick. */
  readonly tickMs: number;
  /** A leader with nothing else to send tells its followers it is alive this often. */
  readonly heartbeatMs: number;
  /** A follower that hears no leader for this long (plus a random part as long again) runs for election. */
  readonly electionTimeoutMs: number;
  /** Unanswered Accepts, Prepares and fetches are sent again after this long. */
  readonly resendMs: number;
  readonly pipelineSlotsMax: number;
  readonly batchCommandsMax: number;
  readonly pendingCommandsMax: number;
  readonly prepareEntriesMax: number;
  readonly fetchSlotsMax: number;
  readonly logRetainSlots: number;
  readonly sessionResultsPerClientMax: number;
  readonly sessionClientsMax: number;
  /** The write-ahead log is compacted (rewritten from a snapshot) once it grows past this. */
  readonly walCompactBytes: number;
  /** MDL: an operation waiting this long for its predecessor's coordination reply fails. */
  readonly coordTimeoutMs: number;
  /** MDL: a leader asks the predecessor's shard again this often while it waits. */
  readonly coordResendMs: number;
  /** MDL: a coordination request about an operation never seen here fails it after this long. */
  readonly predUnknownTimeoutMs: number;
  /** MDL: coordination requests and early replies kept while they wait. */
  readonly coordWaitingMax: number;
  /** MDL: timestamps of executed operations kept for late coordination requests. */
  readonly recentTsMax: number;
  /** Heartbeats to the master carry the replica's role, ballot and leader this often. */
  readonly masterHeartbeatMs: number;
  /** Registration with the master is retried with a delay doubling from min to max. */
  readonly registerRetryMinMs: number;
  readonly registerRetryMaxMs: number;
}

export const RUNTIME_DEFAULTS: RuntimeLimits = Object.freeze({
  tickMs: 25,
  heartbeatMs: 150,
  electionTimeoutMs: 750,
  resendMs: 50,
  pipelineSlotsMax: 64,
  batchCommandsMax: 1024,
  pendingCommandsMax: 65536,
  prepareEntriesMax: 256,
  fetchSlotsMax: 256,
  logRetainSlots: 4096,
  sessionResultsPerClientMax: 4096,
  sessionClientsMax: 100_000,
  walCompactBytes: 64 * 1024 * 1024,
  coordTimeoutMs: 5000,
  coordResendMs: 200,
  predUnknownTimeoutMs: 1000,
  coordWaitingMax: 65536,
  recentTsMax: 262144,
  masterHeartbeatMs: 400,
  registerRetryMinMs: 100,
  registerRetryMaxMs: 2000,
});

export function checkRuntimeLimits(l: RuntimeLimits): void {
  for (const [name, value] of Object.entries(l)) {
    assert(Number.isSafeInteger(value) && value >= 1, `${name} must be a positive integer (got ${value})`);
  }
  assert(l.heartbeatMs >= l.tickMs && l.resendMs >= l.tickMs, 'heartbeatMs and resendMs must be at least one tick');
  assert(l.electionTimeoutMs > 2 * l.heartbeatMs, 'electionTimeoutMs must exceed two heartbeats');
  assert(l.registerRetryMinMs <= l.registerRetryMaxMs, 'registerRetryMinMs must not exceed registerRetryMaxMs');
  assert(l.walCompactBytes >= 1024 * 1024, 'walCompactBytes must be at least 1 MiB');
  assert(l.coordTimeoutMs > l.coordResendMs && l.coordResendMs >= l.tickMs, 'coordTimeoutMs must exceed coordResendMs, itself at least one tick');
}

/** Who a replica is and what it runs: everything a protocol needs to build its core. */
export interface ReplicaParams {
  readonly shard: number;
  readonly replica: number;
  readonly shards: number;
  readonly replicas: number;
  readonly thrifty: boolean;
  readonly replyAtCommit: boolean;
  /** MDL: time each operation's phases (served to `phasesRequest`). */
  readonly observePhases: boolean;
  readonly limits: RuntimeLimits;
}

function ticks(ms: number, tickMs: number): number {
  return Math.max(1, Math.round(ms / tickMs));
}

export function paxosConfig(p: ReplicaParams): PaxosConfig {
  const l = p.limits;
  return {
    shard: p.shard,
    replica: p.replica,
    replicas: p.replicas,
    thrifty: p.thrifty,
    pipelineSlotsMax: l.pipelineSlotsMax,
    heartbeatTicks: ticks(l.heartbeatMs, l.tickMs),
    electionTimeoutTicks: ticks(l.electionTimeoutMs, l.tickMs),
    resendTicks: ticks(l.resendMs, l.tickMs),
    prepareEntriesMax: l.prepareEntriesMax,
    fetchSlotsMax: l.fetchSlotsMax,
    logRetainSlots: l.logRetainSlots,
  };
}

export function multiPaxosConfig(p: ReplicaParams): MultiPaxosConfig {
  const l = p.limits;
  return {
    ...paxosConfig(p),
    shards: p.shards,
    batchCommandsMax: l.batchCommandsMax,
    pendingCommandsMax: l.pendingCommandsMax,
    replyAtCommit: p.replyAtCommit,
    sessionResultsPerClientMax: l.sessionResultsPerClientMax,
    sessionClientsMax: l.sessionClientsMax,
  };
}

export function mdlConfig(p: ReplicaParams): MdlConfig {
  const l = p.limits;
  return {
    ...paxosConfig(p),
    shards: p.shards,
    batchItemsMax: l.batchCommandsMax,
    pendingRequestsMax: l.pendingCommandsMax,
    coordTimeoutTicks: ticks(l.coordTimeoutMs, l.tickMs),
    crResendTicks: ticks(l.coordResendMs, l.tickMs),
    predUnknownTimeoutTicks: ticks(l.predUnknownTimeoutMs, l.tickMs),
    coordWaitingMax: l.coordWaitingMax,
    recentTsMax: l.recentTsMax,
    observePhases: p.observePhases,
    sessionResultsPerClientMax: l.sessionResultsPerClientMax,
    sessionClientsMax: l.sessionClientsMax,
  };
}

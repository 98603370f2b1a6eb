/**
 * The torture harness's liveness checks, run once every fault is healed: every shard recovers
 * (the master names a leader and the shard serves an operation), and, once the workload has
 * stopped, the replicas of each shard converge (they report the same number of executed commands
 * and the same hash of the executed state).
 */
import path from 'node:path';
import { connect } from '../client/client.js';
import { OperationFailedError, OutcomeUnknownError } from '../client/errors.js';
import type { MasterClient } from '../client/master.js';
import { replicaAddr } from '../protocol/common/core.js';
import { shardOf } from '../protocol/common/shardmap.js';
import type { ShardMap } from '../protocol/master/messages.js';
import { adminExchange, type Digest } from './admin.js';

/** How often the checks ask again. */
const POLL_MS = 200;
const PROBE_TIMEOUT_MS = 2000;
const MAP_TIMEOUT_MS = 1000;
const DIGEST_TIMEOUT_MS = 2000;

/** The first key `probe-<shard>-<i>` that lives on `shard`. */
function probeKey(shard: number, shards: number): string {
  for (let i = 0; ; i++) {
    const key = `probe-${shard}-${i}`;
    if (shardOf(key, shards) === shard) return key;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function mapOrNull(master: MasterClient): Promise<ShardMap | null> {
  try {
    return await master.fetch(MAP_TIMEOUT_MS);
  } catch {
    return null;
  }
}

export interface RecoveryOptions {
  readonly master: MasterClient;
  readonly cluster: string;
  readonly shards: number;
  /** Probe sessions record their operations here (they belong in the history like any others). */
  readonly historyDir: string;
  readonly deadlineMs: number;
}

/** Resolves with null once every shard has a leader and has served a get, else with what is missing at the deadline. */
export async function waitForRecovery(opts: RecoveryOptions): Promise<string | null> {
  let map = await mapOrNull(opts.master);
  while (map === null || map.leaders.some((l) => l.leader < 0)) {
    if (performance.now() > opts.deadlineMs) {
      const leaderless = map?.leaders.filter((l) => l.leader < 0).map((l) => l.shard) ?? [];
      return map === null ? 'the master does not answer' : `no leader in shard ${leaderless.join(', ')}`;
    }
    await sleep(POLL_MS);
    map = await mapOrNull(opts.master);
  }
  // A fresh session per attempt: an MDL session would make each attempt wait for the last one
  // whose outcome it does not know.
  for (let shard = 0, attempt = 0; shard < opts.shards; attempt++) {
    const clientId = `probe-${attempt}`;
    const probe = await connect({
      master: opts.master.address,
      cluster: opts.cluster,
      clientId,
      timeoutMs: PROBE_TIMEOUT_MS,
      history: path.join(opts.historyDir, `${clientId}.jsonl`),
      log: () => undefined,
    });
    try {
      for (; shard < opts.shards; shard++) await probe.get(probeKey(shard, opts.shards));
    } catch (err) {
      if (!(err instanceof OperationFailedError || err instanceof OutcomeUnknownError)) throw err;
      if (performance.now() > opts.deadlineMs) return `shard ${shard} serves no operation (${err.message})`;
      await sleep(POLL_MS);
    } finally {
      await probe.close();
    }
  }
  return null;
}

export interface ConvergenceOptions {
  readonly master: MasterClient;
  readonly cluster: string;
  readonly shards: number;
  readonly replicas: number;
  readonly deadlineMs: number;
}

/** What each replica of a shard reported, for the message when they disagree. */
function describeDigests(shard: number, digests: readonly (Digest | Error)[]): string {
  const parts = digests.map((d, r) =>
    d instanceof Error ? `r${shard}.${r} ${d.message}` : `r${shard}.${r} executed=${d.executed} keys=${d.keys} hash=${d.hash.slice(0, 12)}`,
  );
  return `shard ${shard}: ${parts.join('; ')}`;
}

/**
 * Asks every replica for its digest until all replicas of each shard agree; resolves with null
 * when they do, else with what the last round saw in the shards that still disagree.
 */
export async function waitForConvergence(opts: ConvergenceOptions): Promise<string | null> {
  const pending = new Set(Array.from({ length: opts.shards }, (_, s) => s));
  const last = new Map<number, string>();
  for (;;) {
    const map = await mapOrNull(opts.master);
    for (const shard of [...pending]) {
      const digests = await Promise.all(
        Array.from({ length: opts.replicas }, async (_, r): Promise<Digest | Error> => {
          const address = map?.replicas.find((x) => x.shard === shard && x.replica === r)?.address;
          if (address === undefined) return new Error('has no address in the map');
          return adminExchange(opts.cluster, replicaAddr(shard, r), address, [], DIGEST_TIMEOUT_MS).catch((err: unknown) => err as Error);
        }),
      );
      const first = digests[0];
      const agree = digests.every((d) => !(d instanceof Error) && !(first instanceof Error) && d.executed === first?.executed && d.hash === first.hash);
      if (agree) pending.delete(shard);
      else last.set(shard, describeDigests(shard, digests));
    }
    if (pending.size === 0) return null;
    if (performance.now() > opts.deadlineMs) return [...pending].map((s) => last.get(s)).join('\n');
    await sleep(POLL_MS);
  }
}

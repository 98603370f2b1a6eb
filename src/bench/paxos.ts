/**
 * `npm run bench -- paxos`: writes against a local 3-replica Multi-Paxos shard, with fsync on and
 * off, in two settings:
 * - closed loop: one single-dispatch client, each put waiting for the previous one (latency);
 * - pipelined: many clients, each keeping a large window of puts in flight, so the leader
 *   batches many commands per slot (throughput; close to the reference's open-loop client).
 * Prints throughput and p50/p99 latency per setting. With `profileDir`, every process of the
 * cluster runs under `node --cpu-prof` and the leader's profile is summarised.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { connect, type KvClient } from '../client/client.js';
import { fetchMap } from '../client/master.js';
import { SeededRng } from '../protocol/common/rng.js';
import { classTopology } from './delays.js';
import { formatProfile, summarizeProfile } from './profile.js';
import type { ClusterLauncher } from './run.js';
import { LatencyRecorder } from './stats.js';

export interface PaxosBenchOptions {
  readonly durationS: number;
  readonly warmupS: number;
  /** The pipelined setting: this many clients … */
  readonly clients: number;
  /** … each with this many puts in flight. */
  readonly window: number;
  readonly fsync: readonly boolean[];
  readonly keys: number;
  readonly valueBytes: number;
  /** Write CPU profiles of the replicas here and summarise the leader's. */
  readonly profileDir?: string;
}

export interface PaxosBenchRow {
  readonly fsync: boolean;
  readonly setting: string;
  readonly inFlight: number;
  readonly ops: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * Drives `lanes` concurrent put loops on `kv` until `stopMs`; counts and times those inside the
 * window. `keys` are made once, so the loops measure the store rather than string formatting.
 */
async function putLoops(kv: KvClient, lanes: number, keys: readonly string[], opts: PaxosBenchOptions, seed: number, window: { startMs: number; endMs: number; stopMs: number }, latency: LatencyRecorder): Promise<void> {
  const rng = new SeededRng(seed);
  const value = 'v'.repeat(opts.valueBytes);
  const lane = async (): Promise<void> => {
    while (performance.now() < window.stopMs) {
      const startMs = performance.now();
      await kv.put(keys[rng.int(keys.length)] as string, value);
      const endMs = performance.now();
      if (startMs >= window.startMs && endMs <= window.endMs) latency.record(endMs - startMs);
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}

async function runSetting(master: string, cluster: string, opts: PaxosBenchOptions, clients: number, window: number): Promise<{ ops: number; latency: LatencyRecorder }> {
  const kvs = await Promise.all(
    Array.from({ length: clients }, () => connect({ master, cluster, ...(window > 1 ? { pipeline: window } : {}) })),
  );
  const startMs = performance.now() + opts.warmupS * 1000;
  const span = { startMs, endMs: startMs + opts.durationS * 1000, stopMs: startMs + opts.durationS * 1000 };
  const latency = new LatencyRecorder();
  const keys = Array.from({ length: opts.keys }, (_, i) => `k${i}`);
  try {
    await Promise.all(kvs.map((kv, i) => putLoops(kv, window, keys, opts, i + 1, span, latency)));
  } finally {
    await Promise.all(kvs.map((kv) => kv.close()));
  }
  return { ops: latency.count, latency };
}

/** The profile file node wrote for `pid` in `dir` (`CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile`). */
function profileOf(dir: string, pid: number): string | null {
  const name = readdirSync(dir).find((f) => f.endsWith('.cpuprofile') && f.split('.')[3] === String(pid));
  return name === undefined ? null : path.join(dir, name);
}

export async function benchPaxos(opts: PaxosBenchOptions, launch: ClusterLauncher, say: (line: string) => void): Promise<PaxosBenchRow[]> {
  const rows: PaxosBenchRow[] = [];
  for (const fsync of opts.fsync) {
    const profileDir = opts.profileDir === undefined ? undefined : path.resolve(opts.profileDir, fsync ? 'fsync-on' : 'fsync-off');
    say(`fsync ${fsync ? 'on' : 'off'}: starting a 3-replica Multi-Paxos shard`);
    const running = await launch({
      protocol: 'paxos',
      shards: 1,
      replicas: 3,
      fsync,
      setting: { name: 'uniform', delayMs: 0, topology: classTopology({ clientLeader: 0, leaderLeader: 0, leaderReplica: 0 }) },
      phases: false,
      ...(profileDir === undefined ? {} : { profileDir }),
    });
    let leaderPid: number | undefined;
    try {
      const settings = [
        { setting: 'closed loop, 1 client', clients: 1, window: 1 },
        { setting: `pipelined, ${opts.clients} clients × ${opts.window}`, clients: opts.clients, window: opts.window },
      ];
      for (const s of settings) {
        say(`fsync ${fsync ? 'on' : 'off'}: ${s.setting} for ${opts.warmupS + opts.durationS} s`);
        const { ops, latency } = await runSetting(running.master, running.cluster, opts, s.clients, s.window);
        rows.push({ fsync, setting: s.setting, inFlight: s.clients * s.window, ops, opsPerSec: ops / opts.durationS, p50Ms: latency.percentile(50), p99Ms: latency.percentile(99) });
      }
      const map = await fetchMap(running.master, running.cluster, 2000, () => undefined);
      const leader = map.leaders[0]?.leader ?? -1;
      leaderPid = map.replicas.find((r) => r.shard === 0 && r.replica === leader)?.pid;
    } finally {
      await running.stop();
    }
    if (profileDir !== undefined && leaderPid !== undefined) {
      const file = profileOf(profileDir, leaderPid);
      say(file === null ? `no profile of the leader (pid ${leaderPid}) in ${profileDir}` : `the leader's profile (fsync ${fsync ? 'on' : 'off'}, both settings): ${file}\n${formatProfile(summarizeProfile(file))}`);
    }
  }
  return rows;
}

export function formatPaxosRows(rows: readonly PaxosBenchRow[]): string {
  const header = ['fsync', 'setting', 'in flight', 'ops', 'ops/s', 'p50 ms', 'p99 ms'];
  const cells = rows.map((r) => [r.fsync ? 'on' : 'off', r.setting, String(r.inFlight), String(r.ops), r.opsPerSec.toFixed(0), r.p50Ms.toFixed(2), r.p99Ms.toFixed(2)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: readonly string[]): string => c.map((x, i) => (i <= 1 ? x.padEnd(widths[i] as number) : x.padStart(widths[i] as number))).join('  ');
  return [line(header), ...cells.map(line)].join('\n');
}

/**
 * The benchmark matrix (`mdlin bench`): protocol × shards × fanout × topology × clients, each
 * cell a closed-loop workload (workload.ts) against a real local cluster, its latency measured
 * at the clients over a window that leaves out warm-up and cool-down, and its history checked
 * (linearizability for Multi-Paxos, MDL for MDL).
 *
 * One cluster serves every cell of one (topology, shards, protocol), and only one runs at a time:
 * an idle cluster is not free (its replicas tick and heartbeat), so a second one kept warm would
 * weigh on the first's numbers. Every cell has fresh clients, its own history file and its own
 * key prefix (so no cell reads what an earlier one wrote, which its history would not explain).
 * Clusters are started through an injected launcher, so this module does not depend on how
 * processes are spawned (the `mdlin` command passes its LocalCluster).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkHistory } from '../check/checker.js';
import { parseHistory } from '../check/history.js';
import { connect, RETRY_MS, TIMEOUT_MS_DEFAULT, type KvClient } from '../client/client.js';
import { fetchMap } from '../client/master.js';
import { CLIENT_WIRE, type ClientWireMessage } from '../client/wire.js';
import { clientAddr, replicaAddr } from '../protocol/common/core.js';
import { SeededRng } from '../protocol/common/rng.js';
import { ClientConnection } from '../transport/client.js';
import type { Logger } from '../transport/transport.js';
import { delayFrom, maxDelaysMs, type Topology } from './delays.js';
import { modelLatencyMs, type Protocol } from './model.js';
import type { Progress } from './progress.js';
import type { BenchResult } from './report.js';
import { CellStats, RequestGenerator, runClient, type OpMix } from './workload.js';

/** A topology as a run names it in results.json. */
export interface TopologySetting {
  readonly name: BenchResult['topology'];
  /** A preset's scale (for `uniform`, the one-way delay T in ms); 1 for a file. */
  readonly delayMs: number;
  readonly topology: Topology;
  /** The file a `custom` topology was read from (the replicas read it too). */
  readonly file?: string;
}

/** What the launcher must start. */
export interface ClusterSpec {
  readonly protocol: Protocol;
  readonly shards: number;
  readonly replicas: number;
  readonly fsync: boolean;
  readonly setting: TopologySetting;
  /** MDL: replicas time each operation's phases and answer `phasesRequest`. */
  readonly phases: boolean;
  /** Every process writes a V8 CPU profile here at exit. */
  readonly profileDir?: string;
}

export interface BenchCluster {
  /** The master's `host:port`. */
  readonly master: string;
  readonly cluster: string;
  stop(): Promise<void>;
}

export type ClusterLauncher = (spec: ClusterSpec) => Promise<BenchCluster>;

export interface MatrixOptions {
  readonly protocols: readonly Protocol[];
  readonly shards: readonly number[];
  readonly fanouts: readonly number[];
  readonly clients: readonly number[];
  readonly settings: readonly TopologySetting[];
  readonly replicas: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly cooldownS: number;
  readonly keys: number;
  readonly zipf: number;
  readonly mix: OpMix;
  readonly valueBytes: number;
  readonly fsync: boolean;
  /** Check every cell's history (false: `check` is `skipped`). */
  readonly check: boolean;
  readonly checkTimeoutS: number;
  /** Ask MDL leaders for per-phase medians. */
  readonly phases: boolean;
  readonly seed: number;
  /** Histories go to `<out>/histories/`. */
  readonly out: string;
}

/** A cell's result: the results.json contract plus where its history is and what the checker said. */
export interface CellResult extends BenchResult {
  /** The history file, relative to the output directory. */
  history: string;
  /** Why the check is not `ok`: the violation's summary or the reason it is unknown. */
  check_detail?: string;
}

/** How many cells `opts` makes. */
export function cellCount(opts: MatrixOptions): number {
  return opts.settings.length * opts.shards.length * opts.protocols.length * opts.fanouts.length * opts.clients.length;
}

/**
 * Runs every cell; `onResult` hears of each as it finishes (the caller rewrites the report, so an
 * interrupted run leaves what it measured).
 */
export async function runMatrix(
  opts: MatrixOptions,
  launch: ClusterLauncher,
  progress: Progress,
  onResult: (results: readonly CellResult[]) => void,
): Promise<CellResult[]> {
  mkdirSync(path.join(opts.out, 'histories'), { recursive: true });
  const results: CellResult[] = [];
  for (const setting of opts.settings) {
    for (const shards of opts.shards) {
      for (const protocol of opts.protocols) {
        const spec: ClusterSpec = { protocol, shards, replicas: opts.replicas, fsync: opts.fsync, setting, phases: opts.phases && protocol === 'mdl' };
        progress.start(`${describeCluster(spec)}: starting the cluster`);
        const cluster = await launch(spec);
        try {
          for (const fanout of opts.fanouts) {
            for (const clients of opts.clients) {
              const cell = { spec, fanout, clients, index: results.length };
              progress.start(describeCell(cell));
              results.push(await runCell(cluster, cell, opts, progress));
              progress.finish();
              onResult(results);
            }
          }
        } finally {
          await cluster.stop();
        }
      }
    }
  }
  return results;
}

interface Cell {
  readonly spec: ClusterSpec;
  readonly fanout: number;
  readonly clients: number;
  /** Its position in the run: names its keys, values and seeds. */
  readonly index: number;
}

function settingLabel(s: TopologySetting): string {
  return s.name === 'uniform' ? `uniform ${s.delayMs}ms` : s.name === 'custom' ? `custom (${s.file ?? '?'})` : `${s.name} ×${s.delayMs}`;
}

function describeCluster(spec: ClusterSpec): string {
  return `${spec.protocol} ${spec.shards}×${spec.replicas} ${settingLabel(spec.setting)}`;
}

function describeCell(cell: Cell): string {
  return `${describeCluster(cell.spec)} fanout ${cell.fanout} clients ${cell.clients}`;
}

function historyName(cell: Cell): string {
  const s = cell.spec;
  return `${String(cell.index).padStart(3, '0')}-${s.protocol}-${s.setting.name}${s.setting.delayMs}-s${s.shards}-n${cell.fanout}-c${cell.clients}.jsonl`;
}

/** The model's latency for one request of the cell; null for topologies with per-pair rules. */
function modelMs(cell: Cell): number | null {
  const t = cell.spec.setting.topology;
  return t.rules.length > 0 ? null : modelLatencyMs(cell.spec.protocol, cell.fanout, t.classes, 1, cell.spec.shards);
}

/** A client asks again only after this many times the slowest answer the delays allow. */
const RETRY_SLOWEST_FACTOR = 5;

/**
 * How long a client waits for an answer before asking again: the slowest answer the delays
 * allow (an MDL request's last operation waits for the whole chain), with room for queueing
 * (nothing fails in a benchmark; a retry would only send a healthy leader's clients elsewhere).
 */
function retryMsFor(cell: Cell): number {
  const { protocol, setting, shards } = cell.spec;
  const slowest = modelLatencyMs(protocol, protocol === 'mdl' ? cell.fanout : 1, maxDelaysMs(setting.topology), 1, shards);
  return Math.max(RETRY_MS, Math.ceil(RETRY_SLOWEST_FACTOR * slowest));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

async function runCell(cluster: BenchCluster, cell: Cell, opts: MatrixOptions, progress: Progress): Promise<CellResult> {
  const { spec } = cell;
  const history = path.join('histories', historyName(cell));
  const historyFile = path.join(opts.out, history);
  rmSync(historyFile, { force: true });
  const retryMs = retryMsFor(cell);
  const log: Logger = (line) => progress.log(`  client: ${line}`);
  const run = randomBytes(3).toString('hex');
  const kvs: KvClient[] = await Promise.all(
    Array.from({ length: cell.clients }, (_, i) => {
      const clientId = `b${cell.index}c${i}-${run}`;
      const delay = delayFrom(spec.setting.topology, clientAddr(clientId));
      return connect({
        master: cluster.master,
        cluster: cluster.cluster,
        clientId,
        history: historyFile,
        retryMs,
        timeoutMs: Math.max(TIMEOUT_MS_DEFAULT, 10 * retryMs),
        linkDelayMs: (replica) => delay(replica),
        log,
      });
    }),
  );
  const startMs = performance.now();
  const windowStartMs = startMs + opts.warmupS * 1000;
  const windowEndMs = windowStartMs + opts.durationS * 1000;
  const stopMs = windowEndMs + opts.cooldownS * 1000;
  const stats = new CellStats(windowStartMs, windowEndMs);
  const ticker = setInterval(() => progress.update(`${stats.completed} requests`), 250);
  const phases = spec.phases ? measurePhases(cluster, windowStartMs, windowEndMs) : Promise.resolve(null);
  try {
    await Promise.all(
      kvs.map((kv, i) => {
        const gen = new RequestGenerator(
          { fanout: cell.fanout, shards: spec.shards, keys: opts.keys, zipf: opts.zipf, mix: opts.mix, valueBytes: opts.valueBytes, keyPrefix: `b${cell.index}-${run}/` },
          new SeededRng(opts.seed * 7919 + cell.index * 131 + i),
          `${cell.index}.${i}`,
        );
        return runClient(kv, spec.protocol, gen, stats, stopMs);
      }),
    );
  } finally {
    clearInterval(ticker);
    await Promise.all(kvs.map((kv) => kv.close()));
  }
  const phasesMs = await phases;
  const result: CellResult = {
    protocol: spec.protocol,
    shards: spec.shards,
    replicas: spec.replicas,
    fanout: cell.fanout,
    clients: cell.clients,
    topology: spec.setting.name,
    delay_ms: spec.setting.delayMs,
    duration_s: opts.durationS,
    requests: stats.requests,
    operations: stats.operations,
    throughput_rps: stats.requests / opts.durationS,
    latency_ms: stats.latency.summary(),
    check: 'skipped',
    errors: { fail: stats.failed, unknown: stats.unknown },
    phases_ms: phasesMs,
    model_ms: modelMs(cell),
    history,
  };
  if (opts.check) {
    progress.update(`checking ${stats.completed} requests`);
    Object.assign(result, checkCell(historyFile, spec.protocol, opts.checkTimeoutS, progress));
  }
  return result;
}

/** The checker's verdict on a cell's history; a violation's explanation is written next to it. */
function checkCell(file: string, protocol: Protocol, timeoutS: number, progress: Progress): Pick<CellResult, 'check' | 'check_detail'> {
  const ops = parseHistory(readFileSync(file, 'utf8'));
  const model = protocol === 'mdl' ? 'mdl' : 'linearizable';
  const verdict = checkHistory(ops, { model, timeoutMs: timeoutS * 1000 });
  switch (verdict.verdict) {
    case 'ok':
      return { check: 'ok' };
    case 'unknown':
      progress.log(`  check of ${path.basename(file)}: unknown (${verdict.reason})`);
      return { check: 'unknown', check_detail: verdict.reason };
    case 'violation': {
      const report = `${verdict.report.summary}\n\n${verdict.report.explanation.join('\n')}\n`;
      writeFileSync(file.replace(/\.jsonl$/, '.violation.txt'), report);
      progress.log(`  VIOLATION of ${model} in ${path.basename(file)}: ${verdict.report.summary}`);
      return { check: 'violation', check_detail: verdict.report.summary };
    }
  }
}

type PhasesMs = NonNullable<BenchResult['phases_ms']>;
type PhasesReply = Extract<ClientWireMessage, { type: 'phases' }>;

const PHASES_TIMEOUT_MS = 2000;

/**
 * Resets every shard leader's phase timer when the window opens and reads its medians when it
 * closes; combines the shards' medians weighted by their operation counts. Null when the
 * leaders could not be asked or timed nothing.
 */
async function measurePhases(cluster: BenchCluster, windowStartMs: number, windowEndMs: number): Promise<PhasesMs | null> {
  await sleep(windowStartMs - performance.now());
  await askLeaders(cluster, true);
  await sleep(windowEndMs - performance.now());
  const replies = await askLeaders(cluster, false);
  const count = replies.reduce((sum, r) => sum + r.count, 0);
  if (count === 0) return null;
  const mean = (field: keyof PhasesMs): number => replies.reduce((sum, r) => sum + r[field] * r.count, 0) / count;
  return { pending: mean('pending'), committed: mean('committed'), coordinated: mean('coordinated'), ordered: mean('ordered') };
}

/** Sends `phasesRequest` to each shard's leader; the answers that came within the timeout. */
async function askLeaders(cluster: BenchCluster, reset: boolean): Promise<PhasesReply[]> {
  const quiet: Logger = () => undefined;
  let map;
  try {
    map = await fetchMap(cluster.master, cluster.cluster, PHASES_TIMEOUT_MS, quiet);
  } catch {
    return [];
  }
  const asks = map.leaders.map(async ({ shard, leader }): Promise<PhasesReply | null> => {
    const address = map.replicas.find((r) => r.shard === shard && r.replica === leader)?.address;
    if (leader < 0 || address === undefined) return null;
    let answer!: (reply: PhasesReply | null) => void;
    const answered = new Promise<PhasesReply | null>((resolve) => (answer = resolve));
    const conn = new ClientConnection({
      client: `bench-phases-${process.pid}`,
      cluster: cluster.cluster,
      table: CLIENT_WIRE,
      server: replicaAddr(shard, leader),
      address,
      log: quiet,
      onMessage: (msg) => {
        if (msg.type === 'phases') answer(msg);
      },
      onClose: () => answer(null),
    });
    const timer = setTimeout(() => answer(null), PHASES_TIMEOUT_MS);
    conn.send({ type: 'phasesRequest', reset });
    const reply = await answered;
    clearTimeout(timer);
    await conn.close();
    return reply;
  });
  return (await Promise.all(asks)).filter((r): r is PhasesReply => r !== null);
}

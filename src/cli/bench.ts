/**
 * `mdlin bench` (also `npm run bench -- matrix`): runs the benchmark matrix against local
 * clusters it starts and stops itself, with a progress bar on stderr, then writes
 * `<out>/results.json` and the report (`report.md` with SVG charts), prints the comparison table
 * and where the report is. `mdlin demo` (`npm start`) runs a fixed, one-minute matrix through
 * `runBench` too. Exit status 1 when a history violated its consistency model.
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { formatMix, MIX_DEFAULT, parseMix, FANOUT_MAX, type OpMix } from '../bench/workload.js';
import { formatTable, writeReport, type BenchResult, type ReportMeta } from '../bench/report.js';
import { Progress } from '../bench/progress.js';
import { cellCount, runMatrix, type BenchCluster, type CellResult, type ClusterLauncher, type MatrixOptions, type TopologySetting } from '../bench/run.js';
import type { Protocol } from '../bench/model.js';
import { LocalCluster } from './cluster.js';
import { delayMs, replicaDelayFlags, topologyArg, topologyOf, type TopologyArg } from './delays.js';
import { integer } from './parse.js';
import { EXIT_FAILURE, operatorError, writeOut } from './util.js';

/** `--delay-ms` when not given: the issue's canonical settings (uniform T = 10 ms, presets at scale 1). */
const UNIFORM_DELAY_MS_DEFAULT = 10;
const PRESET_SCALE_DEFAULT = 1;
const CLUSTER_ID = 'mdlin-bench';
/** Stopped by a signal (the shell's convention for SIGINT). */
const EXIT_SIGNALLED = 130;

/**
 * Starts LocalClusters for the benchmarks: replicas get the topology's delay flags, and --phases
 * for MDL phase timing. Keeps every cluster it started until it is stopped, so that a signal or
 * a cluster that keeps dying stops them all (their processes are detached: nobody else would).
 */
export class LocalLauncher {
  private readonly live = new Set<LocalCluster>();
  private stopping = false;

  constructor(
    private readonly out: string,
    private readonly verbose: boolean,
    private readonly say: (line: string) => void,
  ) {}

  readonly launch: ClusterLauncher = async (spec) => {
    const arg: TopologyArg = spec.setting.file !== undefined ? { file: spec.setting.file, topology: spec.setting.topology } : { preset: presetName(spec.setting) };
    const logDir = path.join(this.out, 'logs', `${spec.protocol}-s${spec.shards}-${spec.setting.name}${spec.setting.delayMs}`);
    mkdirSync(logDir, { recursive: true });
    const cluster = new LocalCluster({
      shards: spec.shards,
      replicas: spec.replicas,
      protocol: spec.protocol,
      cluster: CLUSTER_ID,
      masterPort: 0,
      fsync: spec.fsync,
      replicaFlags: [...replicaDelayFlags(arg, spec.setting.delayMs), ...(spec.phases ? ['--phases'] : [])],
      log: { info: (line) => this.say(`  cluster: ${line}`), debug: () => undefined },
      ...(this.verbose ? {} : { logDir }),
      ...(spec.profileDir === undefined ? {} : { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${spec.profileDir}`] }),
      onGiveUp: (reason) => void this.abort(`a benchmark cluster failed: ${reason} (logs in ${logDir})`),
    });
    this.live.add(cluster);
    try {
      await cluster.start();
    } catch (err) {
      this.live.delete(cluster);
      throw new Error(`cannot start a ${spec.protocol} cluster of ${spec.shards} shards: ${(err as Error).message} (logs in ${logDir})`);
    }
    const running: BenchCluster = {
      master: cluster.masterAddress,
      cluster: CLUSTER_ID,
      stop: async () => {
        this.live.delete(cluster);
        await cluster.stop();
      },
    };
    return running;
  };

  /** Stops every cluster still running, then exits with `message`. */
  async abort(message: string, code = EXIT_FAILURE): Promise<never> {
    if (!this.stopping) {
      this.stopping = true;
      await Promise.all([...this.live].map((c) => c.stop()));
    }
    return operatorError(message, code);
  }

  /** Until `work` settles, SIGINT and SIGTERM stop every cluster and exit. */
  async guard<T>(work: Promise<T>): Promise<T> {
    const onSignal = (signal: NodeJS.Signals): void => void this.abort(`${signal}: stopped`, EXIT_SIGNALLED);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      return await work;
    } catch (err) {
      return await this.abort((err as Error).message);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}

function presetName(s: TopologySetting): 'uniform' | 'edge' | 'geo' {
  if (s.name === 'custom') throw new Error('a custom topology comes from a file');
  return s.name;
}

function machine(command: string, opts: MatrixOptions): ReportMeta {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpuModel: os.cpus()[0]?.model ?? 'unknown CPU',
    cpuCount: os.cpus().length,
    platform: `${os.platform()} ${os.release()}`,
    memoryBytes: os.totalmem(),
    command,
    settings: {
      duration_s: opts.durationS,
      warmup_s: opts.warmupS,
      cooldown_s: opts.cooldownS,
      keys: opts.keys,
      zipf: opts.zipf,
      mix: formatMix(opts.mix),
      value_bytes: opts.valueBytes,
      fsync: opts.fsync,
      seed: opts.seed,
    },
  };
}

/** The MDL per-phase medians, one line per cell that has them. */
function formatPhases(results: readonly BenchResult[]): string {
  const rows = results.filter((r) => r.protocol === 'mdl' && r.phases_ms !== undefined && r.phases_ms !== null);
  if (rows.length === 0) return '';
  const header = ['topology', 'shards', 'fanout', 'clients', 'pending', 'committed', 'coordinated', 'ordered', 'p50'];
  const fmt = (v: number): string => v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2);
  const lines = rows.map((r) => {
    const p = r.phases_ms as NonNullable<BenchResult['phases_ms']>;
    return [`${r.topology} ${r.delay_ms}`, String(r.shards), String(r.fanout), String(r.clients), fmt(p.pending), fmt(p.committed), fmt(p.coordinated), fmt(p.ordered), fmt(r.latency_ms.p50)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  return ['MDL phases at the shard leaders (median ms per operation; p50 is the request latency):', line(header), ...lines.map(line)].join('\n');
}

/**
 * Runs the matrix, rewriting the report after every cell, then prints the table and where the
 * report is. Resolves with the results; exits non-zero itself on operator errors.
 */
export async function runBench(opts: MatrixOptions, command: string, verbose: boolean): Promise<CellResult[]> {
  mkdirSync(opts.out, { recursive: true });
  const cellS = opts.warmupS + opts.durationS + opts.cooldownS;
  const progress = new Progress(cellCount(opts), cellS + 1);
  const meta = machine(command, opts);
  let results: CellResult[];
  try {
    const launcher = new LocalLauncher(opts.out, verbose, (line) => progress.log(line));
    results = await launcher.guard(runMatrix(opts, launcher.launch, progress, (partial) => writeReport(opts.out, partial, meta)));
  } finally {
    progress.close();
  }
  writeReport(opts.out, results, meta);
  const phases = formatPhases(results);
  const report = path.join(opts.out, 'report.md');
  await writeOut(`${formatTable(results)}\n${phases === '' ? '' : `\n${phases}\n`}\nreport: ${report}\nresults: ${path.join(opts.out, 'results.json')}\n`);
  return results;
}

// ---------------------------------------------------------------- flags

/** A comma-separated list of what `item` parses. */
function list<T>(item: (text: string) => T): (text: string) => T[] {
  return (text) => {
    const parts = text.split(',').map((p) => p.trim());
    if (parts.some((p) => p === '')) throw new InvalidArgumentError('expected a comma-separated list');
    return parts.map(item);
  };
}

/** A list flag whose default is given (and shown in --help) as text. */
function listOption<T>(flags: string, description: string, item: (text: string) => T, defaultText: string): Option {
  const parse = list(item);
  return new Option(flags, description).argParser(parse).default(parse(defaultText), defaultText);
}

function benchProtocol(text: string): Protocol {
  if (text !== 'paxos' && text !== 'mdl') throw new InvalidArgumentError('expected paxos or mdl');
  return text;
}

/** Seconds, 0..86400 (fractions allowed). */
export function seconds(text: string): number {
  const value = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : NaN;
  if (!(value >= 0 && value <= 86_400)) throw new InvalidArgumentError('expected seconds, 0..86400');
  return value;
}

function skew(text: string): number {
  const value = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : NaN;
  if (!(value >= 0 && value <= 10)) throw new InvalidArgumentError('expected a Zipf skew from 0 (uniform) to 10');
  return value;
}

function mix(text: string): OpMix {
  try {
    return parseMix(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

interface BenchFlags {
  protocols: Protocol[];
  shards: number[];
  fanouts: number[];
  clients: number[];
  topology: TopologyArg[];
  delayMs?: number;
  duration: number;
  warmup: number;
  cooldown: number;
  keys: number;
  zipf: number;
  mix: OpMix;
  valueSize: number;
  replicas: number;
  fsync: boolean;
  check: boolean;
  checkTimeout: number;
  phases?: true;
  seed: number;
  out: string;
  verbose?: true;
}

function settingsOf(args: readonly TopologyArg[], delay: number | undefined): TopologySetting[] {
  return args.map((arg): TopologySetting => {
    if ('file' in arg) return { name: 'custom', delayMs: 1, topology: arg.topology, file: arg.file };
    const scale = delay ?? (arg.preset === 'uniform' ? UNIFORM_DELAY_MS_DEFAULT : PRESET_SCALE_DEFAULT);
    return { name: arg.preset, delayMs: scale, topology: topologyOf(arg, scale) };
  });
}

/** Adds the matrix command as `name` (`bench` under mdlin, `matrix` under npm run bench). */
export function addBenchCommand(program: Command, name = 'bench'): void {
  program
    .command(name)
    .description('benchmark MDL against Multi-Paxos on local clusters: a matrix of protocols, shards, fanouts, topologies and clients')
    .addOption(listOption('--protocols <list>', 'protocols to run', benchProtocol, 'paxos,mdl'))
    .addOption(listOption('--shards <list>', 'shard counts', integer(1, 64), '3'))
    .addOption(listOption('--fanouts <list>', `operations per application request (1..${FANOUT_MAX})`, integer(1, FANOUT_MAX), '1,4,16'))
    .addOption(listOption('--clients <list>', 'closed-loop clients', integer(1, 1024), '1'))
    .addOption(listOption('--topology <list>', 'link delays: uniform, edge, geo or a topology file (comma-separated for several)', topologyArg, 'uniform'))
    .option('--delay-ms <ms>', `scales the presets (uniform: the one-way delay T; default ${UNIFORM_DELAY_MS_DEFAULT} for uniform, ${PRESET_SCALE_DEFAULT} for edge and geo)`, delayMs)
    .option('--duration <s>', 'measured seconds per cell', seconds, 10)
    .option('--warmup <s>', 'seconds per cell before measuring', seconds, 2)
    .option('--cooldown <s>', 'seconds per cell after measuring (requests still run)', seconds, 1)
    .option('--keys <n>', 'key space size', integer(1), 100_000)
    .option('--zipf <s>', 'Zipf skew of key choice (0: uniform)', skew, 0)
    .addOption(new Option('--mix <ops>', 'operation weights').argParser(mix).default(MIX_DEFAULT, formatMix(MIX_DEFAULT)))
    .option('--value-size <bytes>', 'written values are padded to this size', integer(0, 1 << 20), 16)
    .option('--replicas <n>', 'replicas per shard', integer(1, 15), 3)
    .option('--no-fsync', 'replicas do not fsync their logs (faster; durability is not measured)')
    .option('--no-check', 'do not check the histories (check is "skipped")')
    .option('--check-timeout <s>', 'seconds the checker may spend on one history before saying unknown', seconds, 120)
    .option('--phases', 'MDL: time each operation\'s phases at the leaders and print the medians')
    .option('--seed <n>', 'seed of the key and operation choices', integer(0), 1)
    .option('--out <dir>', 'where results.json, the report, histories and logs go', 'mdlin-bench')
    .option('--verbose', 'replica logs on stderr instead of <out>/logs')
    .addHelpText(
      'after',
      '\nOne cluster per topology, shard count and protocol serves all its fanouts and client counts.\n' +
        'Latencies are per application request, measured at the clients. Every history is checked:\n' +
        'linearizable for paxos, mdl for mdl. Exit 1 when a check finds a violation.',
    )
    .action(async (o: BenchFlags) => {
      const opts: MatrixOptions = {
        protocols: [...new Set(o.protocols)],
        shards: o.shards,
        fanouts: o.fanouts,
        clients: o.clients,
        settings: settingsOf(o.topology, o.delayMs),
        replicas: o.replicas,
        durationS: o.duration,
        warmupS: o.warmup,
        cooldownS: o.cooldown,
        keys: o.keys,
        zipf: o.zipf,
        mix: o.mix,
        valueBytes: o.valueSize,
        fsync: o.fsync,
        check: o.check,
        checkTimeoutS: o.checkTimeout,
        phases: o.phases === true,
        seed: o.seed,
        out: path.resolve(o.out),
      };
      if (opts.durationS <= 0) operatorError('--duration must be more than 0 seconds', 2);
      const results = await runBench(opts, `${program.name()} ${process.argv.slice(2).join(' ')}`, o.verbose === true);
      const bad = results.filter((r) => r.check === 'violation').length;
      if (bad > 0) operatorError(`${bad} of ${results.length} histories violated their consistency model (see the report)`, EXIT_FAILURE);
      process.exit(0);
    });
}

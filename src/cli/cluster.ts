/**
 * A whole cluster on this machine, as child processes: one master and shards × replicas
 * replicas, all on 127.0.0.1 (`mdlin cluster` and `mdlin demo` use it). Children run in their
 * own process group, so a terminal's Ctrl-C reaches only this process, which stops each child by
 * its pid (SIGTERM, then SIGKILL after a grace period).
 *
 * A child that dies while the cluster is starting fails the start. Once every shard has a leader,
 * a child that dies is reported and restarted with the same arguments (a replica from its data
 * directory, the master on the same port), after a short delay; one that dies `RESTARTS_MAX`
 * times within `RESTART_WINDOW_MS` is given up on, and with it the whole cluster (`onGiveUp`).
 * The torture harness turns that off (`autoRestart: false`): it kills, pauses and restarts
 * replicas itself, and hears of any other death through `onDeath`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CLUSTER_DEFAULT } from '../client/client.js';
import { fetchMap } from '../client/master.js';
import { assert } from '../protocol/common/assert.js';
import type { ProtocolName, ShardMap } from '../protocol/master/messages.js';
import { processLog, type ProcessLog } from '../runtime/log.js';
import { delayMs, replicaDelayFlags, topologyArg, type TopologyArg } from './delays.js';
import { clusterId, integer, port, protocol } from './parse.js';
import { operatorError, untilSignal, writeOut } from './util.js';

export const RESTARTS_MAX = 5;
export const RESTART_WINDOW_MS = 60_000;
export const RESTART_DELAY_MS = 500;
export const STOP_GRACE_MS = 5000;
export const READY_TIMEOUT_MS_DEFAULT = 30_000;

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export interface LocalClusterOptions {
  readonly shards: number;
  readonly replicas: number;
  readonly protocol: ProtocolName;
  readonly cluster: string;
  /** Replica data directories go under it (`s0-r1`, ...); default: a temporary directory, removed at stop. */
  readonly dataDir?: string;
  /** 0: any free port. */
  readonly masterPort: number;
  readonly fsync: boolean;
  /** Extra flags for every replica (e.g. --verbose, --thrifty). */
  readonly replicaFlags?: readonly string[];
  /** Flags for node itself in every child (e.g. --cpu-prof). */
  readonly nodeFlags?: readonly string[];
  readonly log: ProcessLog;
  /** A child keeps dying: the cluster cannot go on (it has been stopped when this is called). */
  readonly onGiveUp: (reason: string) => void;
  readonly readyTimeoutMs?: number;
  /**
   * Restart a child that dies once the cluster is up (default true). false: it stays dead, `onDeath`
   * hears of it, and the owner restarts replicas with `restartReplica`.
   */
  readonly autoRestart?: boolean;
  /** With `autoRestart` false: a child died that was not stopped or killed through this class. */
  readonly onDeath?: (name: string, how: string) => void;
  /** Append each child's stderr to `<logDir>/<name>.log` (default: this process's stderr). */
  readonly logDir?: string;
}

class Child {
  proc: ChildProcess | null = null;
  /** `killReplica` sent it SIGKILL: that death is not news. */
  killed = false;
  private readonly deaths: number[] = [];

  constructor(
    readonly name: string,
    readonly args: string[],
  ) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Counts a death; false when it has died too often to restart. */
  died(): boolean {
    const now = performance.now();
    this.deaths.push(now);
    while (this.deaths.length > 0 && now - (this.deaths[0] as number) > RESTART_WINDOW_MS) this.deaths.shift();
    return this.deaths.length < RESTARTS_MAX;
  }
}

export class LocalCluster {
  private readonly children: Child[] = [];
  private stopping = false;
  private masterAddr = '';
  /** The directory the replicas' data directories are in, once created. */
  private dataDir: string | null = null;
  /** Until every shard has a leader, a child that dies fails the start instead of being restarted. */
  private ready = false;
  private startFailure: Error | null = null;

  constructor(private readonly opts: LocalClusterOptions) {}

  /** Starts every process and resolves once every shard has a leader; on failure, stops what started. */
  async start(): Promise<void> {
    try {
      this.dataDir = this.opts.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'mdlin-cluster-')));
      await this.startAll(this.dataDir);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  get masterAddress(): string {
    return this.masterAddr;
  }

  /** The name and pid of every child that is running. */
  pids(): { name: string; pid: number }[] {
    return this.children.flatMap((c) => (c.proc === null || c.pid === undefined || !isRunning(c.proc) ? [] : [{ name: c.name, pid: c.pid }]));
  }

  /** SIGKILLs replica `r{shard}.{replica}` (paused or not) and resolves once it has exited. */
  async killReplica(shard: number, replica: number): Promise<void> {
    const child = this.replica(shard, replica);
    const proc = child.proc;
    if (proc === null || !isRunning(proc)) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    child.killed = true;
    proc.kill('SIGKILL');
    await exited;
  }

  /** Starts a dead replica again from its data directory; resolves with its address once it listens. */
  restartReplica(shard: number, replica: number): Promise<string> {
    const child = this.replica(shard, replica);
    assert(child.proc === null || !isRunning(child.proc), `${child.name} is still running`);
    if (this.stopping) return Promise.reject(new Error(`not restarting ${child.name}: the cluster is stopping`));
    return this.spawn(child);
  }

  /** Pauses (SIGSTOP) or resumes (SIGCONT) a running replica. */
  signalReplica(shard: number, replica: number, signal: 'SIGSTOP' | 'SIGCONT'): void {
    const proc = this.replica(shard, replica).proc;
    if (proc !== null && isRunning(proc)) proc.kill(signal);
  }

  private replica(shard: number, replica: number): Child {
    const child = this.children.find((c) => c.name === `r${shard}.${replica}`);
    assert(child !== undefined, `no replica r${shard}.${replica} in this cluster`);
    return child;
  }

  /** Stops every child (also while starting); removes the data directory if it is a temporary one. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.children.map((c) => stopChild(c)));
    if (this.opts.dataDir === undefined && this.dataDir !== null) await fs.rm(this.dataDir, { recursive: true, force: true });
  }

  private async startAll(dataDir: string): Promise<void> {
    const o = this.opts;
    const master = new Child('master', [
      'master',
      '--port', String(o.masterPort),
      '--shards', String(o.shards),
      '--replicas', String(o.replicas),
      '--protocol', o.protocol,
      '--cluster', o.cluster,
    ]);
    this.children.push(master);
    this.masterAddr = await this.spawn(master);
    if (this.stopping) throw new Error('stopped while starting');
    // A restarted master must come back where the replicas look for it.
    master.args.splice(master.args.indexOf('--port') + 1, 1, this.masterAddr.slice(this.masterAddr.lastIndexOf(':') + 1));
    for (let shard = 0; shard < o.shards; shard++) {
      for (let r = 0; r < o.replicas; r++) {
        const child = new Child(`r${shard}.${r}`, [
          'replica',
          '--master', this.masterAddr,
          '--shard', String(shard),
          '--id', String(r),
          '--data-dir', path.join(dataDir, `s${shard}-r${r}`),
          '--protocol', o.protocol,
          '--cluster', o.cluster,
          ...(o.fsync ? [] : ['--no-fsync']),
          ...(o.replicaFlags ?? []),
        ]);
        this.children.push(child);
        // A replica that dies while starting fails the start through `startFailure`.
        this.spawn(child).catch(() => undefined);
      }
    }
    await this.waitForLeaders(o.readyTimeoutMs ?? READY_TIMEOUT_MS_DEFAULT);
  }

  /**
   * Starts a child; resolves with the address it prints once it listens (`master ADDR`,
   * `replica rS.R ADDR`), rejects if it exits first.
   */
  private spawn(child: Child): Promise<string> {
    const stderr = this.opts.logDir === undefined ? 'inherit' : fsSync.openSync(path.join(this.opts.logDir, `${child.name}.log`), 'a');
    const proc = spawn(process.execPath, [...(this.opts.nodeFlags ?? []), MAIN, ...child.args], { stdio: ['ignore', 'pipe', stderr], detached: true });
    if (typeof stderr === 'number') fsSync.closeSync(stderr);
    child.proc = proc;
    child.killed = false;
    proc.once('exit', (code, signal) => this.onExit(child, proc, code, signal));
    return new Promise((resolve, reject) => {
      const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
      lines.once('line', (line) => {
        const match = /^(?:master|replica \S+) (\S+)$/.exec(line);
        if (match === null) reject(new Error(`${child.name} printed ${JSON.stringify(line)} instead of its address`));
        else resolve(match[1] as string);
      });
      proc.once('exit', (code, signal) => reject(new Error(`${child.name} exited (${signal ?? `code ${code}`}) before listening`)));
    });
  }

  private onExit(child: Child, proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || child.proc !== proc) return;
    if (child.killed && signal === 'SIGKILL') return;
    const how = signal === null ? `exited with code ${code}` : `was killed by ${signal}`;
    if (!this.ready) {
      this.startFailure ??= new Error(`${child.name} ${how} while the cluster was starting`);
      return;
    }
    if (this.opts.autoRestart === false) {
      this.opts.log.info(`${child.name} (pid ${proc.pid}) ${how}`);
      this.opts.onDeath?.(child.name, how);
      return;
    }
    if (!child.died()) {
      this.opts.log.info(`${child.name} (pid ${proc.pid}) ${how}, ${RESTARTS_MAX} times within ${RESTART_WINDOW_MS / 1000} s: giving up`);
      void this.stop().then(() => this.opts.onGiveUp(`${child.name} keeps dying`));
      return;
    }
    this.opts.log.info(`${child.name} (pid ${proc.pid}) ${how}; restarting it`);
    setTimeout(() => {
      if (!this.stopping) this.spawn(child).catch(() => undefined);
    }, RESTART_DELAY_MS);
  }

  private async waitForLeaders(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let last: ShardMap | null = null;
    while (performance.now() < deadline) {
      if (this.stopping) throw new Error('stopped while starting');
      if (this.startFailure !== null) throw this.startFailure;
      try {
        last = await fetchMap(this.masterAddr, this.opts.cluster, 1000, () => undefined);
        if (last.leaders.length === this.opts.shards && last.leaders.every((l) => l.leader >= 0)) {
          this.ready = true;
          return;
        }
      } catch {
        // The master is starting or restarting: ask again.
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const leaderless = last?.leaders.filter((l) => l.leader < 0).map((l) => l.shard) ?? [];
    throw new Error(`not every shard elected a leader within ${timeoutMs} ms (leaderless: ${leaderless.join(', ') || 'unknown'})`);
  }
}

function isRunning(proc: ChildProcess): boolean {
  return proc.exitCode === null && proc.signalCode === null;
}

/** SIGTERM, then SIGKILL if it has not exited within the grace period. */
async function stopChild(child: Child): Promise<void> {
  const proc = child.proc;
  if (proc === null || !isRunning(proc)) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  // A paused child handles SIGTERM only once it runs again.
  proc.kill('SIGCONT');
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

interface ClusterFlags {
  shards: number;
  replicas: number;
  protocol: ProtocolName;
  cluster: string;
  dataDir?: string;
  masterPort: number;
  fsync: boolean;
  verbose?: true;
  topology?: TopologyArg;
  delayMs: number;
}

export function addClusterCommand(program: Command): void {
  program
    .command('cluster')
    .description('run a master and shards × replicas replicas on this machine, in the foreground')
    .option('--shards <n>', 'shards', integer(1, 1024), 1)
    .option('--replicas <n>', 'replicas per shard', integer(1, 255), 3)
    .option('--protocol <name>', 'replication protocol', protocol, 'paxos' as ProtocolName)
    .option('--cluster <id>', 'cluster id', clusterId, CLUSTER_DEFAULT)
    .option('--data-dir <dir>', 'keep replica data here (default: a temporary directory, removed at exit)')
    .option('--master-port <port>', "the master's port (0: any free port)", port, 0)
    .option('--no-fsync', 'do not fsync the logs (a machine crash can lose acknowledged writes)')
    .option('--verbose', 'replicas log more')
    .option('--topology <name|file>', 'inject link delays: uniform, edge, geo, or a topology file (docs/bench.md)', topologyArg)
    .option('--delay-ms <ms>', "scales the --topology preset (uniform: every link's one-way delay)", delayMs, 1)
    .addHelpText(
      'after',
      '\nPrints "master 127.0.0.1:PORT" once every shard has a leader. A child that dies is restarted\n' +
        '(5 deaths within a minute stop the cluster, exit 1). SIGINT or SIGTERM stops every child; exit 0.\n' +
        'With --topology, each replica delays what it sends by the class of the link; a client delays its own\n' +
        "requests only if asked (the library's linkDelayMs option): the master is never delayed.",
    )
    .action(async (o: ClusterFlags) => {
      const log = processLog('[cluster]', false);
      // A signal while starting stops what has started, too.
      const signalled = untilSignal();
      const cluster = new LocalCluster({
        shards: o.shards,
        replicas: o.replicas,
        protocol: o.protocol,
        cluster: o.cluster,
        ...(o.dataDir === undefined ? {} : { dataDir: o.dataDir }),
        masterPort: o.masterPort,
        fsync: o.fsync,
        replicaFlags: [...(o.verbose === true ? ['--verbose'] : []), ...(o.topology === undefined ? [] : replicaDelayFlags(o.topology, o.delayMs))],
        log,
        onGiveUp: (reason) => operatorError(`the cluster stopped: ${reason}`),
      });
      const started = cluster.start().then(
        () => null,
        (err: unknown) => err as Error,
      );
      const first = await Promise.race([started, signalled]);
      if (typeof first === 'string') {
        log.info(`${first} while starting: stopping`);
        await cluster.stop();
        process.exit(0);
      }
      if (first !== null) operatorError(`cannot start the cluster: ${first.message}`);
      await writeOut(`master ${cluster.masterAddress}\n`);
      const signal = await signalled;
      log.info(`${signal}: stopping ${cluster.pids().length} processes`);
      await cluster.stop();
      process.exit(0);
    });
}

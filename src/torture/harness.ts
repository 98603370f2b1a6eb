/**
 * The torture harness (`mdlin torture`): a local cluster in child processes, a recorded workload
 * from real client sessions, and faults on a seeded schedule (kill -9 and restart, pause and
 * resume, cut links) for a while; then every fault is healed, the cluster must recover, the
 * workload stops, the replicas of each shard must converge, and the checker judges the merged
 * history (`linearizable` for Multi-Paxos, `mdl` for MDL).
 *
 * Replicas fsync their logs, as in production: without fsync a replica acknowledges before its log
 * records are even written (src/runtime/host.ts), so a kill -9 could lose what it acknowledged.
 */
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { historyCounts, type CheckResult } from '../check/checker.js';
import { formatHistoryLine, parseHistory, type HistoryOp } from '../check/history.js';
import { MasterClient } from '../client/master.js';
import { LocalCluster } from '../cli/cluster.js';
import { addrKey, replicaAddr } from '../protocol/common/core.js';
import { SeededRng } from '../protocol/common/rng.js';
import type { ProtocolName } from '../protocol/master/messages.js';
import { adminExchange } from './admin.js';
import { checkInWorker } from './checkworker.js';
import { FaultInjector } from './faults.js';
import { waitForConvergence, waitForRecovery } from './recovery.js';
import { FaultSchedule } from './schedule.js';
import { Workload } from './workload.js';

const CLUSTER_ID = 'torture';
/** The fault loop looks at the clock this often. */
const LOOP_MS = 50;
/** When every shard already carries as many faults as it can take, the next try comes this much later. */
const FAULT_RETRY_MS = 200;
const PROGRESS_MS = 1000;
const MAP_TIMEOUT_MS = 1000;
/** A replica that runs handles admin messages at once; one that does not answer this fast is retried. */
const ADMIN_TIMEOUT_MS = 3000;
/** Time allowed to bring every replica back and unblock every link. */
const HEAL_TIMEOUT_MS = 30_000;
/** After healing: time allowed for every shard to have a leader and serve an operation. */
const RECOVERY_TIMEOUT_MS = 30_000;
/** After the workload stops: time allowed for the replicas of each shard to converge. */
const CONVERGENCE_TIMEOUT_MS = 30_000;
/** How much of a dead child's log is searched for the error that killed it. */
const CRASH_LOG_TAIL_BYTES = 64 * 1024;

export interface TortureOptions {
  readonly protocol: ProtocolName;
  readonly shards: number;
  readonly replicas: number;
  readonly durationMs: number;
  readonly seed: number;
  readonly clients: number;
  /** MDL: operations each client keeps in flight. */
  readonly window: number;
  readonly keys: number;
  /** Operations issued per second by all clients together, at most; 0: as fast as they go. */
  readonly rate: number;
  /** A client operation whose outcome is not known after this long is recorded as unknown. */
  readonly opTimeoutMs: number;
  readonly checkTimeoutMs: number;
  /** Write the merged history here (HISTORY.md format). */
  readonly historyFile?: string;
  /** Keep each child process's stderr in `<logDir>/<name>.log` (default: discarded with the temporary directory). */
  readonly logDir?: string;
  /** Progress and event lines, for people (stderr). */
  readonly log: (line: string) => void;
  /** Aborting stops the run: every child is stopped, the temporary directory removed, and runTorture rejects. */
  readonly signal: AbortSignal;
}

export type Verdict = 'ok' | 'violation' | 'unknown';

export interface TortureResult {
  readonly ok: number;
  readonly fail: number;
  readonly unknown: number;
  readonly faults: number;
  readonly verdict: Verdict;
  readonly converged: boolean;
  /** The checker's report: a violation's summary and explanation, or why it gave up. */
  readonly report: readonly string[];
  /** What else went wrong (a replica died on its own, a shard did not recover, replicas differ). */
  readonly problems: readonly string[];
  readonly ops: number;
  readonly checkMs: number;
}

/** Every history file in `dir`, merged and sorted by call time. */
async function mergeHistories(dir: string): Promise<HistoryOp[]> {
  const ops: HistoryOp[] = [];
  for (const name of (await fs.readdir(dir)).sort()) ops.push(...parseHistory(await fs.readFile(path.join(dir, name), 'utf8')));
  return ops.sort((a, b) => a.call - b.call || (a.client < b.client ? -1 : a.client > b.client ? 1 : a.seq - b.seq));
}

/** The last error line (`AssertionError: ...`, or a fatal `mdlin: ...`) in the tail of a child's log, if any. */
function crashReason(logFile: string): string | null {
  let text: string;
  try {
    const fd = fsSync.openSync(logFile, 'r');
    try {
      const size = fsSync.fstatSync(fd).size;
      const buffer = Buffer.alloc(Math.min(size, CRASH_LOG_TAIL_BYTES));
      fsSync.readSync(fd, buffer, 0, buffer.length, size - buffer.length);
      text = buffer.toString('utf8');
    } finally {
      fsSync.closeSync(fd);
    }
  } catch {
    return null;
  }
  const errors = text.split('\n').filter((line) => /^(?:[A-Za-z]*Error\b.*: |mdlin: )/.test(line));
  return errors[errors.length - 1] ?? null;
}

function reportLines(result: CheckResult): string[] {
  switch (result.verdict) {
    case 'ok':
      return [];
    case 'violation':
      return [result.report.summary, ...result.report.explanation];
    case 'unknown':
      return [`the checker gave up: ${result.reason}`];
  }
}

export async function runTorture(o: TortureOptions): Promise<TortureResult> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mdlin-torture-'));
  const dirs = { data: path.join(tmp, 'data'), history: path.join(tmp, 'history'), logs: o.logDir ?? path.join(tmp, 'logs') };
  for (const dir of Object.values(dirs)) await fs.mkdir(dir, { recursive: true });
  const startedMs = performance.now();
  const log = (line: string): void => o.log(`${((performance.now() - startedMs) / 1000).toFixed(1)}s ${line}`);
  log(`working in ${tmp} (removed at the end)`);
  const problems: string[] = [];
  let injector: FaultInjector | null = null;
  const cluster = new LocalCluster({
    shards: o.shards,
    replicas: o.replicas,
    protocol: o.protocol,
    cluster: CLUSTER_ID,
    dataDir: dirs.data,
    masterPort: 0,
    fsync: true,
    log: { info: log, debug: () => undefined },
    autoRestart: false,
    onGiveUp: (reason) => problems.push(reason),
    onDeath: (name, how) => {
      const reason = crashReason(path.join(dirs.logs, `${name}.log`));
      problems.push(`${name} ${how} without being killed${reason === null ? '' : `: ${reason}`}`);
      injector?.onCrash(name);
    },
    logDir: dirs.logs,
  });
  // The last resort if this process exits without cleaning up (an uncaught error, a second signal).
  const killAll = (): void => {
    for (const { pid } of cluster.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // It exited meanwhile.
      }
    }
    fsSync.rmSync(tmp, { recursive: true, force: true });
  };
  process.on('exit', killAll);
  let master: MasterClient | null = null;
  let workload: Workload | null = null;
  let progress: NodeJS.Timeout | undefined;
  try {
    await raceAbort(cluster.start(), o.signal);
    master = new MasterClient(cluster.masterAddress, CLUSTER_ID, 'torture', () => undefined);
    const map = await master.fetch(MAP_TIMEOUT_MS);
    injector = new FaultInjector({
      shards: o.shards,
      replicas: o.replicas,
      processes: cluster,
      addresses: new Map(map.replicas.map((r) => [addrKey(replicaAddr(r.shard, r.replica)), r.address])),
      sendControls: async (target, address, controls) => {
        await adminExchange(CLUSTER_ID, target, address, controls, ADMIN_TIMEOUT_MS);
      },
      log,
    });
    const rng = new SeededRng(o.seed);
    const schedule = new FaultSchedule(rng.fork(), { shards: o.shards, replicas: o.replicas, crossShard: o.protocol === 'mdl' });
    workload = await Workload.start({
      master: cluster.masterAddress,
      cluster: CLUSTER_ID,
      protocol: o.protocol,
      clients: o.clients,
      window: o.window,
      keys: o.keys,
      rate: o.rate,
      opTimeoutMs: o.opTimeoutMs,
      historyDir: dirs.history,
      rng: rng.fork(),
    });
    const counts = workload.counts;
    const faults = injector;
    progress = setInterval(
      () => log(`ok=${counts.ok} fail=${counts.fail} unknown=${counts.unknown} faults=${faults.injected} down=${faults.describeDown()}`),
      PROGRESS_MS,
    );
    log(`seed ${o.seed}: ${o.clients} clients on ${o.shards}×${o.replicas} ${o.protocol} replicas for ${o.durationMs / 1000} s`);

    const endMs = performance.now() + o.durationMs;
    let nextFaultMs = performance.now() + schedule.gapMs();
    while (performance.now() < endMs) {
      await faults.revertDue(performance.now());
      if (performance.now() >= nextFaultMs) {
        const current = await master.fetch(MAP_TIMEOUT_MS).catch(() => null);
        const leaders = Array.from({ length: o.shards }, (_, s) => current?.leaders.find((l) => l.shard === s)?.leader ?? -1);
        const planned = schedule.next({ leaders, charged: faults.charged() });
        // No shard can take another fault now: try again soon.
        if (planned === null) nextFaultMs = performance.now() + FAULT_RETRY_MS;
        else {
          await faults.inject(planned, performance.now());
          nextFaultMs = performance.now() + schedule.gapMs();
        }
      }
      await sleep(LOOP_MS, undefined, { signal: o.signal });
    }

    log('healing every fault');
    // A replica that cannot be brought back is a finding; the history is still worth checking.
    await raceAbort(faults.healAll(performance.now() + HEAL_TIMEOUT_MS), o.signal).catch((err: unknown) => {
      if (o.signal.aborted) throw err;
      problems.push(`healing failed: ${(err as Error).message}`);
    });
    const recovery = await raceAbort(
      waitForRecovery({
        master,
        cluster: CLUSTER_ID,
        shards: o.shards,
        historyDir: dirs.history,
        deadlineMs: performance.now() + RECOVERY_TIMEOUT_MS,
      }),
      o.signal,
    );
    if (recovery !== null) problems.push(`the cluster did not recover within ${RECOVERY_TIMEOUT_MS / 1000} s of healing: ${recovery}`);
    else log('every shard has a leader and serves operations');
    await raceAbort(workload.stop(), o.signal);
    clearInterval(progress);
    log(`workload stopped: ok=${counts.ok} fail=${counts.fail} unknown=${counts.unknown}; waiting for the replicas to converge`);
    const divergence = await raceAbort(
      waitForConvergence({
        master,
        cluster: CLUSTER_ID,
        shards: o.shards,
        replicas: o.replicas,
        deadlineMs: performance.now() + CONVERGENCE_TIMEOUT_MS,
      }),
      o.signal,
    );
    if (divergence !== null) problems.push(`the replicas did not converge within ${CONVERGENCE_TIMEOUT_MS / 1000} s:\n${divergence}`);
    await master.close();
    await cluster.stop();

    const ops = await mergeHistories(dirs.history);
    if (o.historyFile !== undefined) await fs.writeFile(o.historyFile, ops.map((op) => `${formatHistoryLine(op)}\n`).join(''));
    const model = o.protocol === 'mdl' ? 'mdl' : 'linearizable';
    log(`checking ${ops.length} operations (${model}, at most ${o.checkTimeoutMs / 1000} s)`);
    const checkStartMs = performance.now();
    const result = await checkInWorker(ops, { model, timeoutMs: o.checkTimeoutMs }, o.signal);
    const checkMs = performance.now() - checkStartMs;
    log(`checked in ${(checkMs / 1000).toFixed(1)} s: ${result.verdict}`);
    const c = historyCounts(ops);
    return {
      ok: c.ok,
      fail: c.fail,
      unknown: c.unknown,
      faults: faults.injected,
      verdict: result.verdict,
      converged: divergence === null,
      report: reportLines(result),
      problems,
      ops: c.ops,
      checkMs,
    };
  } finally {
    clearInterval(progress);
    await workload?.close();
    await master?.close();
    await cluster.stop();
    await fs.rm(tmp, { recursive: true, force: true });
    process.off('exit', killAll);
  }
}

/** `promise`, or a rejection as soon as `signal` aborts (the promise is left to settle on its own). */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}

/**
 * `npm run bench -- check`: how long the history checkers take, and how much memory, on large
 * valid histories from a simulated multi-dispatch execution, and how fast they find a planted
 * violation.
 *
 * Each check runs in a child process that parses the history file and checks it, exactly as
 * `mdlin check` would, so its peak resident set size (maxRSS) is the cost of that one check.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkHistory, type Model } from '../check/checker.js';
import { formatHistoryLine, parseHistory, type HistoryOp } from '../check/history.js';
import { KvStore } from '../protocol/common/kv.js';
import { SeededRng, type Rng } from '../protocol/common/rng.js';

export interface HistoryShape {
  ops: number;
  clients: number;
  /** Each client keeps at most this many operations outstanding. */
  outstandingMax: number;
  keys: number;
  seed: number;
  /** Chance that an operation starts an outage: it times out, and so does all its client issued meanwhile. */
  outageRate: number;
}

/** A simulated history and the order its operations took effect in (a witness, by construction). */
export interface SimulatedHistory {
  ops: HistoryOp[];
  order: number[];
}

const NS_PER_US = 1000;
const TIMEOUT_NS = 5000 * NS_PER_US;

/**
 * Simulates clients of a multi-dispatch store: each issues operations with short think times,
 * never more than `outstandingMax` at once; each operation takes effect at one instant after
 * its call and after its client's previous one (issue order), and returns later, in issue
 * order. An outage makes an operation and every later one issued before its timeout unknown;
 * a random suffix of that run never takes effect (and is reported unknown or failed), so
 * failures stay suffix-closed. Outputs come from executing the effective operations in the
 * order of their instants on a sequential key-value store, so the history is valid under mdl
 * (and hence linearizable).
 */
export function simulateHistory(shape: HistoryShape): SimulatedHistory {
  const rng = new SeededRng(shape.seed);
  const perClient = Math.ceil(shape.ops / shape.clients);
  const ops: HistoryOp[] = [];
  const instant: number[] = [];
  const effective: boolean[] = [];
  for (let c = 0; c < shape.clients && ops.length < shape.ops; c++) {
    const client = `c${c}`;
    const rets: number[] = [];
    let call = rng.int(200 * NS_PER_US);
    let lastInstant = -1;
    let lastRet = 0;
    let outageUntil = -1;
    let outageEffectiveUntil = -1;
    for (let seq = 0; seq < perClient && ops.length < shape.ops; seq++) {
      call += rng.int(40 * NS_PER_US);
      if (seq >= shape.outstandingMax) call = Math.max(call, (rets[seq - shape.outstandingMax] as number) + 1);
      if (outageUntil >= 0 && call >= outageUntil) outageUntil = -1;
      const t = Math.max(call + rng.range(100 * NS_PER_US, 1500 * NS_PER_US), lastInstant + 1);
      lastInstant = t;
      let ret: number | null = Math.max(t + rng.range(50 * NS_PER_US, 800 * NS_PER_US), lastRet);
      let status: HistoryOp['status'] = 'ok';
      let takesEffect = true;
      if (outageUntil < 0 && rng.chance(shape.outageRate)) {
        outageUntil = call + TIMEOUT_NS;
        // Operations issued before the cut take effect; the cut falls somewhere in the outage.
        outageEffectiveUntil = call + rng.int(TIMEOUT_NS);
      }
      if (outageUntil >= 0) {
        takesEffect = call < outageEffectiveUntil;
        status = !takesEffect && rng.chance(0.5) ? 'fail' : 'unknown';
        // Only an operation that took effect may never return: one that did not, with no return,
        // would forbid everything its client does afterwards.
        ret = takesEffect && rng.chance(0.3) ? null : outageUntil;
      }
      lastRet = ret ?? lastRet;
      rets.push(ret ?? outageUntil);
      ops.push(newOp(rng, client, seq, `k${rng.int(shape.keys)}`, call, ret, status));
      instant.push(t);
      effective.push(takesEffect);
    }
  }
  const order = ops
    .map((_, i) => i)
    .filter((i) => effective[i])
    .sort((a, b) => (instant[a] as number) - (instant[b] as number) || a - b);
  const kv = new KvStore();
  for (const i of order) {
    const op = ops[i] as HistoryOp;
    if (op.op === 'cas' && rng.chance(0.6)) op.expect = kv.read(op.key);
    const output = kv.apply({ client: op.client, seq: op.seq, op: op.op, key: op.key, value: op.value ?? null, expect: op.expect ?? null });
    if (op.status === 'ok') op.output = output;
  }
  return { ops, order };
}

function newOp(rng: Rng, client: string, seq: number, key: string, call: number, ret: number | null, status: HistoryOp['status']): HistoryOp {
  const roll = rng.next();
  const base = { client, seq, key, call, ret, status, output: null };
  const value = `${client}.${seq}`;
  if (roll < 0.45) return { ...base, op: 'get' };
  if (roll < 0.7) return { ...base, op: 'put', value };
  if (roll < 0.85) return { ...base, op: 'append', value: `${value};` };
  return { ...base, op: 'cas', expect: `${client}.${seq - 1}`, value, output: status === 'ok' ? false : null };
}

/**
 * Plants a stale read: an ok get, about `at` of the way through the order, now returns the
 * value its key held before the last write W it saw, where W returned before the get was issued
 * and the write of that older value returned before W was issued. Real time then fixes the order
 * of the two writes and the get, and no order can explain the result (values are unique), so
 * every checker must reject it. Returns the get's index.
 */
export function plantStaleRead(history: SimulatedHistory, at: number): number {
  const { ops, order } = history;
  interface KeyState {
    value: string | null;
    writer: number;
    previous: string | null;
    previousWriter: number;
  }
  const kv = new Map<string, KeyState>();
  const okAndBefore = (a: number, b: HistoryOp) => a >= 0 && (ops[a] as HistoryOp).status === 'ok' && ((ops[a] as HistoryOp).ret as number) < b.call;
  for (let k = 0; k < order.length; k++) {
    const i = order[k] as number;
    const op = ops[i] as HistoryOp;
    const state = kv.get(op.key) ?? { value: null, writer: -1, previous: null, previousWriter: -1 };
    if (op.op === 'get' && op.status === 'ok' && k >= order.length * at && okAndBefore(state.writer, op) && okAndBefore(state.previousWriter, ops[state.writer] as HistoryOp)) {
      op.output = state.previous;
      return i;
    }
    const before = state.value;
    let after = before;
    if (op.op === 'put') after = op.value as string;
    if (op.op === 'append') after = (before ?? '') + (op.value as string);
    if (op.op === 'cas' && before === op.expect) after = op.value as string;
    if (after !== before) kv.set(op.key, { value: after, writer: i, previous: before, previousWriter: state.writer });
  }
  throw new Error('no get to plant a stale read on');
}

const CHILD_FLAG = '--check-child';

interface Measurement {
  verdict: string;
  detail: string;
  parseMs: number;
  checkMs: number;
  maxRssBytes: number;
}

/**
 * Checks one history file in a child process and reports its verdict, times and peak resident
 * set size: a fresh process, so that the peak belongs to this check alone.
 */
function measure(file: string, model: Model, timeoutSeconds: number): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, file, model, String(timeoutSeconds)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (m) => resolve(m as Measurement));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`check of ${file} exited with ${code}`));
    });
  });
}

function runChild(file: string, model: Model, timeoutSeconds: number): void {
  const t0 = performance.now();
  const ops = parseHistory(readFileSync(file, 'utf8'));
  const t1 = performance.now();
  const result = checkHistory(ops, { model, timeoutMs: timeoutSeconds * 1000 });
  const t2 = performance.now();
  const detail = result.verdict === 'ok' ? `witness of ${result.witness.length}` : result.verdict === 'violation' ? result.report.summary : result.reason;
  const measurement: Measurement = {
    verdict: result.verdict,
    detail,
    parseMs: t1 - t0,
    checkMs: t2 - t1,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
  process.send?.(measurement, () => process.disconnect());
}

if (process.argv[2] === CHILD_FLAG && process.argv[1] === fileURLToPath(import.meta.url)) {
  runChild(process.argv[3] as string, process.argv[4] as Model, Number(process.argv[5]));
}

interface Case {
  name: string;
  shape: HistoryShape;
  /** Plant a stale read about halfway through, then check that too. */
  plant: boolean;
}

/** The shapes the issue names: 10,000 and 100,000 operations, from 16 and 64 clients, 16 outstanding each. */
function cases(keys: number): Case[] {
  const out: Case[] = [];
  for (const ops of [10_000, 100_000]) {
    for (const clients of [16, 64]) {
      out.push({ name: `${ops / 1000}k-${clients}c`, shape: { ops, clients, outstandingMax: 16, keys, seed: 1, outageRate: 0.003 }, plant: true });
    }
  }
  return out;
}

const KEYS_DEFAULT = 256;

function usage(): never {
  throw new Error('usage: bench check [--timeout SECONDS] [--keys N] [--only 10k-16c|10k-64c|100k-16c|100k-64c]');
}

/**
 * `bench check [--timeout SECONDS] [--only NAME]`: for each case, simulates a valid history,
 * checks it under both models, plants a stale read and checks again; prints one table row per
 * check: verdict, parse and check time, peak memory.
 */
export async function benchCheck(args: string[]): Promise<void> {
  let timeoutSeconds = 120;
  let keys = KEYS_DEFAULT;
  let only: string | null = null;
  for (let k = 0; k < args.length; k += 2) {
    const flag = args[k];
    const value = args[k + 1];
    if (value === undefined) usage();
    if (flag === '--timeout') timeoutSeconds = Number(value);
    else if (flag === '--keys') keys = Number(value);
    else if (flag === '--only') only = value;
    else usage();
  }
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0 || !Number.isInteger(keys) || keys < 1) usage();
  console.log(`# histories on ${keys} keys; every check has ${timeoutSeconds} s`);
  const dir = mkdtempSync(join(tmpdir(), 'mdlin-bench-check-'));
  try {
    const header = ['history', 'ops', 'clients', 'model', 'verdict', 'parse s', 'check s', 'peak RSS MiB', 'detail'];
    const print = (row: string[]) => console.log(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(i === 0 ? 16 : 9))).join(' '));
    print(header);
    for (const c of cases(keys)) {
      if (only !== null && c.name !== only) continue;
      const history = simulateHistory(c.shape);
      const variants: [string, HistoryOp[]][] = [[c.name, history.ops]];
      if (c.plant) {
        const planted: SimulatedHistory = { ops: history.ops.map((op) => ({ ...op })), order: history.order };
        const at = plantStaleRead(planted, 0.5);
        variants.push([`${c.name}+stale`, planted.ops]);
        console.log(`# ${c.name}+stale: ${planted.ops[at]?.client}#${planted.ops[at]?.seq} now reads a value overwritten before it was issued`);
      }
      for (const [name, ops] of variants) {
        const file = join(dir, `${name}.jsonl`);
        writeFileSync(file, ops.map(formatHistoryLine).join('\n') + '\n');
        for (const model of ['linearizable', 'mdl'] as const) {
          const m = await measure(file, model, timeoutSeconds);
          const row = [
            name,
            String(ops.length),
            String(c.shape.clients),
            model,
            m.verdict,
            (m.parseMs / 1000).toFixed(2),
            (m.checkMs / 1000).toFixed(2),
            (m.maxRssBytes / 1048576).toFixed(0),
            m.detail.length > 100 ? `${m.detail.slice(0, 97)}...` : m.detail,
          ];
          print(row);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Test helpers for the checkers: terse builders for history operations, a brute-force judge
 * written straight from HISTORY.md's definitions, and a generator of small random histories.
 */
import type { HistoryOp, HistoryStatus } from '../../src/check/history.js';
import type { Model } from '../../src/check/checker.js';
import type { Rng } from '../../src/protocol/common/rng.js';

type Times = [call: number, ret: number | null];

export function put(client: string, seq: number, key: string, value: string, [call, ret]: Times, status: HistoryStatus = 'ok'): HistoryOp {
  return { client, seq, op: 'put', key, value, call, ret, status, output: null };
}

export function append(client: string, seq: number, key: string, value: string, [call, ret]: Times, status: HistoryStatus = 'ok'): HistoryOp {
  return { client, seq, op: 'append', key, value, call, ret, status, output: null };
}

/** An ok get that read `output`; pass status to make it fail or unknown (output becomes null). */
export function get(client: string, seq: number, key: string, output: string | null, [call, ret]: Times, status: HistoryStatus = 'ok'): HistoryOp {
  return { client, seq, op: 'get', key, call, ret, status, output: status === 'ok' ? output : null };
}

export function cas(
  client: string,
  seq: number,
  key: string,
  expect: string | null,
  value: string,
  output: boolean,
  [call, ret]: Times,
  status: HistoryStatus = 'ok',
): HistoryOp {
  return { client, seq, op: 'cas', key, expect, value, call, ret, status, output: status === 'ok' ? output : null };
}

/**
 * Does a witness exist? Tries every subset of the unknown operations and every order of the
 * chosen ones, checking each rule of HISTORY.md as the order grows (a prefix that breaks a rule
 * has no legal completion, so this is the same as filtering all complete orders).
 */
export function bruteForce(ops: readonly HistoryOp[], model: Model): boolean {
  const unknown = ops.map((_, i) => i).filter((i) => ops[i]?.status === 'unknown');
  for (let mask = 0; mask < 1 << unknown.length; mask++) {
    const inS = ops.map((op) => op.status === 'ok');
    unknown.forEach((i, bit) => {
      if (mask & (1 << bit)) inS[i] = true;
    });
    if (model === 'mdl' && !suffixClosed(ops, inS)) continue;
    if (orderExists(ops, model, inS, [], new Map())) return true;
  }
  return false;
}

function suffixClosed(ops: readonly HistoryOp[], inS: readonly boolean[]): boolean {
  for (let a = 0; a < ops.length; a++) {
    if (inS[a]) continue;
    const opA = ops[a] as HistoryOp;
    for (let b = 0; b < ops.length; b++) {
      const opB = ops[b] as HistoryOp;
      if (opB.client !== opA.client || opB.seq <= opA.seq) continue;
      if (opB.call < (opA.ret ?? Infinity) && (inS[b] || opB.status === 'ok')) return false;
    }
  }
  return true;
}

function orderExists(ops: readonly HistoryOp[], model: Model, inS: readonly boolean[], order: number[], kv: Map<string, string>): boolean {
  const placed = new Set(order);
  let remaining = 0;
  for (let b = 0; b < ops.length; b++) {
    if (!inS[b] || placed.has(b)) continue;
    remaining++;
    const opB = ops[b] as HistoryOp;
    const blocked = ops.some((opA, a) => {
      if (a === b || !inS[a] || placed.has(a)) return false;
      if (opA.status === 'ok' && (opA.ret as number) < opB.call) return true;
      return model === 'mdl' && opA.client === opB.client && opA.seq < opB.seq;
    });
    if (blocked) continue;
    const before = kv.get(opB.key);
    let output: string | boolean | null = null;
    let after = before;
    if (opB.op === 'get') output = before ?? null;
    else if (opB.op === 'put') after = opB.value;
    else if (opB.op === 'append') after = (before ?? '') + (opB.value as string);
    else if ((before ?? null) === opB.expect) {
      after = opB.value;
      output = true;
    } else output = false;
    if (opB.status === 'ok' && output !== opB.output) continue;
    const next = new Map(kv);
    if (after !== undefined) next.set(opB.key, after);
    if (orderExists(ops, model, inS, [...order, b], next)) return true;
  }
  return remaining === 0;
}

/**
 * A small random history: 1-3 clients with 1-3 operations each (at most 7 in all, so the brute
 * force stays quick) on keys x and y, values from a
 * tiny alphabet (so values repeat and appends combine), overlapping times, every status. Half
 * the time the outputs come from executing the operations in a random order that respects
 * issue order, so both verdicts are common.
 */
export function randomHistory(rng: Rng): HistoryOp[] {
  const clients = rng.range(1, 3);
  const ops: HistoryOp[] = [];
  for (let c = 0; c < clients; c++) {
    let call = rng.int(4);
    const count = Math.min(rng.range(1, 3), 7 - ops.length);
    for (let seq = 0; seq < count; seq++) {
      call += rng.int(3);
      const ret = call + rng.range(0, 6);
      const roll = rng.next();
      const status: HistoryStatus = roll < 0.7 ? 'ok' : roll < 0.85 ? 'unknown' : 'fail';
      const key = rng.chance(0.6) ? 'x' : 'y';
      const value = rng.chance(0.5) ? '1' : '2';
      const kind = rng.int(4);
      const times: Times = [call, status === 'unknown' && rng.chance(0.4) ? null : ret];
      const client = `c${c}`;
      if (kind === 0) ops.push(get(client, seq, key, pick(rng, [null, '1', '2', '12']), times, status));
      else if (kind === 1) ops.push(put(client, seq, key, value, times, status));
      else if (kind === 2) ops.push(append(client, seq, key, value, times, status));
      else ops.push(cas(client, seq, key, pick(rng, [null, '1', '2']), value, rng.chance(0.5), times, status));
    }
  }
  if (rng.chance(0.5)) executeInRandomOrder(ops, rng);
  return ops;
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)] as T;
}

/** Rewrites the outputs of the ok operations to what a random issue-order-respecting execution returns. */
function executeInRandomOrder(ops: HistoryOp[], rng: Rng): void {
  const next = new Map<string, number>();
  const kv = new Map<string, string>();
  for (;;) {
    const heads = ops.filter((op) => op.seq === (next.get(op.client) ?? 0));
    if (heads.length === 0) return;
    const op = pick(rng, heads);
    next.set(op.client, op.seq + 1);
    if (op.status === 'fail') continue;
    const before = kv.get(op.key) ?? null;
    if (op.op === 'get' && op.status === 'ok') op.output = before;
    if (op.op === 'put') kv.set(op.key, op.value as string);
    if (op.op === 'append') kv.set(op.key, (before ?? '') + (op.value as string));
    if (op.op === 'cas') {
      const swap = before === op.expect;
      if (swap) kv.set(op.key, op.value as string);
      if (op.status === 'ok') op.output = swap;
    }
  }
}

/**
 * A history in the form the checkers work on: operations numbered 0..n-1, grouped by client and
 * ordered by seq within a client (a "lane"), with every field in a typed array. Client and key
 * names become small integers; a null `ret` becomes +Infinity, which is what it means for every
 * rule that reads it ("never returned").
 */
import type { OpOutput } from '../protocol/common/kv.js';
import type { HistoryOp } from './history.js';

export const GET = 0;
export const PUT = 1;
export const APPEND = 2;
export const CAS = 3;

export const OK = 0;
export const FAIL = 1;
export const UNKNOWN = 2;

const KINDS = { get: GET, put: PUT, append: APPEND, cas: CAS } as const;
const STATUS_CODES = { ok: OK, fail: FAIL, unknown: UNKNOWN } as const;

export interface Prepared {
  readonly n: number;
  /** The operation each index stands for, and its position in the array the caller checked. */
  readonly ops: readonly HistoryOp[];
  readonly source: Int32Array;
  readonly clients: readonly string[];
  readonly keys: readonly string[];
  /** Client (lane) of each operation; lane c holds indices laneStart[c] .. laneEnd[c]-1 in seq order. */
  readonly lane: Int32Array;
  readonly laneStart: Int32Array;
  readonly laneEnd: Int32Array;
  readonly kind: Uint8Array;
  readonly status: Uint8Array;
  readonly key: Int32Array;
  readonly call: Float64Array;
  /** +Infinity when the operation never returned. */
  readonly ret: Float64Array;
  /** put/append: the value written; cas: the new value; get: null. */
  readonly value: readonly (string | null)[];
  /** cas: the expected value (null: absent); others: null. */
  readonly expect: readonly (string | null)[];
  readonly output: readonly OpOutput[];
}

/**
 * Indexes `ops[indices]` (all of them by default). The operations must already satisfy the
 * format's rules (parseHistory / validateHistory); a subset need not have consecutive seqs.
 */
export function prepare(ops: readonly HistoryOp[], indices?: readonly number[]): Prepared {
  const chosen = indices ?? ops.map((_, i) => i);
  const clientOf = new Map<string, number>();
  const clientNames = [...new Set(chosen.map((i) => (ops[i] as HistoryOp).client))].sort();
  clientNames.forEach((c, i) => clientOf.set(c, i));
  const order = [...chosen].sort((a, b) => {
    const x = ops[a] as HistoryOp;
    const y = ops[b] as HistoryOp;
    return (clientOf.get(x.client) as number) - (clientOf.get(y.client) as number) || x.seq - y.seq;
  });
  const n = order.length;
  const keyOf = new Map<string, number>();
  const keys: string[] = [];
  const p = {
    n,
    ops: order.map((i) => ops[i] as HistoryOp),
    source: Int32Array.from(order),
    clients: clientNames,
    keys,
    lane: new Int32Array(n),
    laneStart: new Int32Array(clientNames.length),
    laneEnd: new Int32Array(clientNames.length),
    kind: new Uint8Array(n),
    status: new Uint8Array(n),
    key: new Int32Array(n),
    call: new Float64Array(n),
    ret: new Float64Array(n),
    value: new Array<string | null>(n),
    expect: new Array<string | null>(n),
    output: new Array<OpOutput>(n),
  };
  for (let i = 0; i < n; i++) {
    const op = p.ops[i] as HistoryOp;
    const c = clientOf.get(op.client) as number;
    p.lane[i] = c;
    if (i === 0 || p.lane[i - 1] !== c) p.laneStart[c] = i;
    p.laneEnd[c] = i + 1;
    p.kind[i] = KINDS[op.op];
    p.status[i] = STATUS_CODES[op.status];
    let k = keyOf.get(op.key);
    if (k === undefined) {
      k = keys.length;
      keyOf.set(op.key, k);
      keys.push(op.key);
    }
    p.key[i] = k;
    p.call[i] = op.call;
    p.ret[i] = op.ret ?? Infinity;
    p.value[i] = op.value ?? null;
    p.expect[i] = op.expect ?? null;
    p.output[i] = op.output;
  }
  return p;
}

/** True for an operation that may change its key: put, append, and a cas that is not an ok `false`. */
export function mayWrite(p: Prepared, i: number): boolean {
  const kind = p.kind[i];
  if (kind === GET || p.status[i] === FAIL) return false;
  return kind !== CAS || p.status[i] !== OK || p.output[i] === true;
}

/**
 * MDL's suffix-closed failures, per operation a: when a does not take effect, which later
 * operations of its client must not either. HISTORY.md names those issued while a was
 * outstanding (`b.call < a.ret`); each of them in turn did not take effect, so the rule applies
 * again from it. Because `call` never decreases along a lane, the result is a contiguous run
 * a .. skipEnd[a]-1. `okInSkip[a]` is the first ok operation in that run (then a cannot be left
 * out), or -1.
 */
export interface SkipClosures {
  readonly skipEnd: Int32Array;
  readonly okInSkip: Int32Array;
}

export function skipClosures(p: Prepared): SkipClosures {
  const skipEnd = new Int32Array(p.n);
  const okInSkip = new Int32Array(p.n);
  const nextOk = new Int32Array(p.n + 1);
  for (let c = 0; c < p.clients.length; c++) {
    const start = p.laneStart[c] as number;
    const end = p.laneEnd[c] as number;
    nextOk[end] = -1;
    for (let a = end - 1; a >= start; a--) {
      nextOk[a] = p.status[a] === OK ? a : (nextOk[a + 1] as number);
      let reach = firstCallAtOrAfter(p, a + 1, end, p.ret[a] as number);
      for (let b = a + 1; b < reach; b = skipEnd[b] as number) reach = Math.max(reach, skipEnd[b] as number);
      skipEnd[a] = reach;
      const ok = nextOk[a + 1] as number;
      okInSkip[a] = ok >= 0 && ok < reach ? ok : -1;
    }
  }
  return { skipEnd, okInSkip };
}

/** The first index in [lo, hi) whose call is >= t (calls are sorted within a lane). */
function firstCallAtOrAfter(p: Prepared, lo: number, hi: number, t: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((p.call[mid] as number) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

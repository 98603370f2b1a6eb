/**
 * Shrinks a violating history to a small core that still violates, so the report can name a
 * few operations instead of thousands.
 *
 * Only weakenings are used: changes after which every witness of the original, restricted to
 * what is left, is still a witness. So "the core has no witness" implies "the history has none",
 * and the core is an honest explanation. They are:
 * - cutting at time T: drop operations issued at or after T, and make ok operations that had not
 *   returned by T unknown. An ok operation that returned before T precedes, by real time, every
 *   dropped one, so it sees the same state as before;
 * - dropping every operation on a key (keys are independent);
 * - dropping reads (gets, cas that did not swap) and failed operations: none changes the state.
 * Writes are never dropped alone: a later read may depend on them.
 */
import type { HistoryOp } from './history.js';
import { decide, type Decision } from './decide.js';
import type { Model } from './search.js';

export type Proof = Extract<Decision, { kind: 'finding' | 'refuted' }>;

export interface ShrinkBudget {
  deadlineMs: number;
  /** Each re-check of a smaller history gets at most this long. */
  checkMsMax: number;
  memoryBytesMax: number;
}

/**
 * Returns the smallest violating history found within the budget, as a proof made on some array
 * A of (possibly weakened copies of) operations, with `index[j]` the position in `ops` of A[j].
 */
export function shrinkViolation(ops: readonly HistoryOp[], model: Model, proof: Proof, budget: ShrinkBudget): { decision: Proof; index: number[] } {
  let best = { decision: proof, index: ops.map((_, i) => i) };
  let items = Array.from(proof.p.source).sort((a, b) => a - b);
  let cut = Infinity;
  const outOfTime = () => performance.now() > budget.deadlineMs;

  const fails = (candidate: number[], at: number): boolean => {
    if (outOfTime()) return false;
    const index = candidate.filter((i) => (ops[i] as HistoryOp).call < at);
    const copy = index.map((i) => weaken(ops[i] as HistoryOp, at));
    const deadlineMs = Math.min(budget.deadlineMs, performance.now() + budget.checkMsMax);
    const decision = decide(copy, model, { deadlineMs, memoryBytesMax: budget.memoryBytesMax });
    if (decision.kind !== 'finding' && decision.kind !== 'refuted') return false;
    best = { decision, index };
    return true;
  };

  // The earliest cut that still fails: cutting is monotone (a later cut keeps a superset of constraints).
  const cuts = [...new Set(items.filter((i) => (ops[i] as HistoryOp).status === 'ok').map((i) => ((ops[i] as HistoryOp).ret as number) + 1))].sort(
    (a, b) => a - b,
  );
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi && !outOfTime()) {
    const mid = (lo + hi) >>> 1;
    if (fails(items, cuts[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  if (hi < cuts.length) {
    cut = cuts[hi] as number;
    items = items.filter((i) => (ops[i] as HistoryOp).call < cut);
  }

  const keys = [...new Set(items.map((i) => (ops[i] as HistoryOp).key))];
  const keptKeys = new Set(deltaDebug(keys, (kept) => fails(onKeys(ops, items, new Set(kept)), cut), outOfTime));
  items = onKeys(ops, items, keptKeys);

  const isRead = (i: number) => {
    const op = ops[i] as HistoryOp;
    return op.op === 'get' || op.status === 'fail' || (op.op === 'cas' && op.status === 'ok' && op.output === false);
  };
  const writes = items.filter((i) => !isRead(i));
  deltaDebug(
    items.filter(isRead),
    (kept) => fails([...writes, ...kept], cut),
    outOfTime,
  );
  return best;
}

function onKeys(ops: readonly HistoryOp[], items: readonly number[], keys: ReadonlySet<string>): number[] {
  return items.filter((i) => keys.has((ops[i] as HistoryOp).key));
}

/** The operation as it stands when the history is cut at `at`: an ok op not returned by then becomes unknown. */
function weaken(op: HistoryOp, at: number): HistoryOp {
  if (op.status !== 'ok' || (op.ret as number) < at) return op;
  return { ...op, status: 'unknown', output: null };
}

/**
 * Delta debugging (Zeller's ddmin, complements only): a small subset of `units` for which
 * `fails` still holds, assuming it holds for all of them.
 */
function deltaDebug<T>(units: readonly T[], fails: (kept: T[]) => boolean, outOfTime: () => boolean): T[] {
  let kept = [...units];
  let parts = 2;
  while (kept.length > 0 && !outOfTime()) {
    const size = Math.ceil(kept.length / parts);
    let reduced = false;
    for (let start = 0; start < kept.length; start += size) {
      const candidate = [...kept.slice(0, start), ...kept.slice(start + size)];
      if (fails(candidate)) {
        kept = candidate;
        parts = Math.max(parts - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (size === 1) break;
      parts = Math.min(kept.length, parts * 2);
    }
  }
  return kept;
}

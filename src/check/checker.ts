/**
 * `checkHistory`: decides HISTORY.md's `linearizable` or `mdl` for a history, within a time and
 * memory budget.
 *
 * 1. Constraint analysis (constraints.ts) proves most violations at once and explains them.
 * 2. Otherwise the exact search (search.ts) looks for a witness order: over the whole history
 *    for mdl, which is not local, and key by key for linearizable, which is.
 * 3. A witness is replayed by an independent check (witness.ts) before `ok` is returned; a
 *    violation the search proved is shrunk to a small core (shrink.ts) and explained.
 */
import { decide } from './decide.js';
import { validateHistory, type HistoryOp } from './history.js';
import { reportFinding, reportSearch, type ViolationReport } from './report.js';
import type { Model } from './search.js';
import { shrinkViolation } from './shrink.js';
import { witnessProblem } from './witness.js';

export type { Model } from './search.js';
export type { ViolationReport } from './report.js';

export interface CheckOptions {
  model: Model;
  /** After this long the verdict is `unknown`. */
  timeoutMs: number;
  /** Bytes the search may hold in its tables before it gives up (default 512 MiB). */
  memoryBytesMax?: number;
  /** Extra time to shrink a violation found by search to a small core (default: min(timeoutMs, 5 s)). */
  shrinkTimeMs?: number;
}

export type CheckResult =
  /** `witness`: indices into the checked array, in an order that satisfies the model. */
  | { verdict: 'ok'; witness: number[] }
  | { verdict: 'violation'; report: ViolationReport }
  | { verdict: 'unknown'; reason: string };

const MEMORY_BYTES_DEFAULT = 512 * 1024 * 1024;
const SHRINK_MS_DEFAULT = 5_000;

/**
 * Checks `ops` against `model`. Throws HistoryFormatError when an operation breaks the format
 * (its `line` is then the 1-based position in `ops`). Never returns `ok` without a witness that
 * passed the independent replay.
 */
export function checkHistory(ops: readonly HistoryOp[], options: CheckOptions): CheckResult {
  const valid = validateHistory(ops);
  const started = performance.now();
  const budget = { deadlineMs: started + options.timeoutMs, memoryBytesMax: options.memoryBytesMax ?? MEMORY_BYTES_DEFAULT };
  const decision = decide(valid, options.model, budget);
  switch (decision.kind) {
    case 'ok': {
      const problem = witnessProblem(valid, options.model, decision.order);
      if (problem !== null) return { verdict: 'unknown', reason: `internal error: the witness found does not replay (${problem})` };
      return { verdict: 'ok', witness: decision.order };
    }
    case 'unknown':
      return { verdict: 'unknown', reason: decision.reason };
    case 'finding':
      return { verdict: 'violation', report: reportFinding(valid, decision.p, (i) => decision.p.source[i] as number, decision.finding) };
    case 'refuted': {
      const elapsedMs = performance.now() - started;
      const shrinkMs = options.shrinkTimeMs ?? Math.min(options.timeoutMs, SHRINK_MS_DEFAULT);
      const { decision: last, index } = shrinkViolation(valid, options.model, decision, {
        deadlineMs: performance.now() + shrinkMs,
        checkMsMax: Math.max(200, 2 * elapsedMs),
        memoryBytesMax: budget.memoryBytesMax,
      });
      const locate = (i: number) => index[last.p.source[i] as number] as number;
      const report =
        last.kind === 'finding'
          ? reportFinding(valid, last.p, locate, last.finding)
          : reportSearch(valid, options.model, last.p, locate, last.stuck);
      return { verdict: 'violation', report };
    }
  }
}

/** Counts for summaries: how many operations, clients and keys, and how many of each status. */
export function historyCounts(ops: readonly HistoryOp[]): { ops: number; clients: number; keys: number; ok: number; fail: number; unknown: number } {
  let ok = 0;
  let fail = 0;
  let unknown = 0;
  for (const op of ops) {
    if (op.status === 'ok') ok++;
    else if (op.status === 'fail') fail++;
    else unknown++;
  }
  return { ops: ops.length, clients: new Set(ops.map((o) => o.client)).size, keys: new Set(ops.map((o) => o.key)).size, ok, fail, unknown };
}

/**
 * Violation reports: a few operations and the reasons they cannot be ordered, in words a
 * person can act on without reading the history. Operations are written
 * `<client>#<seq> <op> <key> <args> → <output>`, e.g. `c2#7 get y → 1`, `c1#4 put y 1`.
 */
import type { HistoryOp } from './history.js';
import {
  ABSENT_READ,
  ISSUE,
  OVERWRITE_ISSUE,
  OVERWRITE_READ,
  OVERWRITE_RT,
  READS_FROM,
  RT,
  type Finding,
  type Step,
} from './constraints.js';
import { FAIL, GET, type Prepared } from './prepared.js';
import type { Model, Stuck } from './search.js';

/** A search-found report spells out at most this many operations in its explanation. */
const OPS_LISTED_MAX = 20;

export interface ViolationReport {
  /** One sentence to read first. */
  summary: string;
  /** The operations that cannot be ordered, as indices into the checked array, by call time. */
  involved: number[];
  /** Why, one statement per line. */
  explanation: string[];
}

/** A value as it appears in a report: bare when unambiguous, JSON otherwise (so "null" ≠ null). */
export function showValue(v: string | null | boolean): string {
  if (v === null || typeof v === 'boolean') return String(v);
  return /^[A-Za-z0-9_.:/+-]+$/.test(v) && v !== 'null' && v !== 'true' && v !== 'false' ? v : JSON.stringify(v);
}

export function describeOp(op: HistoryOp): string {
  let text = `${op.client}#${op.seq} ${op.op} ${showValue(op.key)}`;
  if (op.op === 'cas') text += ` ${showValue(op.expect ?? null)}`;
  if (op.value !== undefined) text += ` ${showValue(op.value)}`;
  if (op.status === 'fail') return `${text} (failed)`;
  if (op.status === 'unknown') return `${text} (outcome unknown)`;
  if (op.op === 'get' || op.op === 'cas') text += ` → ${showValue(op.output)}`;
  return text;
}

/** Sorted by call time, then client and seq: the order a person reads a timeline in. */
function byCall(ops: readonly HistoryOp[], indices: Iterable<number>): number[] {
  return [...new Set(indices)].sort((a, b) => {
    const x = ops[a] as HistoryOp;
    const y = ops[b] as HistoryOp;
    return x.call - y.call || (x.client < y.client ? -1 : x.client > y.client ? 1 : x.seq - y.seq);
  });
}

/**
 * `locate` maps an operation of `p` to its index in `ops`, the array the caller checked (p may
 * have been built from a shrunk copy); the report names and returns operations of `ops`.
 */
export function reportFinding(ops: readonly HistoryOp[], p: Prepared, locate: (i: number) => number, finding: Finding): ViolationReport {
  const src = locate;
  const d = (i: number) => describeOp(ops[src(i)] as HistoryOp);
  switch (finding.kind) {
    case 'suffix': {
      const chain = finding.chain;
      const first = chain[0] as number;
      const last = chain[chain.length - 1] as number;
      const explanation = [`${d(first)} did not take effect.`];
      for (let k = 1; k < chain.length; k++) {
        const prev = chain[k - 1] as number;
        const cur = chain[k] as number;
        const tail = k === chain.length - 1 ? 'yet it succeeded' : 'so it cannot have taken effect either';
        explanation.push(`${d(cur)} was issued while ${d(prev)} was outstanding (call ${p.call[cur]} < ret ${p.ret[prev]}), ${tail}.`);
      }
      explanation.push('Failures must be suffix-closed: no later operation issued while a failed one was outstanding may take effect.');
      return {
        summary: `${d(last)} took effect although ${d(first)}, issued earlier by the same client and still outstanding, did not.`,
        involved: byCall(ops, chain.map(src)),
        explanation,
      };
    }
    case 'unwritten': {
      const r = finding.read;
      const value = showValue(p.kind[r] === GET ? (p.output[r] as string) : (p.expect[r] as string));
      const key = showValue(p.keys[p.key[r] as number] as string);
      if (finding.leftOut.length === 0) {
        return {
          summary: `${d(r)} reads ${value}, a value no operation writes to ${key}.`,
          involved: [src(r)],
          explanation: [`No put, cas or append in the history can leave ${key} = ${value}.`],
        };
      }
      return {
        summary: `${d(r)} reads ${value}, but every write that could produce it did not take effect.`,
        involved: byCall(ops, [r, ...finding.leftOut].map(src)),
        explanation: finding.leftOut.map((w) =>
          p.status[w] === FAIL
            ? `${d(w)} failed, so it never took effect.`
            : `${d(w)} was issued while an earlier operation of its client that failed was outstanding, so it never took effect.`,
        ),
      };
    }
    case 'cycle': {
      const explanation = finding.steps.map((step) => explainStep(d, p, step));
      const names = finding.steps.map((s) => d(s.from));
      const extra = finding.steps.filter((s) => s.via >= 0).map((s) => src(s.via));
      return {
        summary: `${finding.steps.length} operations cannot be ordered: each must precede the next, and the last the first: ${names.join(' ⟶ ')} ⟶ ${names[0] as string}.`,
        involved: byCall(ops, [...finding.steps.map((s) => src(s.from)), ...extra]),
        explanation,
      };
    }
  }
}

function explainStep(d: (i: number) => string, p: Prepared, step: Step): string {
  const a = d(step.from);
  const b = d(step.to);
  const key = showValue(p.keys[p.key[step.to] as number] as string);
  const lead = `${a} must precede ${b}:`;
  switch (step.kind) {
    case RT:
      return `${lead} it returned before ${b} was issued (ret ${p.ret[step.from]} < call ${p.call[step.to]}).`;
    case ISSUE:
      return `${lead} the same client issued it earlier (issue order).`;
    case READS_FROM:
      return `${lead} ${b} reads a value only ${a} writes.`;
    case ABSENT_READ:
      return `${lead} it found ${key} absent, and nothing deletes, while ${b} writes ${key}.`;
    case OVERWRITE_RT:
    case OVERWRITE_ISSUE:
    case OVERWRITE_READ: {
      const w = d(step.via);
      const why =
        step.kind === OVERWRITE_RT
          ? `${w} returned before ${b} was issued`
          : step.kind === OVERWRITE_ISSUE
            ? `the same client issued ${b} after ${w}`
            : `${b} also read the value ${w} wrote`;
      return `${lead} it reads the value ${w} wrote, and ${b} overwrites ${key} after ${w} (${why}).`;
    }
  }
}

/**
 * For a violation the search proved on `p` (shrunk or not): its operations, and where every order
 * got stuck. `locate` as for reportFinding.
 */
export function reportSearch(ops: readonly HistoryOp[], model: Model, p: Prepared, locate: (i: number) => number, stuck: Stuck | null): ViolationReport {
  const involved = byCall(ops, Array.from({ length: p.n }, (_, i) => locate(i)));
  const explanation = [`No order of these ${involved.length} operations satisfies ${model} (found by exhaustive search):`];
  for (const i of involved.slice(0, OPS_LISTED_MAX)) explanation.push(`  ${describeOp(ops[i] as HistoryOp)}`);
  if (involved.length > OPS_LISTED_MAX) explanation.push(`  … and ${involved.length - OPS_LISTED_MAX} more (all of them are in the list of operations involved)`);
  if (stuck !== null) {
    const m = describeOp(ops[locate(stuck.op)] as HistoryOp);
    const key = showValue(p.keys[p.key[stuck.op] as number] as string);
    const why =
      stuck.waitsFor >= 0
        ? `which must follow ${describeOp(ops[locate(stuck.waitsFor)] as HistoryOp)} (issue order)`
        : `with ${key} = ${showValue(stuck.value)} at that point`;
    explanation.push(
      `The longest legal prefix places ${stuck.okPlaced} of the ${stuck.okTotal} successful operations; no order extends it past ${m}, the next one due, ${why}.`,
    );
  }
  return { summary: `No order of ${involved.length} operations satisfies ${model}.`, involved, explanation };
}

/**
 * The verdict alone, without a report or a replayed witness: what `checkHistory` starts from and
 * what shrinking re-asks on smaller histories.
 */
import type { HistoryOp } from './history.js';
import { analyzeConstraints, type Finding } from './constraints.js';
import { prepare, type Prepared } from './prepared.js';
import { search, type Model, type SearchHints, type SearchResult, type Stuck } from './search.js';
import { analyzeSources } from './sources.js';
import { mergeKeyOrders, witnessProblem, type MergeEdge, type Merged } from './witness.js';

/** The verdict without a report, on any subset of a history (what shrinking needs). */
export type Decision =
  | { kind: 'ok'; order: number[] }
  /** Proved by constraint analysis on `p`. */
  | { kind: 'finding'; p: Prepared; finding: Finding }
  /** Proved by exhaustive search on `p` (for linearizable: one key's operations). */
  | { kind: 'refuted'; p: Prepared; stuck: Stuck | null }
  | { kind: 'unknown'; reason: string };

export interface Budget {
  deadlineMs: number;
  memoryBytesMax: number;
}

/** Decides `model` for `ops` (already validated; a subset need not have consecutive seqs). */
export function decide(ops: readonly HistoryOp[], model: Model, budget: Budget): Decision {
  const whole = prepare(ops);
  const facts = analyzeSources(whole, model);
  const analysis = analyzeConstraints(whole, model, facts);
  if (analysis.kind === 'violation') return { kind: 'finding', p: whole, finding: analysis.finding };
  // Each key alone first: linearizability is local, so for it that is the whole answer. For mdl
  // it is a necessary condition (each key's operations must satisfy mdl on their own), and the
  // per-key orders usually merge into a witness; when they do not, search the whole history.
  // What is known of the whole history (who must take effect, and by when) holds for each key.
  // Free choices follow a guess of when each operation took effect, so that the keys' orders fit
  // together: midway between the earliest it can (`earliest`) and when it is due, and never before
  // an operation its client issued earlier.
  const sure = new Uint8Array(ops.length);
  const due = new Float64Array(ops.length);
  const rank = new Float64Array(ops.length);
  for (let i = 0; i < whole.n; i++) {
    const op = whole.source[i] as number;
    sure[op] = facts.sure[i] as number;
    due[op] = facts.due[i] as number;
    const earliest = analysis.earliest[i] as number;
    const moment = Number.isFinite(due[op]) && (due[op] as number) > earliest ? (earliest + (due[op] as number)) / 2 : earliest;
    const previous = i > (whole.laneStart[whole.lane[i] as number] as number) ? (rank[whole.source[i - 1] as number] as number) : -Infinity;
    rank[op] = Math.max(moment, previous);
  }
  const keys = searchKeys(ops, model, budget, { sure, due, rank });
  if (keys.kind !== 'orders') return keys;
  if (model === 'linearizable') {
    const merged = mergeKeyOrders(ops, [...keys.orders.values()], false);
    if (merged.stuck > 0) return { kind: 'unknown', reason: 'internal error: the per-key orders do not merge under real time' };
    return { kind: 'ok', order: merged.order };
  }
  const merged = mergeKeyOrders(ops, [...keys.orders.values()], true);
  if (merged.stuck === 0 && witnessProblem(ops, 'mdl', merged.order) === null) return { kind: 'ok', order: merged.order };
  // A merged order that does not fit is still a good guess of where each operation goes, and the
  // search of the whole history, trying its choices in that order, usually finds a witness near
  // it at once. When it does not within about the time a search without backtracking takes, or
  // stalls where it has no earlier decision to go back to, the keys' orders are repaired (which
  // proves nothing by itself but gives a better guess), and the search tries again from that
  // guess, guided, then exhaustively with what is left.
  const early = search(whole, 'mdl', { ...budget, deadlineMs: quickDeadline(budget, whole.n) }, { rank: guessRanks(ops, merged.order), guided: true, quitWhenStuck: true });
  if (early.kind !== 'unknown') return wholeDecision(whole, early);
  const repaired = repairKeyOrders(ops, keys, merged, { ...budget, deadlineMs: share(budget, REPAIR_SHARE) }, { sure, due, rank });
  if (repaired.witness !== null) return { kind: 'ok', order: repaired.witness };
  const guess = guessRanks(ops, repaired.guess);
  const guided = search(whole, 'mdl', { ...budget, deadlineMs: share(budget, GUIDED_SHARE) }, { rank: guess, guided: true });
  if (guided.kind !== 'unknown') return wholeDecision(whole, guided);
  const result = search(whole, 'mdl', budget, { rank: guess });
  if (result.kind !== 'unknown') return wholeDecision(whole, result);
  return { kind: 'unknown', reason: `${result.reason} after exploring ${result.states} states` };
}

/** The parts of what is left of the budget that the first search of the whole history, repairs, and the guided search after them may use. */
const EARLY_SEARCH_SHARE = 0.25;
const REPAIR_SHARE = 0.5;
const GUIDED_SHARE = 0.5;
/** The first search's time beyond a fixed second, per operation: a search that needs no backtracking takes a few µs per operation. */
const EARLY_SEARCH_MS_PER_OP = 0.03;

/** The first search's deadline: about what a search without backtracking needs, within EARLY_SEARCH_SHARE of the budget. */
function quickDeadline(budget: Budget, n: number): number {
  return Math.min(share(budget, EARLY_SEARCH_SHARE), performance.now() + 1000 + n * EARLY_SEARCH_MS_PER_OP);
}

/** A deadline `fraction` of the way from now to the budget's. */
function share(budget: Budget, fraction: number): number {
  const now = performance.now();
  return now + Math.max(0, budget.deadlineMs - now) * fraction;
}

function wholeDecision(whole: Prepared, result: Exclude<SearchResult, { kind: 'unknown' }>): Decision {
  if (result.kind === 'ok') return { kind: 'ok', order: result.order.map((i) => whole.source[i] as number) };
  return { kind: 'refuted', p: whole, stuck: result.stuck };
}

/** How many times the per-key orders are merged and repaired before the whole-history search takes over. */
const REPAIR_ROUNDS_MAX = 32;
/** Repairs stop after this many rounds without fewer cycles. */
const REPAIR_STALL_ROUNDS = 3;
/** How long one repair attempt (a per-key search under a guessed ordering) may take. */
const REPAIR_ATTEMPT_MS = 20;
/** How long the joint search of one cycle's keys may take. */
const JOINT_ATTEMPT_MS = 1000;

/**
 * Merges the per-key orders; where issue order closes a cycle through them, changes the orders of
 * the cycle's keys so that it opens, and merges again, until no cycle is left or no round makes
 * progress. First one key of the cycle is asked for another order that reverses its edge in the
 * cycle, trying first the edge that goes furthest back in time (`earliest`), the likeliest wrong
 * guess; the key keeps the rest of its order, and its reversals accumulate. When no single key
 * can, the cycle's keys are searched together under issue order, and what that decides for the
 * cycle's edges is pinned so that later reversals do not undo it. Returns a replayed witness, or
 * null with the best merged order (fewest cycles) (a guess for the search) when this does not get there.
 */
function repairKeyOrders(ops: readonly HistoryOp[], keys: KeyOrders, first: Merged, budget: Budget, hints: SearchHints): { witness: number[] | null; guess: number[] } {
  const earliest = hints.rank as Float64Array;
  /** Per key, the orderings imposed on it so far; a pinned one came from a joint search and stays. */
  const guesses = new Map<string, { pair: readonly [number, number]; pinned: boolean }[]>();
  /** Key sets a joint search could not order in time, and those searched together this round. */
  const hopeless = new Set<string>();
  const searched = new Set<string>();
  // A repaired key keeps the rest of its order: its search prefers the order it had.
  const previous = new Float64Array(ops.length);
  let merged = first;
  let best = merged;
  let sinceBest = 0;
  for (let round = 0; round < REPAIR_ROUNDS_MAX && merged.stuck > 0 && sinceBest < REPAIR_STALL_ROUNDS && performance.now() < budget.deadlineMs; round++) {
    const position = new Float64Array(ops.length);
    merged.order.forEach((op, k) => (position[op] = k));
    searched.clear();
    let changed = false;
    for (const cycle of merged.cycles) {
      if (performance.now() >= budget.deadlineMs) break;
      if (reverseOneEdge(cycle) || searchJointly(cycle, position)) changed = true;
    }
    if (!changed) break;
    merged = mergeKeyOrders(ops, [...keys.orders.values()], true);
    sinceBest = merged.stuck < best.stuck ? 0 : sinceBest + 1;
    if (merged.stuck < best.stuck) best = merged;
  }
  const witness = best.stuck === 0 && witnessProblem(ops, 'mdl', best.order) === null ? best.order : null;
  return { witness, guess: best.order };

  function solveKey(key: string, imposed: { pair: readonly [number, number]; pinned: boolean }[]): boolean {
    const p = keys.prepared.get(key) as Prepared;
    (keys.orders.get(key) as number[]).forEach((op, k) => (previous[op] = k));
    const deadlineMs = Math.min(budget.deadlineMs, performance.now() + REPAIR_ATTEMPT_MS);
    const result = search(p, 'mdl', { deadlineMs, memoryBytesMax: budget.memoryBytesMax }, { ...hints, rank: previous, precedes: imposed.map((g) => g.pair) });
    if (result.kind !== 'ok') return false;
    guesses.set(key, imposed);
    keys.orders.set(key, result.order.map((i) => p.source[i] as number));
    return true;
  }

  function reverseOneEdge(cycle: MergeEdge[]): boolean {
    const backwards = (e: MergeEdge) => (earliest[e.from] as number) - (earliest[e.to] as number);
    for (const edge of cycle.filter((e) => e.kind === 'key').sort((a, b) => backwards(b) - backwards(a))) {
      const key = (ops[edge.from] as HistoryOp).key;
      const reversed = { pair: [edge.to, edge.from] as const, pinned: false };
      // When this reversal does not fit with the key's earlier ones, the most recent earlier one
      // it fits without (and that no joint search pinned) is given up.
      const earlier = guesses.get(key) ?? [];
      if (performance.now() >= budget.deadlineMs) return false;
      if (solveKey(key, [...earlier, reversed])) return true;
      for (let j = earlier.length - 1; j >= 0 && performance.now() < budget.deadlineMs; j--) {
        if ((earlier[j] as { pinned: boolean }).pinned) continue;
        if (solveKey(key, [...earlier.filter((_, k) => k !== j), reversed])) return true;
      }
    }
    return false;
  }

  /** Searches the cycle's keys together, under issue order, preferring the merged order `position`; pins what it decides for the cycle's edges. */
  function searchJointly(cycle: MergeEdge[], position: Float64Array): boolean {
    const names = new Set(cycle.map((e) => (ops[e.from] as HistoryOp).key));
    const signature = JSON.stringify([...names].sort());
    if (hopeless.has(signature) || searched.has(signature)) return false;
    searched.add(signature);
    const indices: number[] = [];
    ops.forEach((op, i) => {
      if (names.has(op.key)) indices.push(i);
    });
    const p = prepare(ops, indices);
    const deadlineMs = Math.min(budget.deadlineMs, performance.now() + JOINT_ATTEMPT_MS);
    const result = search(p, 'mdl', { deadlineMs, memoryBytesMax: budget.memoryBytesMax }, { ...hints, rank: position });
    if (result.kind !== 'ok') {
      hopeless.add(signature);
      return false;
    }
    const at = new Map<number, number>();
    for (const name of names) keys.orders.set(name, []);
    result.order.forEach((i, k) => {
      const op = p.source[i] as number;
      at.set(op, k);
      (keys.orders.get((ops[op] as HistoryOp).key) as number[]).push(op);
    });
    for (const e of cycle) {
      if (e.kind !== 'key') continue;
      const key = (ops[e.from] as HistoryOp).key;
      const pair = (at.get(e.from) as number) < (at.get(e.to) as number) ? ([e.from, e.to] as const) : ([e.to, e.from] as const);
      guesses.set(key, [...(guesses.get(key) ?? []).filter((g) => !(g.pair[0] === pair[1] && g.pair[1] === pair[0])), { pair, pinned: true }]);
    }
    return true;
  }
}

/**
 * Each operation's place in `order`; one that is not in it goes just after the latest-placed
 * operation of `order` issued no later than it.
 */
function guessRanks(ops: readonly HistoryOp[], order: readonly number[]): Float64Array {
  const rank = new Float64Array(ops.length).fill(-1);
  order.forEach((op, k) => (rank[op] = k));
  const byCall = ops.map((_, i) => i).sort((a, b) => (ops[a] as HistoryOp).call - (ops[b] as HistoryOp).call);
  let latest = -1;
  for (const i of byCall) {
    if (rank[i] === -1) rank[i] = latest + 0.5;
    else latest = Math.max(latest, rank[i] as number);
  }
  return rank;
}

interface KeyOrders {
  kind: 'orders';
  orders: Map<string, number[]>;
  prepared: Map<string, Prepared>;
}

/**
 * One search per key. Under linearizability failed operations and unknown gets never matter and
 * are left out; under mdl every operation of the key takes part.
 */
function searchKeys(ops: readonly HistoryOp[], model: Model, budget: Budget, hints: SearchHints): KeyOrders | Decision {
  const byKey = new Map<string, number[]>();
  ops.forEach((op, i) => {
    if (model === 'linearizable' && (op.status === 'fail' || (op.status === 'unknown' && op.op === 'get'))) return;
    const list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, [i]);
    else list.push(i);
  });
  const orders = new Map<string, number[]>();
  const prepared = new Map<string, Prepared>();
  let gaveUp: string | null = null;
  for (const [key, indices] of byKey) {
    const p = prepare(ops, indices);
    const result = search(p, model, budget, hints);
    if (result.kind === 'violation') return { kind: 'refuted', p, stuck: result.stuck };
    if (result.kind === 'unknown') gaveUp ??= `${result.reason} on key ${JSON.stringify(key)} after exploring ${result.states} states`;
    else {
      orders.set(key, result.order.map((i) => p.source[i] as number));
      prepared.set(key, p);
    }
  }
  return gaveUp === null ? { kind: 'orders', orders, prepared } : { kind: 'unknown', reason: gaveUp };
}

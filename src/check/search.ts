/**
 * The exact search for a witness order (HISTORY.md's definitions), shared by both models.
 *
 * A search state is the set of operations already decided (placed in the order, or left out)
 * plus the key-value state they produced; the search extends a prefix of the order one
 * operation at a time, depth first, without recursion, and remembers every state it has
 * explored (FingerprintSet) so that no state is explored twice.
 *
 * - `mdl`: each client's operations are a lane taken in issue order, so only the first undecided
 *   operation of each lane can be next. An unknown operation can be placed or left out; leaving
 *   it out leaves out the rest of its suffix-closed failure run (prepared.ts), which must hold no
 *   ok operation. A failed operation is always left out, with its run.
 * - `linearizable`: the caller gives one key's operations at a time (linearizability is local),
 *   without failed operations; any undecided operation can be next, and an unknown one that is
 *   never placed is simply not in the order.
 * - Real time, in both: an operation can be placed only when no undecided ok operation returned
 *   before it was issued, i.e. its call is at most the earliest return among undecided ok
 *   operations (the "bound"). More precisely, every operation that is in every witness has a
 *   `due` time (sources.ts), the earliest return among ok operations it must precede, and the
 *   bound is the earliest `due` among undecided ones.
 *
 * What keeps it fast on real histories, each argued exact:
 * - Operations that cannot change the state and are legal now (a get that reads the current
 *   value, an ok cas that returned false while the value differs, an unknown get) are placed at
 *   once without branching: any witness that places one later can move it here, because it sees
 *   the same state and every ordering constraint it has is already satisfied.
 * - Dead states are cut as soon as they appear: when a write overwrites a value that an undecided
 *   ok read still needs and nothing left can write that value again (there is no delete, so an
 *   absent key never comes back); when a write that must precede such a read (real time) would
 *   have to overwrite it first; or when one of the next few reads of a key can no longer see its
 *   value (appends only grow a value; a value needs a writer of itself or of a prefix).
 * - Writes are tried in the order of a guess of their place in a witness: the caller's `rank`
 *   hint, or by default the order they were issued in (never a client's later operation before
 *   its earlier one). Unknown writes whose effect someone observes, or that cannot be left out,
 *   are tried at their place too; the others last, after leaving them out.
 */
import { FingerprintSet } from './memo.js';
import { APPEND, CAS, FAIL, GET, OK, PUT, UNKNOWN, type Prepared } from './prepared.js';
import { tileableFrom, tilingWays } from './sources.js';
import { NULL_HASH_1, NULL_HASH_2, tablesFor } from './tables.js';

export type Model = 'linearizable' | 'mdl';

export interface SearchBudget {
  /** performance.now() after which the search gives up. */
  deadlineMs: number;
  /** Bytes the search may hold in its tables before it gives up. */
  memoryBytesMax: number;
}

/** Where the search got furthest when no witness exists: a hint for the report. */
export interface Stuck {
  okPlaced: number;
  okTotal: number;
  /** The unplaced ok operation that returned first: nothing issued after that could follow. */
  op: number;
  /** The value of its key at that point. */
  value: string | null;
  /** mdl: an earlier operation of the same client that was still undecided then, or -1. */
  waitsFor: number;
}

export type SearchResult =
  | { kind: 'ok'; order: number[] }
  | { kind: 'violation'; stuck: Stuck | null }
  | { kind: 'unknown'; reason: string; states: number; stuck: Stuck | null };

/** What the caller knows beyond `p`, each indexed like the array `p` was prepared from. */
export interface SearchHints {
  /**
   * When `p` is part of a history: which operations are in every witness of the whole, and by
   * when they are due (sources.ts). They hold for the part too, and make its search sharper.
   */
  sure?: Uint8Array;
  due?: Float64Array;
  /** A guess of each operation's place in a witness: writes are tried in that order. */
  rank?: Float64Array;
  /**
   * Extra orderings [a, b] to impose: when both are in the order, a comes first. They are
   * guesses, not facts: a violation found under them proves nothing about the history.
   */
  precedes?: readonly (readonly [number, number])[];
  /**
   * Guided, and incomplete: when the search stalls (see STALL_NODES), it jumps back to the last
   * decision that changed the key of the operation it is stuck on, makes that change wait until
   * the operation is decided, and goes on from there, leaving the rest of the abandoned subtree
   * unexplored. So it finds witnesses that a plain depth-first search reaches
   * only after exhausting everything below an early wrong guess, but it can never prove that no
   * witness exists: it answers `ok` or `unknown`, never `violation`.
   */
  guided?: boolean;
  /**
   * Guided only: at a stall with nowhere to jump back to, give up (`unknown`) instead of going on
   * depth first. For a first try whose caller can make a better guess when it fails.
   */
  quitWhenStuck?: boolean;
}

export function search(p: Prepared, model: Model, budget: SearchBudget, hints: SearchHints = {}): SearchResult {
  return new Search(p, model === 'mdl', budget, hints).run();
}

const PLACE = 0;
const SKIP = 1;
/** How many of a key's next undecided reads are checked for reachability after it changes. */
const READS_CHECKED = 8;
/** How many cas operations currentValueSurvives follows along a lineage. */
const CHAIN_MAX = 8;
/** How many of a key's undecided writes that must precede a read are examined for one that would destroy its value. */
const DESTROYERS_CHECKED = 64;
const NODES_PER_CLOCK_CHECK = 128;
/** How many operations one precedence walk visits at most. */
const PRECEDENCE_VISITS_MAX = 4096;
/** Above this many (append × read or written value) pairs on one key, its appends get no piece readers. */
const PIECE_PAIRS_MAX = 1 << 20;
/** Guided search: nodes without a new most-placed count before it jumps back. */
const STALL_NODES = 4096;
/** Guided search: how many earlier changes of the stuck operation's key it tries moving it ahead of. */
const JUMPS_PER_OP_MAX = 8;

function fmix(x: number): number {
  let h = x ^ (x >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function bump(counts: Int32Array, i: number, delta: number): void {
  counts[i] = (counts[i] as number) + delta;
}

/** Growable Int32Array stack. */
class IntStack {
  data: Int32Array;
  length = 0;
  constructor(capacity: number) {
    this.data = new Int32Array(Math.max(16, capacity));
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new Int32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }
}

/** The search itself. Fields without a comment are documented in tables.ts, which computes them. */
class Search {
  private readonly n: number;
  private readonly okTotal: number;
  private readonly kind: Uint8Array;
  private readonly status: Uint8Array;
  private readonly key: Int32Array;
  private readonly call: Float64Array;
  private readonly ret: Float64Array;
  private readonly writer: Uint8Array;
  /** In every witness and surely changes its key when placed: put, non-empty append, ok cas that swapped. */
  private readonly certain: Uint8Array;
  private readonly okRead: Uint8Array;
  private readonly writeId: Int32Array;
  private readonly expectId: Int32Array;
  private readonly needId: Int32Array;
  private readonly appendH1: Uint32Array;
  private readonly appendH2: Uint32Array;
  private readonly appendPow1: Uint32Array;
  private readonly appendPow2: Uint32Array;
  private readonly deadline: Float64Array;
  /** The order writes are tried in: the rank hint, or issue order. */
  private readonly priority: Float64Array;
  private readonly runObserved: Uint8Array;
  private readonly skipEnd: Int32Array;
  /** In every witness (sources.ts, and the hints). */
  private readonly sure: Uint8Array;
  /** For those: the earliest return among ok operations they must precede (sources.ts, and the hints). */
  private readonly due: Float64Array;
  private readonly z1: Uint32Array;
  private readonly z2: Uint32Array;
  private readonly z3: Uint32Array;
  private readonly idsOfKey: Map<string, number>[];
  private readonly idStr: (string | null)[];
  private readonly idH1: number[];
  private readonly idH2: number[];
  private readonly nullId: Int32Array;
  private readonly producersOf: Int32Array[];
  private readonly appendsOfKey: Int32Array[];
  private readonly readersOf: Int32Array[];
  private readonly prefixWriters: (Int32Array | null)[];
  private readonly prefixReaders: (Int32Array | null)[];
  private readonly prefixReadersOf: (Int32Array | null)[];
  private readonly prefixUntracked: Uint8Array;
  // Dynamic state.
  private readonly decided: Uint8Array;
  private readonly needCount: Int32Array;
  private readonly produceCount: Int32Array;
  private readonly appendsLeft: Int32Array;
  /** Per key, its undecided appends by value (see LiveAppends). */
  private readonly liveAppends: LiveAppends[];
  private readonly writesLeft: Int32Array;
  private readonly vals: (string | null)[];
  private readonly valId: Int32Array;
  private readonly valH1: Uint32Array;
  private readonly valH2: Uint32Array;
  private st1 = 0;
  private st2 = 0;
  private st3 = 0;
  private d1 = 0;
  private d2 = 0;
  private d3 = 0;
  private okLeft: number;
  // Doubly linked lists with sentinels, restored in LIFO order on undo.
  /** Operations that may be placed next but for real time, sorted by call. Sentinel n. */
  private readonly enPrev: Int32Array;
  private readonly enNext: Int32Array;
  /** Undecided operations that are in every witness, sorted by `due`; the first gives the bound. Sentinel n. */
  private readonly duePrev: Int32Array;
  private readonly dueNext: Int32Array;
  /** Per key, its undecided ok reads (get, cas) sorted by call. Sentinel n + key. */
  private readonly rdPrev: Int32Array;
  private readonly rdNext: Int32Array;
  /** Per key, its undecided operations that surely change it (see `certain`), sorted by `due`. Sentinel n + key. */
  private readonly cwPrev: Int32Array;
  private readonly cwNext: Int32Array;
  // Trail of decisions, undone in reverse.
  private readonly trOp: IntStack;
  private readonly trKind: IntStack;
  private readonly trInserted: IntStack;
  private readonly trChanged: IntStack;
  private readonly trPrevVal: (string | null)[] = [];
  private readonly trPrevId: IntStack;
  private readonly trPrevH1: number[] = [];
  private readonly trPrevH2: number[] = [];
  // Keys changed since the last node, for the reachability check.
  private readonly touched: IntStack;
  private readonly touchedAt: Int32Array;
  private nodeStamp = 1;
  /** The lineage currentValueSurvives follows. */
  private readonly chain = new Int32Array(CHAIN_MAX);
  /** hints.precedes: for each operation, those that must wait until it is decided; and how many each waits for. */
  private readonly waiters: number[][] | null = null;
  private readonly waitCount: Int32Array;
  // Choices of the current node, before sorting.
  private candOp: Int32Array;
  private candPrio: Float64Array;
  private candTie: Float64Array;
  /** precedenceCycle's walk: the queue, and per operation the walk that visited it or targets it. */
  private readonly walk: Int32Array;
  private readonly visitedAt: Int32Array;
  private readonly targetAt: Int32Array;
  private walkStamp = 0;
  private walkTail = 0;
  private walkHorizon = 0;
  /** mdl, for an append: the ok reads of its key whose value holds its piece when nothing else can write that piece; else null. */
  private readonly pieceReaders: (Int32Array | null)[];
  /** mdl, for a put or cas that is the only base of some reads (Sources.base): those reads, and the appends whose pieces follow it there; else null. */
  private readonly baseFollowers: (Int32Array | null)[];
  /** The next operation of the same client after i that is in every witness, or -1. */
  private readonly nextSure: Int32Array;
  private readonly memo = new FingerprintSet();
  private bestOk = -1;
  private stuck: Stuck | null = null;
  private readonly guided: boolean;
  private readonly quitWhenStuck: boolean;
  /** Guided search: nodes since the most-placed count last grew, and the shortest trail since. */
  private sinceProgress = 0;
  private lowWater = 0;
  /** Guided search: jumps made for each stuck operation. */
  private readonly jumps = new Map<number, number>();
  private jumpOp = -1;
  private jumpCulprit = -1;

  constructor(
    private readonly p: Prepared,
    private readonly mdl: boolean,
    private readonly budget: SearchBudget,
    hints: SearchHints,
  ) {
    const n = p.n;
    const keys = p.keys.length;
    const t = tablesFor(p, mdl);
    this.n = n;
    this.guided = hints.guided === true;
    this.quitWhenStuck = this.guided && hints.quitWhenStuck === true;
    this.kind = p.kind;
    this.status = p.status;
    this.key = p.key;
    this.call = p.call;
    this.ret = p.ret;
    this.skipEnd = t.skipEnd;
    this.sure = Uint8Array.from(t.facts.sure);
    this.due = Float64Array.from(t.facts.due);
    for (let i = 0; i < n; i++) {
      const op = p.source[i] as number;
      if (hints.sure?.[op] === 1) this.sure[i] = 1;
      this.due[i] = Math.min(this.due[i] as number, hints.due?.[op] ?? Infinity);
    }
    this.okTotal = t.okTotal;
    this.okLeft = t.okTotal;
    this.writer = t.writer;
    this.okRead = t.okRead;
    this.writeId = t.writeId;
    this.expectId = t.expectId;
    this.needId = t.needId;
    this.appendH1 = t.appendH1;
    this.appendH2 = t.appendH2;
    this.appendPow1 = t.appendPow1;
    this.appendPow2 = t.appendPow2;
    this.idsOfKey = t.idsOfKey;
    this.idStr = t.idStr;
    this.idH1 = t.idH1;
    this.idH2 = t.idH2;
    this.nullId = t.nullId;
    this.producersOf = t.producersOf;
    this.appendsOfKey = t.appendsOfKey;
    this.readersOf = t.readersOf;
    this.prefixWriters = t.prefixWriters;
    this.prefixUntracked = t.prefixUntracked;
    this.prefixReaders = t.prefixReaders;
    this.prefixReadersOf = t.prefixReadersOf;
    this.runObserved = t.runObserved;
    this.deadline = t.deadline;
    this.z1 = t.z1;
    this.z2 = t.z2;
    this.z3 = t.z3;
    this.needCount = Int32Array.from(t.needCount);
    this.produceCount = Int32Array.from(t.produceCount);
    this.appendsLeft = Int32Array.from(t.appendsLeft);
    this.liveAppends = t.appendsOfKey.map((list) => new LiveAppends(Array.from(list, (a) => p.value[a] as string)));
    this.writesLeft = Int32Array.from(t.writesLeft);
    this.certain = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const kind = p.kind[i];
      const changes = kind !== APPEND || (p.value[i] as string).length > 0;
      if (this.writer[i] === 1 && changes && (p.status[i] === OK || (this.sure[i] === 1 && kind !== CAS))) this.certain[i] = 1;
    }

    this.waitCount = new Int32Array(n);
    if ((hints.precedes !== undefined && hints.precedes.length > 0) || this.guided) {
      const local = new Map<number, number>();
      for (let i = 0; i < n; i++) local.set(p.source[i] as number, i);
      this.waiters = Array.from({ length: n }, () => []);
      for (const [a, b] of hints.precedes ?? []) {
        const la = local.get(a);
        const lb = local.get(b);
        if (la !== undefined && lb !== undefined) this.impose(la, lb);
      }
    }
    this.priority = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const guess = hints.rank?.[p.source[i] as number];
      if (guess !== undefined) this.priority[i] = guess;
      else this.priority[i] = mdl && i > (p.laneStart[p.lane[i] as number] as number) ? Math.max(p.call[i] as number, this.priority[i - 1] as number) : (p.call[i] as number);
    }

    this.walk = new Int32Array(n);
    this.pieceReaders = mdl ? this.tabulatePieceReaders() : [];
    this.baseFollowers = mdl ? this.tabulateBaseFollowers(t.facts.base) : [];
    this.visitedAt = new Int32Array(n);
    this.targetAt = new Int32Array(n);
    this.nextSure = new Int32Array(n).fill(-1);
    for (let c = 0; mdl && c < p.clients.length; c++) {
      let next = -1;
      for (let i = (p.laneEnd[c] as number) - 1; i >= (p.laneStart[c] as number); i--) {
        this.nextSure[i] = next;
        if (this.sure[i] === 1) next = i;
      }
    }

    this.decided = new Uint8Array(n);
    this.vals = new Array<string | null>(keys).fill(null);
    this.valId = Int32Array.from(this.nullId);
    this.valH1 = new Uint32Array(keys).fill(NULL_HASH_1);
    this.valH2 = new Uint32Array(keys).fill(NULL_HASH_2);
    for (let x = 0; x < keys; x++) this.toggleContribution(x);

    this.enPrev = new Int32Array(n + 1);
    this.enNext = new Int32Array(n + 1);
    const byCall = (a: number, b: number) => (p.call[a] as number) - (p.call[b] as number) || a - b;
    const enabled: number[] = [];
    for (let i = 0; i < n; i++) if (!mdl || i === p.laneStart[p.lane[i] as number]) enabled.push(i);
    this.linkSorted(this.enPrev, this.enNext, n, enabled.sort(byCall));
    this.duePrev = new Int32Array(n + 1);
    this.dueNext = new Int32Array(n + 1);
    const byDue = (a: number, b: number) => (this.due[a] as number) - (this.due[b] as number) || a - b;
    const sure: number[] = [];
    for (let i = 0; i < n; i++) if (this.sure[i] === 1) sure.push(i);
    this.linkSorted(this.duePrev, this.dueNext, n, sure.sort(byDue));
    this.rdPrev = new Int32Array(n + keys);
    this.rdNext = new Int32Array(n + keys);
    const reads: number[][] = Array.from({ length: keys }, () => []);
    for (let i = 0; i < n; i++) if (this.okRead[i] === 1) reads[p.key[i] as number]?.push(i);
    for (let x = 0; x < keys; x++) this.linkSorted(this.rdPrev, this.rdNext, n + x, (reads[x] as number[]).sort(byCall));
    this.cwPrev = new Int32Array(n + keys);
    this.cwNext = new Int32Array(n + keys);
    const changers: number[][] = Array.from({ length: keys }, () => []);
    for (let i = 0; i < n; i++) if (this.certain[i] === 1) changers[p.key[i] as number]?.push(i);
    for (let x = 0; x < keys; x++) this.linkSorted(this.cwPrev, this.cwNext, n + x, (changers[x] as number[]).sort(byDue));

    this.trOp = new IntStack(n);
    this.trKind = new IntStack(n);
    this.trInserted = new IntStack(n);
    this.trChanged = new IntStack(n);
    this.trPrevId = new IntStack(n);
    this.touched = new IntStack(keys);
    this.touchedAt = new Int32Array(keys);
    this.candOp = new Int32Array(64);
    this.candPrio = new Float64Array(64);
    this.candTie = new Float64Array(64);
    for (let x = 0; x < keys; x++) this.touch(x);
  }

  private linkSorted(prev: Int32Array, next: Int32Array, sentinel: number, items: readonly number[]): void {
    let last = sentinel;
    for (const i of items) {
      next[last] = i;
      prev[i] = last;
      last = i;
    }
    next[last] = sentinel;
    prev[sentinel] = last;
  }

  /** XORs key x's current (key, value) contribution into the state fingerprint. */
  private toggleContribution(x: number): void {
    const a = fmix((this.valH1[x] as number) ^ Math.imul(x + 1, 0x9e3779b1));
    const b = fmix((this.valH2[x] as number) ^ Math.imul(x + 1, 0x85ebca77));
    this.st1 ^= a;
    this.st2 ^= b;
    this.st3 ^= fmix((a + Math.imul(b, 0xc2b2ae3d)) ^ x);
  }

  private setValue(x: number, s: string | null, id: number, h1: number, h2: number): void {
    this.toggleContribution(x);
    this.vals[x] = s;
    this.valId[x] = id;
    this.valH1[x] = h1;
    this.valH2[x] = h2;
    this.toggleContribution(x);
  }

  private touch(x: number): void {
    if (this.touchedAt[x] !== this.nodeStamp) {
      this.touchedAt[x] = this.nodeStamp;
      this.touched.push(x);
    }
  }

  private flipDecided(i: number): void {
    this.decided[i] = 1 - (this.decided[i] as number);
    const waiters = this.waiters?.[i];
    if (waiters !== undefined) {
      const delta = this.decided[i] === 1 ? -1 : 1;
      for (let k = 0; k < waiters.length; k++) bump(this.waitCount, waiters[k] as number, delta);
    }
    this.d1 ^= this.z1[i] as number;
    this.d2 ^= this.z2[i] as number;
    this.d3 ^= this.z3[i] as number;
  }

  /** From now on b waits until a is decided (a is undecided now). */
  private impose(a: number, b: number): void {
    (this.waiters as number[][])[a]?.push(b);
    bump(this.waitCount, b, 1);
  }

  private unlink(prev: Int32Array, next: Int32Array, i: number): void {
    const a = prev[i] as number;
    const b = next[i] as number;
    next[a] = b;
    prev[b] = a;
  }

  private relink(prev: Int32Array, next: Int32Array, i: number): void {
    next[prev[i] as number] = i;
    prev[next[i] as number] = i;
  }

  /** Makes the next operation of a lane placeable (mdl), keeping the list sorted by call. */
  private enable(j: number): void {
    const call = this.call[j] as number;
    let k = this.enNext[this.n] as number;
    while (k !== this.n && ((this.call[k] as number) < call || ((this.call[k] as number) === call && k < j))) k = this.enNext[k] as number;
    const before = this.enPrev[k] as number;
    this.enNext[before] = j;
    this.enPrev[j] = before;
    this.enNext[j] = k;
    this.enPrev[k] = j;
  }

  /** In mdl, position j of the lane of operation i, if that lane reaches it; otherwise -1. */
  private laneAt(i: number, j: number): number {
    if (!this.mdl) return -1;
    return j < (this.p.laneEnd[this.p.lane[i] as number] as number) ? j : -1;
  }

  private adjustWriterCounts(i: number, delta: number): void {
    const x = this.key[i] as number;
    bump(this.writesLeft, x, delta);
    if (this.kind[i] === APPEND) {
      bump(this.appendsLeft, x, delta);
      (this.liveAppends[x] as LiveAppends).add(this.p.value[i] as string, delta);
    } else bump(this.produceCount, this.writeId[i] as number, delta);
  }

  /** Places operation i next in the order. False when that makes the state dead. */
  private place(i: number): boolean {
    this.trOp.push(i);
    this.trKind.push(PLACE);
    this.flipDecided(i);
    this.unlink(this.enPrev, this.enNext, i);
    if (this.sure[i] === 1) this.unlink(this.duePrev, this.dueNext, i);
    if (this.status[i] === OK) this.okLeft--;
    if (this.okRead[i] === 1) this.unlink(this.rdPrev, this.rdNext, i);
    if (this.certain[i] === 1) this.unlink(this.cwPrev, this.cwNext, i);
    const need = this.needId[i] as number;
    if (need >= 0) bump(this.needCount, need, -1);
    if (this.writer[i] === 1) this.adjustWriterCounts(i, -1);

    const x = this.key[i] as number;
    const oldId = this.valId[x] as number;
    let alive = true;
    let changed = false;
    const kind = this.kind[i];
    if (kind === PUT || (kind === CAS && oldId === this.expectId[i])) {
      const id = this.writeId[i] as number;
      if (id !== oldId) {
        this.recordOldValue(x);
        this.setValue(x, this.idStr[id] as string, id, this.idH1[id] as number, this.idH2[id] as number);
        changed = true;
      }
    } else if (kind === APPEND && (this.p.value[i] as string).length > 0) {
      this.recordOldValue(x);
      const old = this.vals[x] as string | null;
      const s = (old ?? '') + (this.p.value[i] as string);
      const base1 = old === null ? 0 : (this.valH1[x] as number);
      const base2 = old === null ? 0 : (this.valH2[x] as number);
      const h1 = (Math.imul(base1, this.appendPow1[i] as number) + (this.appendH1[i] as number)) >>> 0;
      const h2 = (Math.imul(base2, this.appendPow2[i] as number) + (this.appendH2[i] as number)) >>> 0;
      this.setValue(x, s, (this.idsOfKey[x] as Map<string, number>).get(s) ?? -1, h1, h2);
      changed = true;
    }
    this.trChanged.push(changed ? 1 : 0);
    if (changed) {
      this.touch(x);
      if (oldId >= 0 && (this.needCount[oldId] as number) > 0 && !this.producible(x, oldId)) alive = false;
    } else if (this.writer[i] === 1) {
      this.touch(x);
    }
    const next = this.laneAt(i, i + 1);
    if (next >= 0) this.enable(next);
    this.trInserted.push(next);
    return alive && (this.writer[i] === 0 || this.dependentsSatisfiable(i));
  }

  private recordOldValue(x: number): void {
    this.trPrevVal.push(this.vals[x] as string | null);
    this.trPrevId.push(this.valId[x] as number);
    this.trPrevH1.push(this.valH1[x] as number);
    this.trPrevH2.push(this.valH2[x] as number);
  }

  /** Leaves lane head i out of the order (mdl), with its failure run. False when that makes the state dead. */
  private skip(i: number): boolean {
    this.trOp.push(i);
    this.trKind.push(SKIP);
    this.trChanged.push(0);
    this.unlink(this.enPrev, this.enNext, i);
    const end = this.skipEnd[i] as number;
    let alive = true;
    for (let k = i; k < end; k++) {
      this.flipDecided(k);
      if (this.writer[k] === 1) {
        this.adjustWriterCounts(k, -1);
        const x = this.key[k] as number;
        this.touch(x);
        const id = this.writeId[k] as number;
        if (id >= 0 && (this.needCount[id] as number) > 0 && this.valId[x] !== id && !this.producible(x, id)) alive = false;
        if (alive && !this.dependentsSatisfiable(k)) alive = false;
      }
    }
    const next = this.laneAt(i, end);
    if (next >= 0) this.enable(next);
    this.trInserted.push(next);
    return alive;
  }

  private undoLast(): void {
    const t = --this.trOp.length;
    this.trKind.length--;
    this.trInserted.length--;
    this.trChanged.length--;
    const i = this.trOp.data[t] as number;
    const inserted = this.trInserted.data[t] as number;
    if (inserted >= 0) this.unlink(this.enPrev, this.enNext, inserted);
    if (this.trKind.data[t] === SKIP) {
      for (let k = (this.skipEnd[i] as number) - 1; k >= i; k--) {
        if (this.writer[k] === 1) this.adjustWriterCounts(k, 1);
        this.flipDecided(k);
      }
      this.relink(this.enPrev, this.enNext, i);
      return;
    }
    if (this.trChanged.data[t] === 1) {
      const x = this.key[i] as number;
      const s = this.trPrevVal.pop() as string | null;
      const id = this.trPrevId.data[--this.trPrevId.length] as number;
      const h2 = this.trPrevH2.pop() as number;
      const h1 = this.trPrevH1.pop() as number;
      this.setValue(x, s, id, h1, h2);
    }
    if (this.writer[i] === 1) this.adjustWriterCounts(i, 1);
    const need = this.needId[i] as number;
    if (need >= 0) bump(this.needCount, need, 1);
    if (this.certain[i] === 1) this.relink(this.cwPrev, this.cwNext, i);
    if (this.okRead[i] === 1) this.relink(this.rdPrev, this.rdNext, i);
    if (this.status[i] === OK) this.okLeft++;
    if (this.sure[i] === 1) this.relink(this.duePrev, this.dueNext, i);
    this.relink(this.enPrev, this.enNext, i);
    this.flipDecided(i);
  }

  /** Could value `id` of key x still be written by an undecided operation? (Necessary, not sufficient.) */
  private producible(x: number, id: number): boolean {
    if (id === this.nullId[x]) return false;
    return this.liveProducer(x, id) || this.appendCanProduce(x, id);
  }

  /**
   * Is there an undecided put or cas that writes value `id` and could still take effect? A cas
   * can only if its expected value is current or could be written again (one level deep).
   */
  private liveProducer(x: number, id: number): boolean {
    if (this.produceCount[id] === 0) return false;
    const writers = this.producersOf[id] as Int32Array;
    for (let k = 0; k < writers.length; k++) {
      const w = writers[k] as number;
      if (this.decided[w] === 0 && this.canStillWrite(x, w)) return true;
    }
    return false;
  }

  /** Could undecided writer w of key x still change it: a put or append always, a cas only while its expected value is current or could be written again (one level deep). */
  private canStillWrite(x: number, w: number): boolean {
    if (this.kind[w] !== CAS) return true;
    const e = this.expectId[w] as number;
    return this.valId[x] === e || (e !== this.nullId[x] && ((this.produceCount[e] as number) > 0 || this.appendCanProduce(x, e)));
  }

  /** Could an undecided append leave x = value `id`? (Its value must end the string.) */
  private appendCanProduce(x: number, id: number): boolean {
    if (this.appendsLeft[x] === 0) return false;
    return (this.liveAppends[x] as LiveAppends).endsWithOne(this.idStr[id] as string, 0);
  }

  /** Could undecided ok read r still be placed in some extension of this state? (Necessary.) */
  private reachable(r: number): boolean {
    const x = this.key[r] as number;
    const need = this.needId[r] as number;
    if (need < 0) return this.valId[x] !== this.expectId[r] || (this.writesLeft[x] as number) > 0;
    if (this.valId[x] === need) return true;
    if (need === this.nullId[x]) return false;
    if (this.liveProducer(x, need)) return true;
    if (this.appendsLeft[x] === 0) return false;
    const s = this.idStr[need] as string;
    return this.prefixWriterCanReach(x, need, s) || this.appendsCanReach(x, s);
  }

  /** Could an undecided put/cas writing a prefix of s, then undecided appends, make x = s? */
  private prefixWriterCanReach(x: number, need: number, s: string): boolean {
    if (this.prefixUntracked[x] === 1) return true;
    const writers = this.prefixWriters[need];
    if (writers === null || writers === undefined) return false;
    for (let k = 0; k < writers.length; k++) {
      const w = writers[k] as number;
      if (this.decided[w] === 0 && this.canStillWrite(x, w) && this.appendsComplete(x, s, (this.p.value[w] as string).length)) return true;
    }
    return false;
  }

  /** Could undecided appends alone turn x's current value into s? */
  private appendsCanReach(x: number, s: string): boolean {
    const cur = this.vals[x] as string | null;
    if (cur === null) return this.appendsComplete(x, s, -1);
    return s.startsWith(cur) && this.appendsComplete(x, s, cur.length);
  }

  /**
   * Could undecided appends extend s's first `from` characters to s? (from = -1: from absent,
   * which needs at least one append.) Necessary: what is missing starts with one undecided
   * append's value and ends with one.
   */
  private appendsComplete(x: number, s: string, from: number): boolean {
    if (from === s.length) return true;
    const start = Math.max(from, 0);
    const live = this.liveAppends[x] as LiveAppends;
    return live.startsAt(s, start) && live.endsWithOne(s, start);
  }

  /**
   * Writer w was just decided: can the ok reads of a value it writes, or extends by appends,
   * still be satisfied?
   */
  private dependentsSatisfiable(w: number): boolean {
    if (this.kind[w] === APPEND) return true;
    const exact = this.readersOf[this.writeId[w] as number] as Int32Array;
    for (let k = 0; k < exact.length; k++) if (!this.readerSatisfiable(exact[k] as number)) return false;
    const extended = this.prefixReaders[w];
    if (extended !== null && extended !== undefined) {
      for (let k = 0; k < extended.length; k++) if (!this.readerSatisfiable(extended[k] as number)) return false;
    }
    return true;
  }

  /**
   * Undecided ok read r needs value s. Once nothing undecided writes s or a prefix of it, s can
   * only be reached from the current value by appends (appendsCanReach), and every write that
   * must precede r (it returned before r was issued) must keep the value a prefix of s: a put or
   * cas must write a prefix of s, an append a piece of s beyond the current value.
   */
  private readerSatisfiable(r: number): boolean {
    if (this.decided[r] === 1) return true;
    const x = this.key[r] as number;
    const need = this.needId[r] as number;
    if (need === this.nullId[x] || this.valId[x] === need || this.prefixUntracked[x] === 1) return true;
    if (this.liveProducer(x, need)) return true;
    const s = this.idStr[need] as string;
    if (this.prefixWriterCanReach(x, need, s)) return true;
    if (!this.appendsCanReach(x, s)) return false;
    return !this.destroyedBefore(r, s, (this.vals[x] as string | null)?.length ?? 0, 0);
  }

  /**
   * The current value v of x cannot be written again, so it must survive until its readers have
   * read it; so must the value of the only cas that can follow it (when that cas alone writes its
   * new value), and so on along that "lineage"; reads of longer values built on a lineage value by
   * appends (when nothing else writes a prefix of them) need the lineage intact up to there, and
   * then only appends of their own pieces. An undecided ok operation outside the lineage that
   * surely changes x and returned before such a reader was issued must come before it, and if it
   * cannot fit (see `breaks`) the state is dead. This is how a write placed too early is caught
   * at once, rather than after every order of the writes around it.
   */
  private currentValueSurvives(x: number): boolean {
    const first = this.valId[x] as number;
    const sentinel = this.n + x;
    if (first < 0 || this.cwNext[sentinel] === sentinel || this.producible(x, first)) return true;
    let lineage = 0;
    for (let v = first; ; ) {
      const s = this.idStr[v] as string | null;
      const exact = this.readersOf[v] as Int32Array;
      let next = -1;
      let cases = 0;
      for (let k = 0; k < exact.length; k++) {
        const r = exact[k] as number;
        if (this.decided[r] === 1) continue;
        if (this.kind[r] === CAS) {
          cases++;
          next = r;
        }
        if (this.destroyedBefore(r, s, s?.length ?? 0, lineage)) return false;
      }
      const extended = this.prefixReadersOf[v];
      if (extended !== null && extended !== undefined) {
        for (let k = 0; k < extended.length; k++) {
          const r = extended[k] as number;
          if (this.decided[r] === 1) continue;
          const need = this.needId[r] as number;
          if (!this.anchored(need, lineage)) continue;
          if (this.destroyedBefore(r, this.idStr[need] as string, (s as string).length, lineage)) return false;
        }
      }
      if (cases !== 1 || lineage === CHAIN_MAX) return true;
      const v2 = this.writeId[next] as number;
      if (v2 === v || this.produceCount[v2] !== 1 || this.appendCanProduce(x, v2)) return true;
      this.chain[lineage++] = next;
      v = v2;
    }
  }

  /** Is value `need` reachable only through the lineage: nothing else undecided writes it or a prefix of it? */
  private anchored(need: number, lineage: number): boolean {
    if ((this.produceCount[need] as number) > 0) return false;
    const writers = this.prefixWriters[need];
    if (writers === null || writers === undefined) return true;
    for (let k = 0; k < writers.length; k++) {
      const w = writers[k] as number;
      if (this.decided[w] === 0 && !this.inLineage(w, lineage)) return false;
    }
    return true;
  }

  private inLineage(op: number, lineage: number): boolean {
    for (let k = 0; k < lineage; k++) if (this.chain[k] === op) return true;
    return false;
  }

  /**
   * Must an undecided ok operation outside the lineage that changes r's key come before r (by
   * real time) and break the way to s, whose first `from` characters are already in place?
   */
  private destroyedBefore(r: number, s: string | null, from: number, lineage: number): boolean {
    const sentinel = this.n + (this.key[r] as number);
    let seen = 0;
    for (let d = this.cwNext[sentinel] as number; d !== sentinel && (this.due[d] as number) < (this.call[r] as number); d = this.cwNext[d] as number) {
      if (++seen > DESTROYERS_CHECKED) return false;
      if (!this.inLineage(d, lineage) && this.breaks(d, s, from)) return true;
    }
    return false;
  }

  /**
   * Would write d, placed while the value is a prefix of s at least `from` long, make s unreachable
   * by appends? (Absence, s = null, never comes back.)
   */
  private breaks(d: number, s: string | null, from: number): boolean {
    if (s === null) return true;
    if (this.kind[d] === APPEND) return s.indexOf(this.p.value[d] as string, from) < 0;
    return !s.startsWith(this.idStr[this.writeId[d] as number] as string);
  }

  private keysStillConsistent(): boolean {
    for (let t = 0; t < this.touched.length; t++) {
      const x = this.touched.data[t] as number;
      if (!this.currentValueSurvives(x)) return false;
      if (this.mdl && this.precedenceCycle(x)) return false;
      const sentinel = this.n + x;
      let r = this.rdNext[sentinel] as number;
      for (let k = 0; k < READS_CHECKED && r !== sentinel; k++, r = this.rdNext[r] as number) {
        if (!this.reachable(r)) return false;
      }
    }
    return true;
  }

  /**
   * For each append whose piece (its value) nothing else on its key writes, neither another
   * append nor a put or cas whose value holds it: the ok reads of values built with the piece,
   * that is, values that can be written in only one way as a put or cas value (or nothing) followed
   * by append values, and that way uses the piece. (Holding it is not enough: "c2:2" is in
   * "c2:21".) Keys with more than PIECE_PAIRS_MAX (read value × append) pairs get none.
   */
  private tabulatePieceReaders(): (Int32Array | null)[] {
    const p = this.p;
    const out = new Array<Int32Array | null>(p.n).fill(null);
    const appendsOf: number[][] = Array.from({ length: p.keys.length }, () => []);
    const readsOf: number[][] = Array.from({ length: p.keys.length }, () => []);
    const writtenOf: string[][] = Array.from({ length: p.keys.length }, () => []);
    for (let i = 0; i < p.n; i++) {
      const x = this.key[i] as number;
      if (this.status[i] === FAIL) continue;
      if (this.kind[i] === APPEND && (p.value[i] as string).length > 0) appendsOf[x]?.push(i);
      else if (this.kind[i] === PUT || this.kind[i] === CAS) writtenOf[x]?.push(p.value[i] as string);
      const need = this.needId[i] as number;
      if (this.okRead[i] === 1 && need >= 0 && this.idStr[need] !== null) readsOf[x]?.push(i);
    }
    for (let x = 0; x < p.keys.length; x++) {
      const appends = appendsOf[x] as number[];
      const reads = readsOf[x] as number[];
      if (appends.length === 0 || reads.length === 0 || appends.length * (reads.length + (writtenOf[x] as string[]).length) > PIECE_PAIRS_MAX) continue;
      const pieces = new Map<string, number>();
      for (const a of appends) pieces.set(p.value[a] as string, (pieces.get(p.value[a] as string) ?? 0) + 1);
      const pieceSet = new Set(pieces.keys());
      const written = writtenOf[x] as string[];
      const builtWith = new Map<number, string[] | null>();
      for (const r of reads) {
        const need = this.needId[r] as number;
        if (!builtWith.has(need)) builtWith.set(need, onlyTiling(this.idStr[need] as string, written, pieceSet));
      }
      for (const a of appends) {
        const piece = p.value[a] as string;
        if (pieces.get(piece) !== 1 || written.some((w) => w.includes(piece))) continue;
        const found = reads.filter((r) => builtWith.get(this.needId[r] as number)?.includes(piece) === true);
        if (found.length > 0) out[a] = Int32Array.from(found);
      }
    }
    return out;
  }

  /**
   * See baseFollowers. An append follows a base when its piece, which nothing else writes, is in
   * every way of writing the read value's part beyond the base as the key's append values one
   * after another (a piece can also occur inside others, or across two: "c2:2" in "c2:21").
   */
  private tabulateBaseFollowers(base: Int32Array): (Int32Array | null)[] {
    const p = this.p;
    const lists = new Map<number, Set<number>>();
    const pieceCount = new Map<string, number>();
    const piecesOf = new Map<number, Set<string>>();
    for (let a = 0; a < p.n; a++) {
      if (this.kind[a] !== APPEND || this.status[a] === FAIL || (p.value[a] as string).length === 0) continue;
      const x = this.key[a] as number;
      pieceCount.set(`${x}:${p.value[a]}`, (pieceCount.get(`${x}:${p.value[a]}`) ?? 0) + 1);
      const pieces = piecesOf.get(x) ?? new Set<string>();
      pieces.add(p.value[a] as string);
      piecesOf.set(x, pieces);
    }
    /** The appends that follow base w in a value, by w and value (reads of one value share them). */
    const following = new Map<string, number[]>();
    for (let r = 0; r < p.n; r++) {
      const w = base[r] as number;
      if (w < 0) continue;
      const x = this.key[r] as number;
      const list = lists.get(w) ?? new Set<number>();
      list.add(r);
      const signature = `${w}:${this.needId[r]}`;
      let appends = following.get(signature);
      if (appends === undefined) {
        appends = [];
        const rest = (this.idStr[this.needId[r] as number] as string).slice((p.value[w] as string).length);
        for (const a of this.appendsOfKey[x] as Int32Array) {
          const piece = p.value[a] as string;
          if (this.status[a] === FAIL || piece.length === 0 || pieceCount.get(`${x}:${piece}`) !== 1 || !rest.includes(piece)) continue;
          if (!tileableFrom(rest, piecesOf.get(x) as Set<string>, piece)(0)) appends.push(a);
        }
        following.set(signature, appends);
      }
      for (const a of appends) list.add(a);
      lists.set(w, list);
    }
    const out = new Array<Int32Array | null>(p.n).fill(null);
    for (const [w, list] of lists) out[w] = Int32Array.from(list);
    return out;
  }

  /**
   * mdl: is there a cycle through x's current value? When that value v cannot be written again,
   * every undecided ok read of v must precede every undecided operation that surely changes x
   * (other than itself). Such a changer must in turn precede whatever follows from it, each edge
   * forced in every extension of this state:
   * - the next operation of its client that is in every witness (issue order);
   * - every operation issued after an ok one on the way returned (real time);
   * - the reads of a value only it can still write, or of a string holding a piece only it (an
   *   append) can still add, or built on it as the only base (Sources.base), with the appends
   *   whose pieces follow it there;
   * - when it reads the current value of another key that cannot be written again, every
   *   operation that surely changes that key (the same rule, one key over).
   * If that reaches a read of v, no extension is legal. This catches, as soon as a write is
   * placed, a wrong guess that the search would otherwise find only after trying every order of
   * the many unrelated operations placed after it. The walk does not go past operations issued
   * after the last of v's readers returned (those follow the readers anyway) and gives up after
   * PRECEDENCE_VISITS_MAX operations.
   */
  private precedenceCycle(x: number): boolean {
    const v = this.valId[x] as number;
    if (v < 0 || this.producible(x, v)) return false;
    const stamp = ++this.walkStamp;
    const readers = this.readersOf[v] as Int32Array;
    let horizon = -Infinity;
    let firstCall = Infinity;
    for (let k = 0; k < readers.length; k++) {
      const r = readers[k] as number;
      if (this.decided[r] === 1) continue;
      this.targetAt[r] = stamp;
      horizon = Math.max(horizon, this.ret[r] as number);
      firstCall = Math.min(firstCall, this.call[r] as number);
    }
    if (horizon === -Infinity) return false;
    this.walkHorizon = horizon;
    this.walkTail = 0;
    const sentinel = this.n + x;
    for (let m = this.cwNext[sentinel] as number; m !== sentinel; m = this.cwNext[m] as number) {
      if ((this.call[m] as number) > horizon) continue;
      this.visitedAt[m] = stamp;
      this.walk[this.walkTail++] = m;
    }
    let minRet = Infinity;
    for (let head = 0; head < this.walkTail && this.walkTail < PRECEDENCE_VISITS_MAX; head++) {
      const u = this.walk[head] as number;
      if (this.status[u] === OK && (this.ret[u] as number) < minRet) {
        minRet = this.ret[u] as number;
        if (minRet < firstCall && this.readerIssuedAfter(readers, minRet)) return true;
      }
      const next = this.nextSure[u] as number;
      if (next >= 0 && this.reach(next, stamp)) return true;
      const y = this.key[u] as number;
      const c = this.valId[y] as number;
      if (y !== x && c >= 0 && this.okRead[u] === 1 && this.needId[u] === c && !this.producible(y, c)) {
        for (let m = this.cwNext[this.n + y] as number; m !== this.n + y; m = this.cwNext[m] as number) {
          if (m !== u && this.reach(m, stamp)) return true;
        }
      }
      if (this.kind[u] === APPEND) {
        const pieceReaders = this.pieceReaders[u];
        if (pieceReaders === null || pieceReaders === undefined || (this.vals[y] ?? '').includes(this.p.value[u] as string)) continue;
        for (let k = 0; k < pieceReaders.length; k++) if (this.reach(pieceReaders[k] as number, stamp)) return true;
        continue;
      }
      const followers = this.baseFollowers[u];
      if (followers !== null && followers !== undefined) {
        for (let k = 0; k < followers.length; k++) if (this.reach(followers[k] as number, stamp)) return true;
      }
      const w = this.writeId[u] as number;
      if (this.writer[u] === 0 || w < 0 || c === w || this.produceCount[w] !== 1 || this.appendCanProduce(y, w)) continue;
      const dependents = this.readersOf[w] as Int32Array;
      for (let k = 0; k < dependents.length; k++) if (this.reach(dependents[k] as number, stamp)) return true;
    }
    return false;
  }

  /** One edge of precedenceCycle's walk, to undecided operation j: true when j is a read of the value it is about. */
  private reach(j: number, stamp: number): boolean {
    if (this.decided[j] === 1) return false;
    if (this.targetAt[j] === stamp) return true;
    if (this.visitedAt[j] === stamp || (this.call[j] as number) > this.walkHorizon) return false;
    this.visitedAt[j] = stamp;
    this.walk[this.walkTail++] = j;
    return false;
  }

  /** Was an undecided read among `readers` issued after `at`? */
  private readerIssuedAfter(readers: Int32Array, at: number): boolean {
    for (let k = 0; k < readers.length; k++) {
      const r = readers[k] as number;
      if (this.decided[r] === 0 && (this.call[r] as number) > at) return true;
    }
    return false;
  }

  private bound(): number {
    const first = this.dueNext[this.n] as number;
    return first === this.n ? Infinity : (this.due[first] as number);
  }

  /** Places every operation that needs no choice (see the header). False when the state is dead. */
  private closeGreedily(): boolean {
    for (;;) {
      const bound = this.bound();
      let acted = false;
      for (let k = this.enNext[this.n] as number; k !== this.n && (this.call[k] as number) <= bound; k = this.enNext[k] as number) {
        if (this.status[k] === FAIL) {
          if (!this.skip(k)) return false;
          acted = true;
          break;
        }
        if (this.waitCount[k] === 0 && this.isFreeRead(k)) {
          this.place(k);
          acted = true;
          break;
        }
      }
      if (!acted) return true;
    }
  }

  /**
   * An operation that cannot change the state now and never could: an unknown get, an ok get
   * that reads the current value, an ok cas that returned false while the value differs from
   * its expected one. (An unknown cas that would not swap now is not one: later it might.)
   */
  private isFreeRead(k: number): boolean {
    const kind = this.kind[k];
    if (kind === GET) return this.status[k] === UNKNOWN || this.valId[this.key[k] as number] === this.needId[k];
    return kind === CAS && this.status[k] === OK && this.p.output[k] === false && this.valId[this.key[k] as number] !== this.expectId[k];
  }

  /** Does an undecided ok read need k's value, exactly or (a put or cas) extended by appends, or (an append) hold its piece among the key's next reads? */
  private isNeeded(k: number): boolean {
    if (this.kind[k] !== APPEND) {
      if ((this.needCount[this.writeId[k] as number] as number) > 0) return true;
      const extended = this.prefixReaders[k];
      if (extended === null || extended === undefined) return false;
      for (let j = 0; j < extended.length; j++) if (this.decided[extended[j] as number] === 0) return true;
      return false;
    }
    const x = this.key[k] as number;
    const sentinel = this.n + x;
    const v = this.p.value[k] as string;
    let r = this.rdNext[sentinel] as number;
    for (let c = 0; c < READS_CHECKED && r !== sentinel; c++, r = this.rdNext[r] as number) {
      const need = this.needId[r] as number;
      const s = need >= 0 ? this.idStr[need] : null;
      if (s !== null && s !== undefined && s.includes(v)) return true;
    }
    return false;
  }

  private addCandidate(count: number, choice: number, prio: number, tieBreak: number): number {
    if (count === this.candOp.length) {
      const op = new Int32Array(count * 2);
      op.set(this.candOp);
      this.candOp = op;
      const pr = new Float64Array(count * 2);
      pr.set(this.candPrio);
      this.candPrio = pr;
      const tb = new Float64Array(count * 2);
      tb.set(this.candTie);
      this.candTie = tb;
    }
    this.candOp[count] = choice;
    this.candPrio[count] = prio;
    this.candTie[count] = tieBreak;
    return count + 1;
  }

  /** Writes the node's choices, best first, onto `choices`; returns how many. */
  private pushChoices(choices: IntStack): number {
    const bound = this.bound();
    let count = 0;
    for (let k = this.enNext[this.n] as number; k !== this.n && (this.call[k] as number) <= bound; k = this.enNext[k] as number) {
      const kind = this.kind[k];
      const free = this.waitCount[k] === 0;
      if (this.status[k] === OK) {
        if (free && (kind === PUT || kind === APPEND || (kind === CAS && this.p.output[k] === true && this.valId[this.key[k] as number] === this.expectId[k]))) {
          count = this.addCandidate(count, k * 2 + PLACE, this.priority[k] as number, this.deadline[k] as number);
        }
        continue;
      }
      const ownNeeded = this.isNeeded(k);
      if (kind === CAS && this.valId[this.key[k] as number] !== this.expectId[k]) {
        // It would not swap now. Under linearizability that is the same as leaving it out, which
        // needs no step; under mdl placing it as a no-op unblocks its lane and beats leaving it out.
        if (this.mdl && free) count = this.addCandidate(count, k * 2 + PLACE, ownNeeded ? Infinity : -Infinity, this.deadline[k] as number);
        continue;
      }
      const needed = ownNeeded || this.sure[k] === 1 || this.runObserved[k] === 1;
      if (free) count = this.addCandidate(count, k * 2 + PLACE, needed ? (this.priority[k] as number) : Infinity, this.deadline[k] as number);
      if (this.mdl && this.sure[k] === 0) count = this.addCandidate(count, k * 2 + SKIP, needed ? Infinity : -Infinity, this.deadline[k] as number);
    }
    const op = this.candOp;
    const prio = this.candPrio;
    const tie = this.candTie;
    for (let a = 1; a < count; a++) {
      const o = op[a] as number;
      const pr = prio[a] as number;
      const tb = tie[a] as number;
      let b = a - 1;
      while (b >= 0 && this.before(o, pr, tb, op[b] as number, prio[b] as number, tie[b] as number)) {
        op[b + 1] = op[b] as number;
        prio[b + 1] = prio[b] as number;
        tie[b + 1] = tie[b] as number;
        b--;
      }
      op[b + 1] = o;
      prio[b + 1] = pr;
      tie[b + 1] = tb;
    }
    for (let a = 0; a < count; a++) choices.push(op[a] as number);
    return count;
  }

  private before(choiceA: number, prioA: number, tieA: number, choiceB: number, prioB: number, tieB: number): boolean {
    if (prioA !== prioB) return prioA < prioB;
    if (tieA !== tieB) return tieA < tieB;
    const a = choiceA >> 1;
    const b = choiceB >> 1;
    const callA = this.call[a] as number;
    const callB = this.call[b] as number;
    return callA !== callB ? callA < callB : choiceA < choiceB;
  }

  private apply(choice: number): boolean {
    const i = choice >> 1;
    const alive = (choice & 1) === SKIP ? this.skip(i) : this.place(i);
    return alive && this.closeGreedily();
  }

  private noteProgress(): void {
    const placed = this.okTotal - this.okLeft;
    if (placed <= this.bestOk) return;
    this.bestOk = placed;
    this.sinceProgress = 0;
    this.lowWater = this.trOp.length;
    const m = this.dueNext[this.n] as number;
    if (m === this.n) return;
    let waitsFor = -1;
    if (this.mdl) {
      for (let k = this.enNext[this.n] as number; k !== this.n; k = this.enNext[k] as number) {
        if (this.p.lane[k] === this.p.lane[m] && k !== m) waitsFor = k;
      }
    }
    this.stuck = { okPlaced: placed, okTotal: this.okTotal, op: m, value: this.vals[this.key[m] as number] as string | null, waitsFor };
  }

  /**
   * Guided search, stalled: the operation it got stuck on when it had placed the most (the
   * unplaced ok one due first, or the earlier operation of its client that holds it back) is
   * usually blocked by a change of its key decided too early, below everything the search has
   * revisited since. Picks the k-th latest such change (k counts earlier jumps for the
   * operation) to wait for it, and returns the node that decided the change, or -1.
   */
  private jumpTarget(frameTrail: IntStack): number {
    if (this.stuck === null) return -1;
    const m = this.stuck.waitsFor >= 0 ? this.stuck.waitsFor : this.stuck.op;
    const made = this.jumps.get(m) ?? 0;
    if (made >= JUMPS_PER_OP_MAX) return -1;
    const x = this.key[m] as number;
    let skipped = 0;
    let t = Math.min(this.lowWater, this.trOp.length) - 1;
    for (; t >= 0; t--) {
      const i = this.trOp.data[t] as number;
      if (this.trKind.data[t] === PLACE && this.trChanged.data[t] === 1 && this.key[i] === x && skipped++ === made) break;
    }
    if (t < 0) return -1;
    this.jumps.set(m, made + 1);
    let frame = frameTrail.length - 1;
    while (frame >= 0 && (frameTrail.data[frame] as number) > t) frame--;
    if (frame < 0) return -1;
    this.jumpOp = m;
    this.jumpCulprit = this.trOp.data[t] as number;
    return frame;
  }

  private order(): number[] {
    const out: number[] = [];
    for (let t = 0; t < this.trOp.length; t++) if (this.trKind.data[t] === PLACE) out.push(this.trOp.data[t] as number);
    return out;
  }

  run(): SearchResult {
    const frameTrail = new IntStack(64);
    const frameStart = new IntStack(64);
    const frameNext = new IntStack(64);
    const choices = new IntStack(256);
    let applied = 0;
    let alive = this.closeGreedily();
    for (;;) {
      if (alive) alive = this.keysStillConsistent();
      this.nodeStamp++;
      this.touched.length = 0;
      if (alive && this.okLeft === 0) return { kind: 'ok', order: this.order() };
      if (alive) {
        this.noteProgress();
        if (this.memo.fullBeforeGrowth && this.memo.bytesAfterGrowth + choices.data.byteLength > this.budget.memoryBytesMax) {
          return { kind: 'unknown', reason: `memory budget of ${mib(this.budget.memoryBytesMax)} reached`, states: this.memo.size, stuck: this.stuck };
        }
        alive = this.memo.add(this.d1 ^ this.st1, this.d2 ^ this.st2, this.d3 ^ this.st3);
      }
      if (alive) {
        const start = choices.length;
        if (this.pushChoices(choices) > 0) {
          frameTrail.push(this.trOp.length);
          frameStart.push(start);
          frameNext.push(start);
        }
      }
      if (this.guided && ++this.sinceProgress > STALL_NODES) {
        // Whether or not there is somewhere to jump to, look again only after another stall:
        // finding the target walks the trail.
        this.sinceProgress = 0;
        const frame = this.jumpTarget(frameTrail);
        if (frame < 0 && this.quitWhenStuck) {
          return { kind: 'unknown', reason: 'the guided search stalled with nowhere to jump back to', states: this.memo.size, stuck: this.stuck };
        }
        if (frame >= 0) {
          frameTrail.length = frameStart.length = frameNext.length = frame + 1;
          while (this.trOp.length > (frameTrail.data[frame] as number)) this.undoLast();
          this.impose(this.jumpOp, this.jumpCulprit);
          choices.length = frameStart.data[frame] as number;
          this.pushChoices(choices);
          frameNext.data[frame] = frameStart.data[frame] as number;
          this.bestOk = this.okTotal - this.okLeft;
          this.lowWater = this.trOp.length;
        }
      }
      // Take the next choice of the deepest node that has one left, undoing what lies below it.
      for (;;) {
        const top = frameTrail.length - 1;
        if (top < 0) {
          if (this.guided) return { kind: 'unknown', reason: 'the guided search ran out of choices', states: this.memo.size, stuck: this.stuck };
          return { kind: 'violation', stuck: this.stuck };
        }
        const mark = frameTrail.data[top] as number;
        while (this.trOp.length > mark) this.undoLast();
        if (mark < this.lowWater) this.lowWater = mark;
        const next = frameNext.data[top] as number;
        if (next < choices.length) {
          frameNext.data[top] = next + 1;
          if (applied++ % NODES_PER_CLOCK_CHECK === 0 && performance.now() > this.budget.deadlineMs) {
            return { kind: 'unknown', reason: 'time budget reached', states: this.memo.size, stuck: this.stuck };
          }
          alive = this.apply(choices.data[next] as number);
          break;
        }
        choices.length = frameStart.data[top] as number;
        frameTrail.length--;
        frameStart.length--;
        frameNext.length--;
      }
    }
  }
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 1048576)} MiB`;
}

/**
 * One key's undecided appends, counted by value, with the distinct lengths of all its appends'
 * values: whether an undecided append's value occurs at a given place in a string then costs a
 * lookup per distinct length instead of a pass over every append (histories append many short,
 * distinct values to few keys).
 */
class LiveAppends {
  private readonly count = new Map<string, number>();
  /** Ascending. */
  private readonly lengths: number[];

  constructor(values: readonly string[]) {
    for (const v of values) this.add(v, 1);
    this.lengths = [...new Set(values.map((v) => v.length))].sort((a, b) => a - b);
  }

  add(v: string, delta: number): void {
    this.count.set(v, (this.count.get(v) ?? 0) + delta);
  }

  /** Does an undecided append's value occur in s at `at`? */
  startsAt(s: string, at: number): boolean {
    for (const length of this.lengths) {
      if (length > s.length - at) return false;
      if ((this.count.get(s.substr(at, length)) as number) > 0) return true;
    }
    return false;
  }

  /** Does an undecided append's value end s, within its part from `from` on? */
  endsWithOne(s: string, from: number): boolean {
    for (const length of this.lengths) {
      if (length > s.length - from) return false;
      if ((this.count.get(s.slice(s.length - length)) as number) > 0) return true;
    }
    return false;
  }
}

/**
 * The append values that build s when s can be written in only one way as a value from
 * `written` that starts it (or nothing) followed by values from `pieces`; null when there are
 * several ways or none.
 */
function onlyTiling(s: string, written: readonly string[], pieces: ReadonlySet<string>): string[] | null {
  const ways = tilingWays(s, pieces);
  const starts = new Set([0]);
  for (const w of written) if (s.startsWith(w)) starts.add(w.length);
  let total = 0;
  let start = -1;
  for (const i of starts) {
    total += ways[i] as number;
    if ((ways[i] as number) > 0) start = i;
  }
  if (total !== 1) return null;
  const lengths = [...new Set([...pieces].map((v) => v.length))];
  const used: string[] = [];
  for (let i = start; i < s.length; ) {
    const length = lengths.find((l) => i + l <= s.length && pieces.has(s.slice(i, i + l)) && ways[i + l] === 1) as number;
    used.push(s.slice(i, i + length));
    i += length;
  }
  return used;
}

/**
 * What a history says on its own, before any ordering: which operations can have taken effect,
 * where each value read can have come from, which operations are in every witness, and by when
 * each of those must be placed. The constraint analysis and the search both start from here.
 */
import { APPEND, CAS, FAIL, GET, OK, UNKNOWN, skipClosures, type Prepared } from './prepared.js';
import type { Model } from './search.js';

export interface Sources {
  /** In no witness: failed operations, and (mdl) unknown ones in a failed operation's run. */
  readonly out: Uint8Array;
  /** mdl: a failed operation whose run holds an ok one, as the chain from it to that ok op (each issued while the previous was outstanding); else null. */
  readonly suffixBreach: number[] | null;
  /** For each ok read of a present value, the only operation that may have written it, or -1. */
  readonly source: Int32Array;
  /**
   * For each ok read of a value that nothing writes whole but appends build on a prefix: the only
   * put or cas whose value can be that prefix (when appends alone cannot build it from absent
   * either), or -1. It precedes the read, and the appends whose pieces follow the prefix.
   */
  readonly base: Int32Array;
  /** An ok read whose value no operation that may have taken effect writes, with the ones that write it but are out; or null. */
  readonly unwritten: { read: number; leftOut: number[] } | null;
  /** In every witness: ok operations, unknown ones that are the only source of a value read, and (mdl) unknown ones whose run holds such an operation. */
  readonly sure: Uint8Array;
  /**
   * For an operation in every witness: the earliest return among ok operations it must precede
   * (itself, what reads only its value, and under mdl what its client issued later); +Infinity
   * for others. Whatever was issued after that return must come after it.
   */
  readonly due: Float64Array;
}

/** Above this many (read value × append) pairs on one key, reads on it get no source. */
const APPEND_PAIRS_MAX = 4_000_000;

/** The value ok operation r needs to find when it is a present value (get output, cas-true expect); else null. */
export function readValue(p: Prepared, r: number): string | null {
  if (p.status[r] !== OK) return null;
  if (p.kind[r] === GET) return p.output[r] as string | null;
  if (p.kind[r] === CAS && p.output[r] === true) return p.expect[r] as string | null;
  return null;
}

export function analyzeSources(p: Prepared, model: Model): Sources {
  const n = p.n;
  const out = new Uint8Array(n);
  let suffixBreach: number[] | null = null;
  const closures = model === 'mdl' ? skipClosures(p) : null;
  for (let f = 0; f < n; f++) {
    if (p.status[f] !== FAIL) continue;
    out[f] = 1;
    if (closures === null) continue;
    for (let k = f + 1; k < (closures.skipEnd[f] as number); k++) out[k] = 1;
    const ok = closures.okInSkip[f] as number;
    if (ok >= 0 && suffixBreach === null) suffixBreach = breachChain(p, f, ok);
  }

  const { source, unwritten } = findSources(p, out);
  const base = findBases(p, out);
  const sure = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (p.status[i] === OK) sure[i] = 1;
  for (let r = 0; r < n; r++) {
    if ((source[r] as number) >= 0) sure[source[r] as number] = 1;
    if ((base[r] as number) >= 0) sure[base[r] as number] = 1;
  }
  // mdl, right to left along each lane: an unknown operation whose run holds one in every
  // witness cannot be left out.
  for (let c = 0; closures !== null && c < p.clients.length; c++) {
    for (let i = (p.laneEnd[c] as number) - 1; i >= (p.laneStart[c] as number); i--) {
      if (p.status[i] !== UNKNOWN || out[i] === 1 || sure[i] === 1) continue;
      for (let k = i + 1; k < (closures.skipEnd[i] as number); k++) if (sure[k] === 1) sure[i] = 1;
    }
  }
  return { out, suffixBreach, source, base, unwritten, sure, due: dueTimes(p, sure, [source, base], closures !== null) };
}

/**
 * When each operation that is in every witness is due: the earliest return among the ok
 * operations it must precede. It precedes itself, the reads that only it can satisfy, and (mdl)
 * the later operations of its client that are in every witness; and, through them, whatever they
 * precede. So a due time passes backwards along those edges until nothing changes.
 */
function dueTimes(p: Prepared, sure: Uint8Array, sources: readonly Int32Array[], issueOrder: boolean): Float64Array {
  const n = p.n;
  const due = new Float64Array(n).fill(Infinity);
  /** The previous operation of the same client that is in every witness, or -1. */
  const previousSure = new Int32Array(n).fill(-1);
  for (let c = 0; issueOrder && c < p.clients.length; c++) {
    let previous = -1;
    for (let i = p.laneStart[c] as number; i < (p.laneEnd[c] as number); i++) {
      previousSure[i] = previous;
      if (sure[i] === 1) previous = i;
    }
  }
  const work: number[] = [];
  for (let i = 0; i < n; i++) {
    if (p.status[i] !== OK) continue;
    due[i] = p.ret[i] as number;
    work.push(i);
  }
  const lower = (j: number, d: number) => {
    if (j < 0 || (due[j] as number) <= d) return;
    due[j] = d;
    work.push(j);
  };
  while (work.length > 0) {
    const v = work.pop() as number;
    const d = due[v] as number;
    for (const source of sources) lower(source[v] as number, d);
    lower(previousSure[v] as number, d);
  }
  return due;
}

/** From failed op f to ok op `ok` in its run: each link is the earliest op still outstanding when the next was issued. */
function breachChain(p: Prepared, f: number, ok: number): number[] {
  const chain = [ok];
  for (let cur = ok; cur !== f; ) {
    let c = f;
    while ((p.ret[c] as number) <= (p.call[cur] as number)) c++;
    chain.push(c);
    cur = c;
  }
  return chain.reverse();
}

/**
 * Unique bases (see Sources.base). A read of s can come from a put or cas writing a proper prefix
 * of s followed by appends whose values tile the rest, or from appends alone; when exactly one
 * operation can be that put or cas and appends alone cannot, it is the base. Keys with more than
 * APPEND_PAIRS_MAX (read value × append) pairs are left alone.
 */
function findBases(p: Prepared, out: Uint8Array): Int32Array {
  const keys = p.keys.length;
  const base = new Int32Array(p.n).fill(-1);
  const writersOf: Map<string, number[]>[] = Array.from({ length: keys }, () => new Map());
  const pieces: Set<string>[] = Array.from({ length: keys }, () => new Set());
  const appends = new Int32Array(keys);
  for (let k = 0; k < p.n; k++) {
    if (out[k] === 1 || p.kind[k] === GET || (p.kind[k] === CAS && p.status[k] === OK && p.output[k] === false)) continue;
    const x = p.key[k] as number;
    const v = p.value[k] as string;
    if (p.kind[k] === APPEND) {
      if (v.length > 0) pieces[x]?.add(v);
      bump(appends, x);
      continue;
    }
    const m = writersOf[x] as Map<string, number[]>;
    m.set(v, [...(m.get(v) ?? []), k]);
  }
  const reads = new Int32Array(keys);
  for (let r = 0; r < p.n; r++) if (readValue(p, r) !== null) bump(reads, p.key[r] as number);
  for (let r = 0; r < p.n; r++) {
    const s = readValue(p, r);
    const x = p.key[r] as number;
    if (s === null || (appends[x] as number) * (reads[x] as number) > APPEND_PAIRS_MAX) continue;
    const writers = writersOf[x] as Map<string, number[]>;
    if (writers.has(s)) continue;
    const tiles = tileableFrom(s, pieces[x] as Set<string>);
    if (tiles(0)) continue;
    let only = -1;
    let count = 0;
    for (let length = 1; length < s.length && count < 2; length++) {
      const found = writers.get(s.slice(0, length));
      if (found === undefined || !tiles(length)) continue;
      count += found.filter((w) => w !== r).length;
      only = found.find((w) => w !== r) ?? only;
    }
    if (count === 1) base[r] = only;
  }
  return base;
}

/** For each position of s, whether the part from there on is a concatenation of values in `pieces` other than `without`. */
export function tileableFrom(s: string, pieces: ReadonlySet<string>, without: string | null = null): (from: number) => boolean {
  const ways = tilingWays(s, pieces, without);
  return (from) => (ways[from] as number) > 0;
}

/**
 * For each position of s, in how many ways (counted up to 2) the part from there on is a
 * concatenation of values in `pieces` other than `without`; the end counts one way.
 */
export function tilingWays(s: string, pieces: ReadonlySet<string>, without: string | null = null): Uint8Array {
  const lengths = [...new Set([...pieces].map((v) => v.length))];
  const ways = new Uint8Array(s.length + 1);
  ways[s.length] = 1;
  for (let from = s.length - 1; from >= 0; from--) {
    let count = 0;
    for (const length of lengths) {
      if (from + length > s.length || ways[from + length] === 0) continue;
      const piece = s.slice(from, from + length);
      if (piece !== without && pieces.has(piece)) count += ways[from + length] as number;
    }
    ways[from] = Math.min(count, 2);
  }
  return ways;
}

function bump(counts: Int32Array, i: number): void {
  counts[i] = (counts[i] as number) + 1;
}

/** Reads-from: for each ok read of a present value, who may have written it. */
function findSources(p: Prepared, out: Uint8Array): { source: Int32Array; unwritten: Sources['unwritten'] } {
  const keys = p.keys.length;
  const source = new Int32Array(p.n).fill(-1);
  const byValue: Map<string, number[]>[] = Array.from({ length: keys }, () => new Map());
  const appendsOfKey: number[][] = Array.from({ length: keys }, () => []);
  for (let k = 0; k < p.n; k++) {
    if (p.kind[k] === GET || (p.kind[k] === CAS && p.status[k] === OK && p.output[k] === false)) continue;
    const x = p.key[k] as number;
    if (p.kind[k] === APPEND) {
      appendsOfKey[x]?.push(k);
      continue;
    }
    const m = byValue[x] as Map<string, number[]>;
    const list = m.get(p.value[k] as string);
    if (list === undefined) m.set(p.value[k] as string, [k]);
    else list.push(k);
  }
  const readValues: Set<string>[] = Array.from({ length: keys }, () => new Set());
  for (let r = 0; r < p.n; r++) {
    const v = readValue(p, r);
    if (v !== null) readValues[p.key[r] as number]?.add(v);
  }
  let unwritten: Sources['unwritten'] = null;
  for (let r = 0; r < p.n; r++) {
    const v = readValue(p, r);
    if (v === null) continue;
    const x = p.key[r] as number;
    const appends = appendsOfKey[x] as number[];
    if (appends.length * (readValues[x] as Set<string>).size > APPEND_PAIRS_MAX) continue;
    const candidates = [...((byValue[x] as Map<string, number[]>).get(v) ?? []), ...appends.filter((a) => v.endsWith(p.value[a] as string))].filter(
      (k) => k !== r,
    );
    const possible = candidates.filter((k) => out[k] === 0);
    if (possible.length === 0) {
      if (unwritten === null || (p.call[r] as number) < (p.call[unwritten.read] as number)) unwritten = { read: r, leftOut: candidates };
    } else if (possible.length === 1) {
      source[r] = possible[0] as number;
    }
  }
  return { source, unwritten };
}

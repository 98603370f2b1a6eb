/**
 * What the search precomputes about a (prepared) history before it starts: the values the
 * history names, interned to small ids with their hashes, who writes and who reads each of them,
 * and which writes anyone observes. None of it depends on the search's hints, so it is built
 * once per history and model and shared by every search of it (the checker searches one key
 * many times while it repairs the keys' orders).
 */
import { SeededRng } from '../protocol/common/rng.js';
import { APPEND, CAS, GET, OK, PUT, UNKNOWN, mayWrite, skipClosures, type Prepared } from './prepared.js';
import { analyzeSources, type Sources } from './sources.js';

const HASH_BASE_1 = 0x01000193;
const HASH_BASE_2 = 0x5bd1e995;
export const NULL_HASH_1 = 0x2545f491;
export const NULL_HASH_2 = 0x9e3779b9;
/** Above this many (read value × written value) pairs on one key, prefix writers are not tabulated. */
const PREFIX_PAIRS_MAX = 4_000_000;
/** Above this many distinct values read on a key, every append to it counts as observed. */
const OBSERVED_SCAN_MAX = 4096;

/** A polynomial hash, so that the hash of s + t follows from those of s and t (appends). */
function stringHash(s: string, base: number): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, base) + s.charCodeAt(i) + 1) | 0;
  return h >>> 0;
}

function power(base: number, exp: number): number {
  let result = 1;
  let b = base;
  for (let e = exp; e > 0; e >>>= 1) {
    if (e & 1) result = Math.imul(result, b);
    b = Math.imul(b, b);
  }
  return result >>> 0;
}

export class SearchTables {
  readonly okTotal: number;
  readonly skipEnd: Int32Array;
  readonly facts: Sources;
  /** May change its key: put, append, a cas that is not an ok false; not failed. */
  readonly writer: Uint8Array;
  /** ok get or ok cas: needs something of its key's value. */
  readonly okRead: Uint8Array;
  /** Value ids: what a put/cas writes, what a cas expects, what an ok read needs (or -1). */
  readonly writeId: Int32Array;
  readonly expectId: Int32Array;
  readonly needId: Int32Array;
  readonly appendH1: Uint32Array;
  readonly appendH2: Uint32Array;
  readonly appendPow1: Uint32Array;
  readonly appendPow2: Uint32Array;
  /** Per key: its values (string → id); per id: the string (null: absent) and its hashes. */
  readonly idsOfKey: Map<string, number>[];
  readonly idStr: (string | null)[] = [];
  readonly idH1: number[] = [];
  readonly idH2: number[] = [];
  readonly nullId: Int32Array;
  readonly appendsOfKey: Int32Array[];
  /** The put/cas operations (not failed) that write each value id. */
  readonly producersOf: Int32Array[];
  /** The ok operations that need each value id, sorted by call. */
  readonly readersOf: Int32Array[];
  /** For values read on a key that also sees appends: the put/cas operations writing a proper prefix. */
  readonly prefixWriters: (Int32Array | null)[];
  readonly prefixUntracked: Uint8Array;
  /** For each put/cas, the ok reads whose value it writes a proper prefix of. */
  readonly prefixReaders: (Int32Array | null)[];
  /** For each value id, the ok reads of longer values that start with it (and have a put/cas writing it). */
  readonly prefixReadersOf: (Int32Array | null)[];
  /** Whether some ok read sees what this write writes (its value, a value built on it, or for an append its piece). */
  readonly observed: Uint8Array;
  /** mdl: leaving this unknown operation out would leave out a later one whose effect someone observed. */
  readonly runObserved: Uint8Array;
  /** The earliest return among ok operations from here to the end of the lane (mdl), or its own return. */
  readonly deadline: Float64Array;
  /** Initial counts: undecided ok reads needing each value id, undecided writers of it, per key appends and writes left. */
  readonly needCount: Int32Array;
  readonly produceCount: Int32Array;
  readonly appendsLeft: Int32Array;
  readonly writesLeft: Int32Array;
  /** Random words per operation, XORed into the fingerprint of the set of decided operations. */
  readonly z1: Uint32Array;
  readonly z2: Uint32Array;
  readonly z3: Uint32Array;

  constructor(
    private readonly p: Prepared,
    mdl: boolean,
  ) {
    const n = p.n;
    const keys = p.keys.length;
    this.skipEnd = skipClosures(p).skipEnd;
    this.facts = analyzeSources(p, mdl ? 'mdl' : 'linearizable');
    this.idsOfKey = Array.from({ length: keys }, () => new Map<string, number>());
    this.nullId = new Int32Array(keys);
    for (let x = 0; x < keys; x++) this.nullId[x] = this.newId(null, NULL_HASH_1, NULL_HASH_2);
    this.writer = new Uint8Array(n);
    this.okRead = new Uint8Array(n);
    this.writeId = new Int32Array(n).fill(-1);
    this.expectId = new Int32Array(n).fill(-1);
    this.needId = new Int32Array(n).fill(-1);
    this.appendH1 = new Uint32Array(n);
    this.appendH2 = new Uint32Array(n);
    this.appendPow1 = new Uint32Array(n);
    this.appendPow2 = new Uint32Array(n);
    const appendLists: number[][] = Array.from({ length: keys }, () => []);
    let okTotal = 0;
    for (let i = 0; i < n; i++) {
      const x = p.key[i] as number;
      const kind = p.kind[i] as number;
      const ok = p.status[i] === OK;
      if (ok) okTotal++;
      this.writer[i] = mayWrite(p, i) ? 1 : 0;
      if (kind === PUT || kind === CAS) this.writeId[i] = this.intern(x, p.value[i] as string);
      if (kind === CAS) this.expectId[i] = this.intern(x, p.expect[i] as string | null);
      if (kind === APPEND) {
        const v = p.value[i] as string;
        this.appendH1[i] = stringHash(v, HASH_BASE_1);
        this.appendH2[i] = stringHash(v, HASH_BASE_2);
        this.appendPow1[i] = power(HASH_BASE_1, v.length);
        this.appendPow2[i] = power(HASH_BASE_2, v.length);
        if (this.writer[i] === 1) appendLists[x]?.push(i);
      }
      if (ok && (kind === GET || kind === CAS)) this.okRead[i] = 1;
      if (ok && kind === GET) this.needId[i] = this.intern(x, p.output[i] as string | null);
      if (ok && kind === CAS && p.output[i] === true) this.needId[i] = this.expectId[i] as number;
    }
    this.okTotal = okTotal;
    this.appendsOfKey = appendLists.map((l) => Int32Array.from(l));

    const ids = this.idStr.length;
    const readers: number[][] = Array.from({ length: ids }, () => []);
    for (let i = 0; i < n; i++) if ((this.needId[i] as number) >= 0) readers[this.needId[i] as number]?.push(i);
    const producers: number[][] = Array.from({ length: ids }, () => []);
    for (let i = 0; i < n; i++) if (this.writer[i] === 1 && p.kind[i] !== APPEND) producers[this.writeId[i] as number]?.push(i);
    this.producersOf = producers.map((list) => Int32Array.from(list));
    this.readersOf = readers.map((list) => Int32Array.from(list.sort((a, b) => (p.call[a] as number) - (p.call[b] as number))));
    this.needCount = new Int32Array(ids);
    this.produceCount = new Int32Array(ids);
    this.appendsLeft = new Int32Array(keys);
    this.writesLeft = new Int32Array(keys);
    for (let i = 0; i < n; i++) {
      const need = this.needId[i] as number;
      if (need >= 0) bump(this.needCount, need);
      if (this.writer[i] === 1) {
        const x = p.key[i] as number;
        bump(this.writesLeft, x);
        if (p.kind[i] === APPEND) bump(this.appendsLeft, x);
        else bump(this.produceCount, this.writeId[i] as number);
      }
    }
    this.prefixWriters = new Array<Int32Array | null>(ids).fill(null);
    this.prefixUntracked = new Uint8Array(keys);
    this.tabulatePrefixWriters();
    const prefixReaders: number[][] = Array.from({ length: n }, () => []);
    const prefixReadersOf: Set<number>[] = Array.from({ length: ids }, () => new Set());
    for (let id = 0; id < ids; id++) {
      const writers = this.prefixWriters[id];
      if (writers === null || writers === undefined) continue;
      for (const w of writers) {
        prefixReaders[w]?.push(...(this.readersOf[id] as Int32Array));
        for (const r of this.readersOf[id] as Int32Array) prefixReadersOf[this.writeId[w] as number]?.add(r);
      }
    }
    this.prefixReaders = prefixReaders.map((list) => (list.length > 0 ? Int32Array.from(list) : null));
    this.prefixReadersOf = prefixReadersOf.map((set) => (set.size > 0 ? Int32Array.from(set) : null));
    this.observed = this.observedWrites();

    this.runObserved = new Uint8Array(n);
    for (let i = 0; mdl && i < n; i++) {
      for (let k = i + 1; k < (this.skipEnd[i] as number) && this.runObserved[i] === 0; k++) {
        if (p.status[k] === UNKNOWN && this.observed[k] === 1) this.runObserved[i] = 1;
      }
    }
    this.deadline = new Float64Array(n);
    for (let c = 0; c < p.clients.length; c++) {
      let min = Infinity;
      for (let i = (p.laneEnd[c] as number) - 1; i >= (p.laneStart[c] as number); i--) {
        if (p.status[i] === OK) min = Math.min(min, p.ret[i] as number);
        this.deadline[i] = mdl ? min : p.status[i] === OK ? (p.ret[i] as number) : Infinity;
      }
    }
    const rng = new SeededRng(0x5eed);
    const word = () => (rng.next() * 4294967296) >>> 0;
    this.z1 = Uint32Array.from({ length: n }, word);
    this.z2 = Uint32Array.from({ length: n }, word);
    this.z3 = Uint32Array.from({ length: n }, word);
  }

  private newId(s: string | null, h1: number, h2: number): number {
    this.idStr.push(s);
    this.idH1.push(h1);
    this.idH2.push(h2);
    return this.idStr.length - 1;
  }

  private intern(x: number, s: string | null): number {
    if (s === null) return this.nullId[x] as number;
    const ids = this.idsOfKey[x] as Map<string, number>;
    let id = ids.get(s);
    if (id === undefined) {
      id = this.newId(s, stringHash(s, HASH_BASE_1), stringHash(s, HASH_BASE_2));
      ids.set(s, id);
    }
    return id;
  }

  private tabulatePrefixWriters(): void {
    const p = this.p;
    const keys = p.keys.length;
    const writersByValue: Map<number, number[]>[] = Array.from({ length: keys }, () => new Map());
    const needsOfKey: Set<number>[] = Array.from({ length: keys }, () => new Set());
    for (let i = 0; i < p.n; i++) {
      const x = p.key[i] as number;
      if ((this.appendsOfKey[x] as Int32Array).length === 0) continue;
      const need = this.needId[i] as number;
      if (need >= 0 && need !== this.nullId[x]) needsOfKey[x]?.add(need);
      if (this.writer[i] === 1 && p.kind[i] !== APPEND) {
        const byValue = writersByValue[x] as Map<number, number[]>;
        const id = this.writeId[i] as number;
        const list = byValue.get(id);
        if (list === undefined) byValue.set(id, [i]);
        else list.push(i);
      }
    }
    for (let x = 0; x < keys; x++) {
      const needs = needsOfKey[x] as Set<number>;
      const byValue = writersByValue[x] as Map<number, number[]>;
      if (needs.size * byValue.size > PREFIX_PAIRS_MAX) {
        this.prefixUntracked[x] = 1;
        continue;
      }
      for (const need of needs) {
        const s = this.idStr[need] as string;
        const found: number[] = [];
        for (const [id, ops] of byValue) {
          const w = this.idStr[id] as string;
          if (w.length < s.length && s.startsWith(w)) found.push(...ops);
        }
        if (found.length > 0) this.prefixWriters[need] = Int32Array.from(found);
      }
    }
  }

  private observedWrites(): Uint8Array {
    const p = this.p;
    const observed = new Uint8Array(p.n);
    const needsOfKey: Set<string>[] = Array.from({ length: p.keys.length }, () => new Set());
    for (let i = 0; i < p.n; i++) {
      const need = this.needId[i] as number;
      const s = need >= 0 ? this.idStr[need] : null;
      if (s !== null && s !== undefined) needsOfKey[p.key[i] as number]?.add(s);
    }
    for (let i = 0; i < p.n; i++) {
      if (this.writer[i] === 0) continue;
      if (p.kind[i] !== APPEND) {
        const id = this.writeId[i] as number;
        observed[i] = (this.readersOf[id] as Int32Array).length > 0 || this.prefixReadersOf[id] !== null ? 1 : 0;
        continue;
      }
      const needs = needsOfKey[p.key[i] as number] as Set<string>;
      const v = p.value[i] as string;
      if (needs.size > OBSERVED_SCAN_MAX) observed[i] = 1;
      else for (const s of needs) if (s.includes(v)) observed[i] = 1;
    }
    return observed;
  }
}

function bump(counts: Int32Array, i: number): void {
  counts[i] = (counts[i] as number) + 1;
}

const cache = { mdl: new WeakMap<Prepared, SearchTables>(), linearizable: new WeakMap<Prepared, SearchTables>() };

/** The tables for `p`, built on first use. */
export function tablesFor(p: Prepared, mdl: boolean): SearchTables {
  const byModel = mdl ? cache.mdl : cache.linearizable;
  let tables = byModel.get(p);
  if (tables === undefined) {
    tables = new SearchTables(p, mdl);
    byModel.set(p, tables);
  }
  return tables;
}

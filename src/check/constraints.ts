/**
 * Fast proofs of violation, and the explanation a person needs, found before (and usually
 * instead of) the exhaustive search.
 *
 * Two kinds of finding:
 * - direct ones: under mdl a failed operation whose suffix-closed run holds an ok operation; in
 *   both models an ok read of a value that no operation that may have taken effect writes.
 * - a cycle of "must precede" edges among operations that are in every witness order (ok ones,
 *   and unknown ones that some ok operation forces in). Each edge holds in every witness:
 *   - real time: a is ok and returned before b was issued;
 *   - issue order (mdl only): a and b are of one client and a was issued first;
 *   - reads-from: b reads a value only a can write;
 *   - absent reads: b writes a key that a read as absent (nothing deletes, so a came first);
 *   - overwrites: a read the value w wrote, b writes the key too and is known to follow w
 *     (by real time, issue order, or because b read w's value too), so a came before b.
 * A cycle among them is a violation, and its edges are the explanation. Edges that hold only
 * for operations that might be left out are not drawn, so every cycle is real; the search
 * decides what this misses.
 *
 * Real time is drawn through a chain of "time" nodes (and overwrites through a chain per key)
 * so the graph stays linear in the history's size.
 */
import { AssertionError } from '../protocol/common/assert.js';
import { APPEND, CAS, GET, OK, PUT, type Prepared } from './prepared.js';
import type { Sources } from './sources.js';
import type { Model } from './search.js';

export const RT = 0;
export const ISSUE = 1;
export const READS_FROM = 2;
export const ABSENT_READ = 3;
export const OVERWRITE_RT = 4;
export const OVERWRITE_ISSUE = 5;
export const OVERWRITE_READ = 6;
export type EdgeKind =
  | typeof RT
  | typeof ISSUE
  | typeof READS_FROM
  | typeof ABSENT_READ
  | typeof OVERWRITE_RT
  | typeof OVERWRITE_ISSUE
  | typeof OVERWRITE_READ;

/** One edge of a cycle: `from` must precede `to`; `via` is the write an overwrite edge is about. */
export interface Step {
  from: number;
  to: number;
  kind: EdgeKind;
  via: number;
}

export type Finding =
  /** mdl: `chain[0]` failed, each next one was issued while the one before was outstanding, and the last is ok. */
  | { kind: 'suffix'; chain: number[] }
  /** An ok read of a value that only `leftOut` (failed or forced out) operations write, or none. */
  | { kind: 'unwritten'; read: number; leftOut: number[] }
  | { kind: 'cycle'; steps: Step[] };

/** At most this many other cas readers of one write get an overwrite edge from each reader. */
const CAS_READERS_MAX = 4;
/** Start a shortest-cycle search from at most this many operations of the chosen component. */
const CYCLE_STARTS_MAX = 16;
/** Look for the shortest cycle in at most this many components (the smallest ones). */
const COMPONENTS_MAX = 8;

export type Analysis =
  | { kind: 'violation'; finding: Finding }
  /**
   * No proof of violation. `earliest[i]`: a lower bound on where operation i can go, in time:
   * its call, or later when it must follow operations issued later (through the graph's edges).
   * Orders that agree with it where they are free to agree tend to fit together across keys.
   */
  | { kind: 'consistent'; earliest: Float64Array };

/** `facts` must be analyzeSources(p, model). */
export function analyzeConstraints(p: Prepared, model: Model, facts: Sources): Analysis {
  if (facts.suffixBreach !== null) return { kind: 'violation', finding: { kind: 'suffix', chain: facts.suffixBreach } };
  if (facts.unwritten !== null) return { kind: 'violation', finding: { kind: 'unwritten', ...facts.unwritten } };
  const graph = new ConstraintGraph(p, model === 'mdl', facts);
  const cycle = graph.shortestCycle();
  return cycle !== null ? { kind: 'violation', finding: cycle } : { kind: 'consistent', earliest: graph.earliest() };
}

class ConstraintGraph {
  private readonly n: number;
  /** Operations in every witness. */
  private readonly sure: Uint8Array;
  /** The only operation that can write what ok read i reads, or -1. */
  private readonly source: Int32Array;
  private readonly headEdge: number[] = [];
  private readonly edgeNext: number[] = [];
  private readonly edgeFrom: number[] = [];
  private readonly edgeTo: number[] = [];
  private readonly edgeKind: EdgeKind[] = [];
  private readonly edgeVia: number[] = [];

  constructor(
    private readonly p: Prepared,
    private readonly mdl: boolean,
    facts: Sources,
  ) {
    this.n = p.n;
    this.sure = facts.sure;
    this.source = facts.source;
    for (let i = 0; i < p.n; i++) this.headEdge.push(-1);
    this.addRealTime();
    if (mdl) this.addIssueOrder();
    this.addAbsentReads();
    this.addReadsFromAndOverwrites();
  }

  /** Longest paths by call time over the (acyclic) graph; operations off the graph follow their lane. */
  earliest(): Float64Array {
    const p = this.p;
    const total = this.headEdge.length;
    const time = new Float64Array(total).fill(-Infinity);
    const indegree = new Int32Array(total);
    for (const to of this.edgeTo) indegree[to] = (indegree[to] as number) + 1;
    const queue: number[] = [];
    for (let v = 0; v < total; v++) {
      if (v < this.n) time[v] = p.call[v] as number;
      if (indegree[v] === 0) queue.push(v);
    }
    for (let head = 0; head < queue.length; head++) {
      const v = queue[head] as number;
      for (let e = this.headEdge[v] as number; e >= 0; e = this.edgeNext[e] as number) {
        const w = this.edgeTo[e] as number;
        time[w] = Math.max(time[w] as number, time[v] as number);
        indegree[w] = (indegree[w] as number) - 1;
        if (indegree[w] === 0) queue.push(w);
      }
    }
    const earliest = time.slice(0, this.n);
    for (let i = 1; i < this.n; i++) {
      if (this.mdl && this.sure[i] === 0 && p.lane[i] === p.lane[i - 1]) earliest[i] = Math.max(earliest[i] as number, earliest[i - 1] as number);
    }
    return earliest;
  }

  /** Does sure operation k change its key whenever it takes effect? */
  private certainWriter(k: number): boolean {
    const p = this.p;
    if (this.sure[k] === 0) return false;
    const kind = p.kind[k];
    if (kind === PUT || kind === APPEND) return true;
    return kind === CAS && p.status[k] === OK && p.output[k] === true;
  }

  private newNode(): number {
    this.headEdge.push(-1);
    return this.headEdge.length - 1;
  }

  private edge(from: number, to: number, kind: EdgeKind, via = -1): void {
    this.edgeFrom.push(from);
    this.edgeTo.push(to);
    this.edgeKind.push(kind);
    this.edgeVia.push(via);
    this.edgeNext.push(this.headEdge[from] as number);
    this.headEdge[from] = this.edgeTo.length - 1;
  }

  private addRealTime(): void {
    const p = this.p;
    const oks: number[] = [];
    for (let i = 0; i < p.n; i++) if (this.sure[i] === 1 && p.status[i] === OK) oks.push(i);
    oks.sort((a, b) => (p.ret[a] as number) - (p.ret[b] as number));
    const first = this.headEdge.length;
    for (let k = 0; k < oks.length; k++) {
      const t = this.newNode();
      this.edge(oks[k] as number, t, RT);
      if (k > 0) this.edge(t - 1, t, RT);
    }
    for (let b = 0; b < p.n; b++) {
      if (this.sure[b] === 0) continue;
      let lo = 0;
      let hi = oks.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((p.ret[oks[mid] as number] as number) < (p.call[b] as number)) lo = mid + 1;
        else hi = mid;
      }
      if (lo > 0) this.edge(first + lo - 1, b, RT);
    }
  }

  private addIssueOrder(): void {
    const p = this.p;
    for (let c = 0; c < p.clients.length; c++) {
      let prev = -1;
      for (let i = p.laneStart[c] as number; i < (p.laneEnd[c] as number); i++) {
        if (this.sure[i] === 0) continue;
        if (prev >= 0) this.edge(prev, i, ISSUE);
        prev = i;
      }
    }
  }

  /** Nothing deletes: whoever read a key as absent precedes every write that makes it present. */
  private addAbsentReads(): void {
    const p = this.p;
    const keys = p.keys.length;
    const gets: number[][] = Array.from({ length: keys }, () => []);
    const cases: number[][] = Array.from({ length: keys }, () => []);
    const writers: number[][] = Array.from({ length: keys }, () => []);
    for (let i = 0; i < p.n; i++) {
      const x = p.key[i] as number;
      if (this.certainWriter(i)) writers[x]?.push(i);
      if (p.status[i] !== OK) continue;
      if (p.kind[i] === GET && p.output[i] === null) gets[x]?.push(i);
      if (p.kind[i] === CAS && p.output[i] === true && p.expect[i] === null) cases[x]?.push(i);
    }
    for (let x = 0; x < keys; x++) {
      const ws = writers[x] as number[];
      if ((gets[x] as number[]).length > 0 && ws.length > 0) {
        const hub = this.newNode();
        for (const g of gets[x] as number[]) this.edge(g, hub, ABSENT_READ);
        for (const w of ws) this.edge(hub, w, ABSENT_READ);
      }
      const cs = cases[x] as number[];
      if (cs.length >= 2) {
        this.edge(cs[0] as number, cs[1] as number, ABSENT_READ);
        this.edge(cs[1] as number, cs[0] as number, ABSENT_READ);
      } else if (cs.length === 1 && ws.length > 1) {
        const c = cs[0] as number;
        const hub = this.newNode();
        this.edge(c, hub, ABSENT_READ);
        for (const w of ws) if (w !== c) this.edge(hub, w, ABSENT_READ);
      }
    }
  }

  private addReadsFromAndOverwrites(): void {
    const p = this.p;
    const keys = p.keys.length;
    // Certain writers of each key sorted by call, with a chain node before each: chain[k] reaches writers k, k+1, ...
    const writers: number[][] = Array.from({ length: keys }, () => []);
    for (let i = 0; i < p.n; i++) if (this.certainWriter(i)) writers[p.key[i] as number]?.push(i);
    const chainStart = new Int32Array(keys);
    const positionInKey = new Int32Array(p.n).fill(-1);
    for (let x = 0; x < keys; x++) {
      const ws = (writers[x] as number[]).sort((a, b) => (p.call[a] as number) - (p.call[b] as number) || a - b);
      chainStart[x] = this.headEdge.length;
      ws.forEach((w, k) => {
        positionInKey[w] = k;
        const node = this.newNode();
        this.edge(node, w, OVERWRITE_RT);
        if (k > 0) this.edge(node - 1, node, OVERWRITE_RT);
      });
    }
    // The next certain writer of the same key in the same lane.
    const nextInLane = new Int32Array(p.n).fill(-1);
    for (let c = 0; c < p.clients.length; c++) {
      const after = new Map<number, number>();
      for (let i = (p.laneEnd[c] as number) - 1; i >= (p.laneStart[c] as number); i--) {
        nextInLane[i] = after.get(p.key[i] as number) ?? -1;
        if (this.certainWriter(i)) after.set(p.key[i] as number, i);
      }
    }
    const casReaders = new Map<number, number[]>();
    for (let r = 0; r < p.n; r++) {
      const w = this.source[r] as number;
      if (w < 0) continue;
      this.edge(w, r, READS_FROM);
      if (p.kind[r] === CAS) {
        const list = casReaders.get(w);
        if (list === undefined) casReaders.set(w, [r]);
        else list.push(r);
      }
    }
    for (let r = 0; r < p.n; r++) {
      const w = this.source[r] as number;
      if (w < 0) continue;
      const x = p.key[r] as number;
      const ws = writers[x] as number[];
      if (p.status[w] === OK) {
        // Writers issued after w returned follow w; r must precede each of them (but itself).
        let j = lowerBoundCall(p, ws, p.ret[w] as number);
        const own = positionInKey[r] as number;
        if (own >= j) {
          for (; j < own; j++) this.edge(r, ws[j] as number, OVERWRITE_RT, w);
          j = own + 1;
        }
        if (j < ws.length) this.edge(r, (chainStart[x] as number) + j, OVERWRITE_RT, w);
      }
      if (this.mdl && this.sure[w] === 1) {
        let later = nextInLane[w] as number;
        if (later === r) later = nextInLane[r] as number;
        if (later >= 0) this.edge(r, later, OVERWRITE_ISSUE, w);
      }
      let added = 0;
      for (const c of casReaders.get(w) ?? []) {
        if (c === r || added >= CAS_READERS_MAX) continue;
        this.edge(r, c, OVERWRITE_READ, w);
        added++;
      }
    }
  }

  shortestCycle(): Finding | null {
    const { components, componentOf } = this.stronglyConnected();
    const candidates = components
      .map((nodes, id) => ({ id, ops: nodes.filter((v) => v < this.n) }))
      .sort((a, b) => a.ops.length - b.ops.length)
      .slice(0, COMPONENTS_MAX);
    let best: Step[] | null = null;
    for (const { id, ops } of candidates) {
      for (const start of ops.slice(0, CYCLE_STARTS_MAX)) {
        const steps = this.steps(this.cycleThrough(start, id, componentOf));
        if (best === null || steps.length < best.length) best = steps;
      }
    }
    return best === null ? null : { kind: 'cycle', steps: best };
  }

  /** Edge ids of a shortest cycle through `start` inside its component, by breadth-first search. */
  private cycleThrough(start: number, component: number, componentOf: Int32Array): number[] {
    const parentEdge = new Map<number, number>();
    const queue = [start];
    for (let head = 0; head < queue.length; head++) {
      const v = queue[head] as number;
      for (let e = this.headEdge[v] as number; e >= 0; e = this.edgeNext[e] as number) {
        const w = this.edgeTo[e] as number;
        if (componentOf[w] !== component) continue;
        if (w === start) {
          const cycle = [e];
          for (let u = v; u !== start; u = this.edgeFrom[parentEdge.get(u) as number] as number) cycle.push(parentEdge.get(u) as number);
          return cycle.reverse();
        }
        if (parentEdge.has(w)) continue;
        parentEdge.set(w, e);
        queue.push(w);
      }
    }
    throw new AssertionError('an operation of a strongly connected component lies on no cycle');
  }

  /** Turns a cycle of edge ids into steps between operations, folding the helper nodes away. */
  private steps(cycle: number[]): Step[] {
    const steps: Step[] = [];
    let open: Step | null = null;
    for (const e of cycle) {
      const v = this.edgeFrom[e] as number;
      const w = this.edgeTo[e] as number;
      if (v < this.n) open = { from: v, to: -1, kind: this.edgeKind[e] as EdgeKind, via: this.edgeVia[e] as number };
      if (w < this.n && open !== null) {
        open.to = w;
        steps.push(open);
        open = null;
      }
    }
    return steps;
  }

  /** Tarjan's algorithm without recursion; components of a single node are dropped (no node has a self-loop). */
  private stronglyConnected(): { components: number[][]; componentOf: Int32Array } {
    const total = this.headEdge.length;
    const index = new Int32Array(total).fill(-1);
    const low = new Int32Array(total);
    const onStack = new Uint8Array(total);
    const stack: number[] = [];
    const components: number[][] = [];
    const componentOf = new Int32Array(total).fill(-1);
    const callNode: number[] = [];
    const callEdge: number[] = [];
    let counter = 0;
    for (let root = 0; root < total; root++) {
      if (index[root] !== -1) continue;
      callNode.push(root);
      callEdge.push(this.headEdge[root] as number);
      index[root] = low[root] = counter++;
      stack.push(root);
      onStack[root] = 1;
      while (callNode.length > 0) {
        const top = callNode.length - 1;
        const v = callNode[top] as number;
        const e = callEdge[top] as number;
        if (e >= 0) {
          callEdge[top] = this.edgeNext[e] as number;
          const w = this.edgeTo[e] as number;
          if (index[w] === -1) {
            index[w] = low[w] = counter++;
            stack.push(w);
            onStack[w] = 1;
            callNode.push(w);
            callEdge.push(this.headEdge[w] as number);
          } else if (onStack[w] === 1) {
            low[v] = Math.min(low[v] as number, index[w] as number);
          }
          continue;
        }
        callNode.pop();
        callEdge.pop();
        if (callNode.length > 0) {
          const parent = callNode[callNode.length - 1] as number;
          low[parent] = Math.min(low[parent] as number, low[v] as number);
        }
        if (low[v] === index[v]) {
          const component: number[] = [];
          let w: number;
          do {
            w = stack.pop() as number;
            onStack[w] = 0;
            component.push(w);
          } while (w !== v);
          if (component.length > 1) {
            for (const u of component) componentOf[u] = components.length;
            components.push(component);
          }
        }
      }
    }
    return { components, componentOf };
  }
}

function lowerBoundCall(p: Prepared, sorted: readonly number[], t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((p.call[sorted[mid] as number] as number) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

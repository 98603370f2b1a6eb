/**
 * Witness orders: the independent check every `ok` verdict must pass, and the merge of one
 * order per key into one order for the whole history (the checkers search keys one at a time).
 *
 * `witnessProblem` is deliberately written straight from HISTORY.md, sharing no code with the
 * search: it replays the order on the project's key-value state machine and checks each rule
 * of the model directly.
 */
import { KvStore } from '../protocol/common/kv.js';
import type { HistoryOp } from './history.js';
import type { Model } from './search.js';

/** What is wrong with `order` (indices into `ops`) as a witness for `model`, or null when nothing is. */
export function witnessProblem(ops: readonly HistoryOp[], model: Model, order: readonly number[]): string | null {
  const n = ops.length;
  const position = new Int32Array(n).fill(-1);
  for (let k = 0; k < order.length; k++) {
    const i = order[k] as number;
    if (!Number.isInteger(i) || i < 0 || i >= n) return `position ${k} names no operation (${i})`;
    if (position[i] !== -1) return `operation ${i} appears twice`;
    if ((ops[i] as HistoryOp).status === 'fail') return `operation ${i} failed, yet it is in the order`;
    position[i] = k;
  }
  for (let i = 0; i < n; i++) {
    if ((ops[i] as HistoryOp).status === 'ok' && position[i] === -1) return `ok operation ${i} is missing from the order`;
  }

  const kv = new KvStore();
  for (const i of order) {
    const op = ops[i] as HistoryOp;
    const output = kv.apply({ client: op.client, seq: op.seq, op: op.op, key: op.key, value: op.value ?? null, expect: op.expect ?? null });
    if (op.status === 'ok' && output !== op.output) {
      return `operation ${i} returned ${JSON.stringify(op.output)} but returns ${JSON.stringify(output)} at its place in the order`;
    }
  }

  // Real time: no ok operation placed after b may have returned before b was issued.
  let laterOkRetMin = Infinity;
  for (let k = order.length - 1; k >= 0; k--) {
    const b = ops[order[k] as number] as HistoryOp;
    if (laterOkRetMin < b.call) return `operation ${order[k] as number} is placed before an ok operation that returned before it was issued`;
    if (b.status === 'ok') laterOkRetMin = Math.min(laterOkRetMin, b.ret as number);
  }
  if (model === 'linearizable') return null;

  const byClient = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const client = (ops[i] as HistoryOp).client;
    const list = byClient.get(client);
    if (list === undefined) byClient.set(client, [i]);
    else list.push(i);
  }
  for (const list of byClient.values()) {
    list.sort((a, b) => (ops[a] as HistoryOp).seq - (ops[b] as HistoryOp).seq);
    let lastPosition = -1;
    let outstandingUntil = -Infinity;
    for (const i of list) {
      const op = ops[i] as HistoryOp;
      const at = position[i] as number;
      if (op.call < outstandingUntil) {
        if (at !== -1 || op.status === 'ok') return `operation ${i} was issued while an earlier operation of its client that did not take effect was outstanding, yet it takes effect`;
      }
      if (at === -1) {
        outstandingUntil = Math.max(outstandingUntil, op.ret ?? Infinity);
        continue;
      }
      if (at < lastPosition) return `operation ${i} is placed before an operation its client issued earlier`;
      lastPosition = at;
    }
  }
  return null;
}

/** Every value a key holds along `order` (one key's legal order), absence first. */
function keyVersions(ops: readonly HistoryOp[], order: readonly number[]): Set<string | null> {
  const kv = new KvStore();
  const versions = new Set<string | null>([null]);
  for (const i of order) {
    const op = ops[i] as HistoryOp;
    kv.apply({ client: op.client, seq: op.seq, op: op.op, key: op.key, value: op.value ?? null, expect: op.expect ?? null });
    versions.add(kv.read(op.key));
  }
  return versions;
}

/** An ordering constraint the merge used: from a key's order, a client's issue order, or real time. */
export interface MergeEdge {
  from: number;
  to: number;
  kind: 'key' | 'issue' | 'time';
}

/** How many of the cycles met while merging are reported. */
const CYCLES_REPORTED_MAX = 4096;

export interface Merged {
  order: number[];
  cycles: MergeEdge[][];
  stuck: number;
}

/**
 * One order for the whole history from one legal order per key. Each key's order is first
 * loosened to what it really fixes: the sequence of its writes, and each read between the write
 * it saw and the next write. Those constraints, real time, and (with `issueOrder`) each client's
 * issue order are merged by a topological sort. For linearizability this always succeeds (the
 * locality of linearizability). Under issue order the constraints may form cycles: each time the
 * sort is stuck it reports one such cycle and goes on with the remaining operation issued
 * first; `stuck` counts those times, and only when it is 0 does the order satisfy every
 * constraint. The caller still replays it: this builds a candidate, it does not judge it.
 */
export function mergeKeyOrders(ops: readonly HistoryOp[], keyOrders: readonly (readonly number[])[], issueOrder: boolean): Merged {
  return new KeyOrderMerge(ops, keyOrders, issueOrder).run();
}

const KEY = 0;
const ISSUE = 1;
const TIME = 2;
const KIND_NAMES: readonly MergeEdge['kind'][] = ['key', 'issue', 'time'];

/** The merge's graph, in compressed sparse rows: nodes 0..m-1 are operations, m.. time nodes. */
class KeyOrderMerge {
  private readonly nodes: number[];
  private readonly m: number;
  private readonly total: number;
  /** Node of each operation of `ops`, or -1. */
  private readonly nodeOf: Int32Array;
  private edgeFrom: Int32Array;
  private edgeTo: Int32Array;
  private edgeKind: Uint8Array;
  private edges = 0;

  constructor(
    private readonly ops: readonly HistoryOp[],
    keyOrders: readonly (readonly number[])[],
    issueOrder: boolean,
  ) {
    const nodes = keyOrders.flat();
    this.nodes = nodes;
    const m = nodes.length;
    this.m = m;
    const byRet = nodes.filter((i) => (ops[i] as HistoryOp).status === 'ok').sort((a, b) => ((ops[a] as HistoryOp).ret as number) - ((ops[b] as HistoryOp).ret as number));
    this.total = m + byRet.length;
    this.nodeOf = new Int32Array(ops.length).fill(-1);
    nodes.forEach((op, k) => (this.nodeOf[op] = k));
    this.edgeFrom = new Int32Array(4 * m + 16);
    this.edgeTo = new Int32Array(4 * m + 16);
    this.edgeKind = new Uint8Array(4 * m + 16);
    for (const order of keyOrders) this.addKey(order);
    if (issueOrder) this.addIssueOrder();
    this.addRealTime(byRet);
  }

  private edge(a: number, b: number, kind: number): void {
    if (this.edges === this.edgeFrom.length) {
      const grow = <T extends Int32Array | Uint8Array>(old: T, make: (n: number) => T): T => {
        const bigger = make(old.length * 2);
        bigger.set(old);
        return bigger;
      };
      this.edgeFrom = grow(this.edgeFrom, (n) => new Int32Array(n));
      this.edgeTo = grow(this.edgeTo, (n) => new Int32Array(n));
      this.edgeKind = grow(this.edgeKind, (n) => new Uint8Array(n));
    }
    this.edgeFrom[this.edges] = a;
    this.edgeTo[this.edges] = b;
    this.edgeKind[this.edges] = kind;
    this.edges++;
  }

  private addKey(order: readonly number[]): void {
    const ops = this.ops;
    const versions = keyVersions(ops, order);
    let value: string | null = null;
    let lastWrite = -1;
    let readsSince: number[] = [];
    for (const i of order) {
      const op = ops[i] as HistoryOp;
      const v = this.nodeOf[i] as number;
      const writes = op.op === 'put' || op.op === 'append' || (op.op === 'cas' && value === op.expect);
      // An unknown get returns nothing to explain, and a cas that does not swap only needs a
      // value other than its expected one: when the key never holds that value, it may go anywhere.
      if (op.op === 'get' && op.status === 'unknown') continue;
      if (!writes && op.op === 'cas' && !versions.has(op.expect as string | null)) continue;
      if (lastWrite >= 0) this.edge(lastWrite, v, KEY);
      if (!writes) {
        readsSince.push(v);
        continue;
      }
      for (const r of readsSince) this.edge(r, v, KEY);
      readsSince = [];
      lastWrite = v;
      value = op.op === 'append' ? (value ?? '') + (op.value as string) : (op.value as string);
    }
  }

  private addIssueOrder(): void {
    const ops = this.ops;
    const byClient = new Map<string, number[]>();
    for (const i of this.nodes) {
      const client = (ops[i] as HistoryOp).client;
      const list = byClient.get(client);
      if (list === undefined) byClient.set(client, [i]);
      else list.push(i);
    }
    for (const list of byClient.values()) {
      list.sort((a, b) => (ops[a] as HistoryOp).seq - (ops[b] as HistoryOp).seq);
      for (let k = 1; k < list.length; k++) this.edge(this.nodeOf[list[k - 1] as number] as number, this.nodeOf[list[k] as number] as number, ISSUE);
    }
  }

  private addRealTime(byRet: readonly number[]): void {
    const ops = this.ops;
    const m = this.m;
    const rets = byRet.map((i) => (ops[i] as HistoryOp).ret as number);
    byRet.forEach((op, k) => {
      this.edge(this.nodeOf[op] as number, m + k, TIME);
      if (k + 1 < byRet.length) this.edge(m + k, m + k + 1, TIME);
    });
    this.nodes.forEach((op, k) => {
      // After the last ok operation (in ret order) that returned before op was issued.
      let lo = 0;
      let hi = rets.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((rets[mid] as number) < (ops[op] as HistoryOp).call) lo = mid + 1;
        else hi = mid;
      }
      if (lo > 0) this.edge(m + lo - 1, k, TIME);
    });
  }

  /** Adjacency by source (out) or by target (in), as offsets into a list of edge ids. */
  private rows(byTarget: boolean): { start: Int32Array; list: Int32Array } {
    const ends = byTarget ? this.edgeTo : this.edgeFrom;
    const start = new Int32Array(this.total + 1);
    for (let e = 0; e < this.edges; e++) start[(ends[e] as number) + 1] = (start[(ends[e] as number) + 1] as number) + 1;
    for (let v = 0; v < this.total; v++) start[v + 1] = (start[v + 1] as number) + (start[v] as number);
    const fill = start.slice(0, this.total);
    const list = new Int32Array(this.edges);
    for (let e = 0; e < this.edges; e++) {
      const v = ends[e] as number;
      list[fill[v] as number] = e;
      fill[v] = (fill[v] as number) + 1;
    }
    return { start, list };
  }

  run(): { order: number[]; cycles: MergeEdge[][]; stuck: number } {
    const { ops, nodes, m, total } = this;
    const out = this.rows(false);
    const into = this.rows(true);
    const indegree = new Int32Array(total);
    for (let e = 0; e < this.edges; e++) indegree[this.edgeTo[e] as number] = (indegree[this.edgeTo[e] as number] as number) + 1;
    const done = new Uint8Array(total);
    const queued = new Uint8Array(total);
    const queue = new Int32Array(total);
    let tail = 0;
    for (let v = 0; v < total; v++) {
      if (indegree[v] === 0) {
        queued[v] = 1;
        queue[tail++] = v;
      }
    }
    const byCall = nodes.map((_, k) => k).sort((a, b) => (ops[nodes[a] as number] as HistoryOp).call - (ops[nodes[b] as number] as HistoryOp).call);
    let nextByCall = 0;
    let stuck = 0;
    const cycles: MergeEdge[][] = [];
    const result: number[] = [];
    for (let head = 0; result.length < m; head++) {
      if (head === tail) {
        // Stuck: report a cycle, and go on with the operation issued first that is not sorted yet.
        stuck++;
        while (queued[byCall[nextByCall] as number] === 1) nextByCall++;
        const v = byCall[nextByCall] as number;
        if (cycles.length < CYCLES_REPORTED_MAX) cycles.push(this.cycleInto(v, done, into));
        queued[v] = 1;
        queue[tail++] = v;
      }
      const v = queue[head] as number;
      done[v] = 1;
      if (v < m) result.push(nodes[v] as number);
      for (let k = out.start[v] as number; k < (out.start[v + 1] as number); k++) {
        const w = this.edgeTo[out.list[k] as number] as number;
        indegree[w] = (indegree[w] as number) - 1;
        if (indegree[w] === 0 && queued[w] === 0) {
          queued[w] = 1;
          queue[tail++] = w;
        }
      }
    }
    return { order: result, cycles, stuck };
  }

  /** A cycle among the nodes not yet sorted, found walking back from `start`, as edges between operations. */
  private cycleInto(start: number, done: Uint8Array, into: { start: Int32Array; list: Int32Array }): MergeEdge[] {
    const { nodes, m } = this;
    const position = new Map<number, number>();
    const path: number[] = [];
    const via: number[] = [];
    let v = start;
    while (!position.has(v)) {
      position.set(v, path.length);
      path.push(v);
      // Every node not yet sorted still waits for a predecessor that is not sorted either.
      let edge = -1;
      for (let k = into.start[v] as number; k < (into.start[v + 1] as number) && edge < 0; k++) {
        const e = into.list[k] as number;
        if (done[this.edgeFrom[e] as number] === 0) edge = e;
      }
      via.push(edge);
      v = this.edgeFrom[edge] as number;
    }
    // path[i] is entered by edge via[i] from path[i + 1]; the cycle is path[position(v)..].
    const from = position.get(v) as number;
    const cycle: { node: number; edge: number }[] = [];
    for (let i = path.length - 1; i >= from; i--) cycle.push({ node: path[i] as number, edge: via[i] as number });
    // Now cycle[i].node -> cycle[i].edge... walk forward: the edge into path[i] comes from path[i+1].
    const first = cycle.findIndex((c) => c.node < m);
    const forward = [...cycle.slice(first), ...cycle.slice(0, first)];
    const edges: MergeEdge[] = [];
    let fromOp = forward[0]?.node as number;
    for (let k = 1; k <= forward.length; k++) {
      const step = forward[k % forward.length] as { node: number; edge: number };
      if (step.node >= m) continue;
      edges.push({ from: nodes[fromOp] as number, to: nodes[step.node] as number, kind: KIND_NAMES[this.edgeKind[step.edge] as number] as MergeEdge['kind'] });
      fromOp = step.node;
    }
    return edges;
  }
}

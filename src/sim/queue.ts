/**
 * The simulator's agenda: a binary min-heap of events ordered by (time, insertion sequence).
 * The sequence number breaks ties, so events due at the same instant run in the order they
 * were scheduled and a run never depends on the heap's internal layout.
 */
import { assert } from '../protocol/common/assert.js';

interface Entry<E> {
  readonly timeMs: number;
  readonly seq: number;
  readonly event: E;
}

function before<E>(a: Entry<E>, b: Entry<E>): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq);
}

export class EventQueue<E> {
  private readonly heap: Entry<E>[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(timeMs: number, event: E): void {
    assert(Number.isSafeInteger(timeMs) && timeMs >= 0, `event time must be a whole millisecond, got ${timeMs}`);
    const heap = this.heap;
    const entry: Entry<E> = { timeMs, seq: this.nextSeq++, event };
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as Entry<E>;
      if (!before(entry, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = entry;
  }

  /** The time of the earliest event, or null when the queue is empty. */
  peekTimeMs(): number | null {
    const top = this.heap[0];
    return top === undefined ? null : top.timeMs;
  }

  pop(): E | null {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return null;
    const last = heap.pop() as Entry<E>;
    const n = heap.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let child = l;
        if (r < n && before(heap[r] as Entry<E>, heap[l] as Entry<E>)) child = r;
        const c = heap[child] as Entry<E>;
        if (!before(c, last)) break;
        heap[i] = c;
        i = child;
      }
      heap[i] = last;
    }
    return top.event;
  }
}

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRng } from '../../src/protocol/common/rng.js';
import { EventQueue } from '../../src/sim/queue.js';

describe('sim', () => {
  describe('event queue', () => {
    it('pops events by time, and events at the same time in the order they were pushed', () => {
      const rng = new SeededRng(7);
      const q = new EventQueue<{ t: number; n: number }>();
      const pushed: { t: number; n: number }[] = [];
      for (let n = 0; n < 2000; n++) {
        const e = { t: rng.int(50), n };
        pushed.push(e);
        q.push(e.t, e);
        // Interleave pops with pushes so the heap is exercised in both directions.
        if (n % 7 === 6) {
          const popped = q.pop();
          assert.ok(popped !== null);
          pushed.splice(pushed.indexOf(popped), 1);
          q.push(popped.t, popped);
          pushed.push(popped);
        }
      }
      const out: { t: number; n: number }[] = [];
      for (let e = q.pop(); e !== null; e = q.pop()) out.push(e);
      assert.equal(out.length, 2000);
      // Re-pushed events take a fresh sequence number: they sort after events pushed before them.
      const expected = [...pushed].sort((a, b) => a.t - b.t);
      assert.deepEqual(out, expected);
      assert.equal(q.peekTimeMs(), null);
    });

    it('rejects a time that is not a whole millisecond', () => {
      const q = new EventQueue<number>();
      assert.throws(() => q.push(1.5, 0), /whole millisecond/);
      assert.throws(() => q.push(-1, 0), /whole millisecond/);
    });
  });
});

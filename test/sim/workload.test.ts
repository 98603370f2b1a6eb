import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OP_NAMES } from '../../src/protocol/common/kv.js';
import { SeededRng } from '../../src/protocol/common/rng.js';
import type { HistoryOp } from '../../src/protocol/common/history.js';
import { Simulator } from '../../src/sim/simulator.js';
import { OpGenerator, Workload } from '../../src/sim/workload.js';
import { ToyClient, ToyCluster, type ToyMsg, type ToyRecord } from './toy.js';

function toyRun(seed: number) {
  const sim = new Simulator<ToyMsg, ToyRecord>({ seed, links: { client: { delayMs: 2, jitterMs: 4 } } });
  const cluster = new ToyCluster({ replicas: 3, leader: 0 });
  sim.addShard(0, 3, cluster.factory);
  const workload = new Workload(sim, () => new ToyClient(40), 3);
  return { sim, cluster, workload };
}

/** Checks the HISTORY.md shape of every record; returns them grouped by client, in seq order. */
function checkWellFormed(history: readonly HistoryOp[]): Map<string, HistoryOp[]> {
  const byClient = new Map<string, HistoryOp[]>();
  for (const r of history) {
    assert.ok(OP_NAMES.includes(r.op));
    assert.equal(typeof r.key, 'string');
    assert.equal('value' in r, r.op !== 'get', `value iff not a get: ${JSON.stringify(r)}`);
    assert.equal('expect' in r, r.op === 'cas', `expect iff a cas: ${JSON.stringify(r)}`);
    assert.ok(Number.isSafeInteger(r.call) && r.call % 1_000_000 === 0);
    if (r.ret !== null) assert.ok(Number.isSafeInteger(r.ret) && r.ret >= r.call);
    if (r.status === 'ok') {
      assert.ok(r.ret !== null && !('error' in r));
      if (r.op === 'cas') assert.equal(typeof r.output, 'boolean');
      else if (r.op !== 'get') assert.equal(r.output, null);
    } else {
      assert.equal(r.output, null);
      assert.equal(typeof r.error, 'string');
      if (r.status === 'fail') assert.ok(r.ret !== null);
    }
    const list = byClient.get(r.client) ?? [];
    list.push(r);
    byClient.set(r.client, list);
  }
  for (const [client, list] of byClient) {
    list.forEach((r, i) => assert.equal(r.seq, i, `${client}: seq ${r.seq} at position ${i}`));
  }
  return byClient;
}

/** The largest number of a client's operations outstanding at once. */
function mostOutstanding(list: readonly HistoryOp[]): number {
  const events: [number, number][] = [];
  for (const r of list) {
    events.push([r.call, 1]);
    // A slot freed at an instant can be reused at that instant: count returns first.
    if (r.ret !== null) events.push([r.ret, -1]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of events) {
    now += d;
    most = Math.max(most, now);
  }
  return most;
}

describe('sim', () => {
  describe('workload', () => {
    it('a single-dispatch closed loop never has two operations of a client outstanding', () => {
      const { sim, workload } = toyRun(4);
      workload.closedLoop({ outstandingMax: 1, startMs: 30, stopMs: 500 });
      sim.run(600);
      const byClient = checkWellFormed(workload.history());
      assert.equal(byClient.size, 3);
      for (const list of byClient.values()) {
        assert.ok(list.length > 20);
        assert.equal(mostOutstanding(list), 1);
        assert.ok(list.every((r) => r.status === 'ok'));
      }
    });

    it('a multi-dispatch closed loop keeps up to outstandingMax operations in flight', () => {
      const { sim, workload } = toyRun(4);
      workload.closedLoop({ outstandingMax: 4, startMs: 30, stopMs: 500 });
      sim.run(600);
      for (const list of checkWellFormed(workload.history()).values()) assert.equal(mostOutstanding(list), 4);
    });

    it('stops issuing at stopMs and after opsPerClientMax operations', () => {
      const { sim, workload } = toyRun(5);
      workload.closedLoop({ outstandingMax: 2, startMs: 30, stopMs: 300, opsPerClientMax: 10 });
      sim.run(400);
      const history = workload.history();
      assert.equal(history.length, 30);
      const { sim: sim2, workload: w2 } = toyRun(5);
      w2.closedLoop({ outstandingMax: 2, startMs: 30, stopMs: 100 });
      sim2.run(400);
      assert.ok(w2.history().every((r) => r.call < 100 * 1_000_000));
      assert.equal(w2.stats.outstanding, 0);
    });

    it('records ok, fail, unknown-with-ret and outstanding operations as HISTORY.md says', () => {
      const sim = new Simulator<ToyMsg, ToyRecord>({ seed: 8, tickMs: 5, masterRefreshMs: 20 });
      const cluster = new ToyCluster({ replicas: 3, leader: 0 });
      sim.addShard(0, 3, cluster.factory);
      const workload = new Workload(sim, () => new ToyClient(10), ['a']);
      workload.submitAt('a', 30, { op: 'put', key: 'x', value: '1', expect: null });
      // r0 resigns at 50; the master only notices at 60, so a write at 52 reaches r0 and is refused.
      sim.at(50, () => cluster.core(0).resign());
      workload.submitAt('a', 52, { op: 'cas', key: 'x', value: '2', expect: '1' });
      // No leader is known from 60 on: this write is dropped and times out after 10 ticks.
      workload.submitAt('a', 70, { op: 'append', key: 'x', value: '3', expect: null });
      workload.submitAt('a', 200, { op: 'get', key: 'x', value: null, expect: null });
      sim.run(201);
      const h = workload.history();
      checkWellFormed(h);
      assert.deepEqual(
        h.map((r) => [r.seq, r.op, r.status, r.ret === null ? null : r.ret - r.call > 0, r.error ?? '']),
        [
          [0, 'put', 'ok', true, ''],
          [1, 'cas', 'fail', true, 'not_leader'],
          [2, 'append', 'unknown', true, 'timeout'],
          [3, 'get', 'unknown', null, 'outstanding at the end of the run'],
        ],
      );
      assert.deepEqual(h[1], {
        client: 'a',
        seq: 1,
        op: 'cas',
        key: 'x',
        value: '2',
        expect: '1',
        call: 52_000_000,
        ret: h[1]?.ret,
        status: 'fail',
        output: null,
        error: 'not_leader',
      });
      assert.deepEqual(workload.stats, { submitted: 4, ok: 1, fail: 1, unknown: 1, outstanding: 1 });
      assert.equal(workload.okSince(0), 1);
      assert.equal(workload.okSince(40), 0);
    });

    it('generates unique values and the configured mix of operations', () => {
      const gen = new OpGenerator(new SeededRng(1), { keys: 3, mix: { get: 1, put: 1, append: 0, cas: 2 } });
      const ops = Array.from({ length: 4000 }, (_, n) => gen.next('c', n));
      const count = (name: string) => ops.filter((o) => o.op === name).length;
      assert.equal(count('append'), 0);
      assert.ok(count('cas') > 1800 && count('cas') < 2200);
      assert.ok(count('get') > 850 && count('get') < 1150);
      assert.deepEqual(new Set(ops.map((o) => o.key)), new Set(['k0', 'k1', 'k2']));
      const written = ops.filter((o) => o.value !== null).map((o) => o.value);
      assert.equal(new Set(written).size, written.length);
      // A cas expects the last value put to its key.
      assert.ok(ops.some((o) => o.op === 'cas' && o.expect !== null));
    });
  });
});

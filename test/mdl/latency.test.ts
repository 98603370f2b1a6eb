/**
 * The latency claims of PROTOCOLS.md §5, exact in the simulator: a uniform one-way delay T on every
 * link, no processing time, no jitter. A Multi-Paxos operation costs client → leader → followers →
 * leader → client = 4T, so N dependent single-dispatch operations take 4NT. An MDL operation with no
 * predecessor takes the same single round, 4T. N operations issued together on N shards take
 * 6T + (N−1)T: a send, round 1 (2T; for the first operation, which has no predecessor, its only
 * round, after which it is durable and its successor may hear its timestamp), the chain of N−1
 * leader-to-leader coordination replies, round 2 (2T), the reply.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shardOf } from '../../src/protocol/common/shardmap.js';
import { simCluster } from '../helpers/simcluster.js';

const T = 10;

function keyOn(shard: number, shards: number): string {
  for (let i = 0; ; i++) if (shardOf(`k${i}`, shards) === shard) return `k${i}`;
}

/** Issues one request of `n` operations (one per shard) at 1 s, after a warm-up; returns its latency in ms. */
function requestLatency(protocol: 'paxos' | 'mdl', n: number): number {
  const shards = Math.max(n, 1);
  const s = simCluster({
    seed: 3,
    protocol,
    shards,
    clients: 1,
    mode: protocol === 'mdl' ? 'mdl' : 'single',
    windowMax: 32,
    sim: { links: { replica: { delayMs: T, jitterMs: 0 }, client: { delayMs: T, jitterMs: 0 } } },
  });
  const keys = Array.from({ length: n }, (_, i) => keyOn(i, shards));
  for (const key of keys) s.workload.submitAt('c0', 500, { op: 'get', key, value: null, expect: null });
  for (const key of keys) s.workload.submitAt('c0', 1000, { op: 'put', key, value: 'v', expect: null });
  s.sim.run(1000 + 8 * n * T + 500);
  const request = s.workload.history().filter((h) => h.call >= 1000 * 1e6);
  assert.equal(request.length, n);
  for (const h of request) assert.equal(h.status, 'ok', JSON.stringify(h));
  return (Math.max(...request.map((h) => h.ret as number)) - 1000 * 1e6) / 1e6;
}

describe('mdl › latency claims (uniform one-way delay T, no processing time)', () => {
  it('a lone operation completes in 4T, as in Multi-Paxos', () => {
    assert.equal(requestLatency('mdl', 1), 4 * T);
    assert.equal(requestLatency('paxos', 1), 4 * T);
  });

  for (const n of [2, 4, 8]) {
    it(`${n} operations on ${n} shards complete in 6T + (N−1)T under MDL, against 4NT single-dispatch`, () => {
      const model = (6 + n - 1) * T;
      const mdl = requestLatency('mdl', n);
      assert.ok(Math.abs(mdl - model) <= 1, `MDL took ${mdl} ms, the model says ${model}`);
      assert.equal(requestLatency('paxos', n), 4 * n * T);
    });
  }
});

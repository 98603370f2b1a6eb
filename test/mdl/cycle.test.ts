/**
 * Why the protocol exists (PROTOCOLS.md §2): with pipelining clients, per-shard linearizable
 * Multi-Paxos shards let two clients see each other's operations in orders that form a cycle
 * through their issue orders. Client A issues `put x 1` then `put y 1`; client B issues `get y`
 * then `get x`. A's link to shard X is slow, so shard Y runs `put y` before `get y` (B reads 1)
 * while shard X runs `get x` before `put x` (B reads absent). The MDL protocol, under the very
 * same schedule, orders `put y` only after `put x`, and the history is MDL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clientAddr, replicaAddr } from '../../src/protocol/common/core.js';
import { shardOf } from '../../src/protocol/common/shardmap.js';
import { checkHistory } from '../../src/check/checker.js';
import { validateHistory } from '../../src/check/history.js';
import { simCluster } from '../helpers/simcluster.js';

function keyOn(shard: number, shards: number, prefix: string): string {
  for (let i = 0; ; i++) if (shardOf(`${prefix}${i}`, shards) === shard) return `${prefix}${i}`;
}

function crossShardRun(protocol: 'paxos' | 'mdl') {
  const s = simCluster({ seed: 7, protocol, shards: 2, clients: 2, mode: protocol === 'paxos' ? 'pipeline' : 'mdl', windowMax: 4 });
  const x = keyOn(0, 2, 'x');
  const y = keyOn(1, 2, 'y');
  const [a, b] = ['c0', 'c1'];
  // Warm-up: both clients learn both leaders.
  for (const c of [a, b]) {
    s.workload.submitAt(c, 400, { op: 'get', key: x, value: null, expect: null });
    s.workload.submitAt(c, 400, { op: 'get', key: y, value: null, expect: null });
  }
  s.sim.at(900, () => {
    for (let r = 0; r < s.replicas; r++) {
      s.sim.setLink(clientAddr(a), replicaAddr(0, r), { delayMs: 60, jitterMs: 0 });
      s.sim.setLink(clientAddr(a), replicaAddr(1, r), { delayMs: 1, jitterMs: 0 });
      for (const shard of [0, 1]) s.sim.setLink(clientAddr(b), replicaAddr(shard, r), { delayMs: 10, jitterMs: 0 });
    }
  });
  s.workload.submitAt(a, 1000, { op: 'put', key: x, value: '1', expect: null });
  s.workload.submitAt(a, 1000, { op: 'put', key: y, value: '1', expect: null });
  s.workload.submitAt(b, 1005, { op: 'get', key: y, value: null, expect: null });
  s.workload.submitAt(b, 1005, { op: 'get', key: x, value: null, expect: null });
  s.sim.run(3000);
  const history = validateHistory(s.workload.history());
  const bReads = history.filter((h) => h.client === b && h.seq >= 2).map((h) => h.output);
  return { history, bReads };
}

describe('mdl › the cross-shard cycle', () => {
  it('Multi-Paxos shards with pipelining clients: B sees put y but not the earlier put x; linearizable, not MDL', () => {
    const { history, bReads } = crossShardRun('paxos');
    assert.deepEqual(bReads, ['1', null], 'the schedule produced the anomaly');
    assert.equal(checkHistory(history, { model: 'linearizable', timeoutMs: 10_000 }).verdict, 'ok');
    const mdl = checkHistory(history, { model: 'mdl', timeoutMs: 10_000 });
    assert.equal(mdl.verdict, 'violation');
  });

  it('the MDL protocol under the same schedule: put y waits for put x, and the history is MDL', () => {
    const { history, bReads } = crossShardRun('mdl');
    assert.ok(history.every((h) => h.status === 'ok'));
    assert.notDeepEqual(bReads, ['1', null]);
    assert.equal(checkHistory(history, { model: 'mdl', timeoutMs: 10_000 }).verdict, 'ok');
  });
});

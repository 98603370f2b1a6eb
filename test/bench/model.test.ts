/**
 * The latency model against the worked numbers of the benchmark issue (uniform T = 10 ms, edge,
 * geo at scale 1), which follow from PROTOCOLS.md §5: Multi-Paxos 4 one-way delays per operation,
 * one after another; MDL a send, two replication rounds, N − 1 leader-to-leader hops and a reply.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { modelLatencyMs, modelRatio, TOPOLOGIES, topologyDelaysMs } from '../../src/bench/model.js';

describe('bench › latency model', () => {
  it('uniform T = 10: 640 ms against 210 ms at fanout 16, 1280 against 370 at 32', () => {
    assert.equal(modelLatencyMs('paxos', 16, 'uniform', 10), 640);
    assert.equal(modelLatencyMs('mdl', 16, 'uniform', 10), 210);
    assert.equal(modelRatio(16, 'uniform', 10).toFixed(2), '0.33');
    assert.equal(modelLatencyMs('paxos', 32, 'uniform', 10), 1280);
    assert.equal(modelLatencyMs('mdl', 32, 'uniform', 10), 370);
    assert.equal(modelRatio(32, 'uniform', 10).toFixed(2), '0.29');
  });

  it('edge (leaders together, clients and replicas 45 ms away): 285 ms against 2880 at fanout 16', () => {
    assert.equal(modelLatencyMs('mdl', 16, 'edge', 1), 285);
    assert.equal(modelLatencyMs('paxos', 16, 'edge', 1), 2880);
    assert.equal(modelRatio(16, 'edge', 1).toFixed(2), '0.10');
  });

  it('geo (client beside its leader, leaders and replicas 45 ms apart): 857 ms against 1472 at fanout 16', () => {
    assert.equal(modelLatencyMs('mdl', 16, 'geo', 1), 857);
    assert.equal(modelLatencyMs('paxos', 16, 'geo', 1), 1472);
    assert.equal(modelRatio(16, 'geo', 1).toFixed(2), '0.58');
  });

  it('a lone operation costs the same under both protocols (the no-predecessor fast path)', () => {
    for (const topology of ['uniform', 'edge', 'geo'] as const) {
      assert.equal(modelLatencyMs('mdl', 1, topology, 2), modelLatencyMs('paxos', 1, topology, 2));
    }
    assert.equal(modelLatencyMs('mdl', 1, 'uniform', 10), 40);
  });

  it('the uniform ratio is (6 + (N − 1))/4N, tending to 1/4', () => {
    for (const n of [2, 4, 8, 64, 1024]) assert.equal(modelRatio(n, 'uniform', 1), (6 + n - 1) / (4 * n));
    assert.ok(Math.abs(modelRatio(1_000_000, 'uniform', 3) - 0.25) < 1e-5);
  });

  it('with one shard the coordination chain is local and costs nothing', () => {
    assert.equal(modelLatencyMs('mdl', 16, 'uniform', 10, 1), 60);
    assert.equal(modelLatencyMs('paxos', 16, 'uniform', 10, 1), 640);
  });

  it('a scale multiplies every link of a preset; explicit delays are accepted too', () => {
    assert.deepEqual(topologyDelaysMs('edge', 2), { clientLeader: 90, leaderLeader: 2, leaderReplica: 90 });
    assert.equal(modelLatencyMs('mdl', 16, 'geo', 0.5), 857 / 2);
    const custom = { clientLeader: 3, leaderLeader: 5, leaderReplica: 7 };
    assert.equal(modelLatencyMs('mdl', 4, custom, 1), 6 + 28 + 15);
    assert.equal(modelLatencyMs('paxos', 4, custom, 2), 4 * 2 * 20);
  });

  it('presets are frozen and bad arguments are refused', () => {
    assert.ok(Object.isFrozen(TOPOLOGIES) && Object.isFrozen(TOPOLOGIES.edge));
    assert.throws(() => modelLatencyMs('mdl', 0, 'uniform', 10), /fanout/);
    assert.throws(() => modelLatencyMs('mdl', 2.5, 'uniform', 10), /fanout/);
    assert.throws(() => modelLatencyMs('mdl', 2, 'uniform', Number.NaN), /scale/);
    assert.throws(() => modelLatencyMs('mdl', 2, 'uniform', 10, 0), /shards/);
  });
});

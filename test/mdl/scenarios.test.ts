/**
 * MDL under failures in the simulator. Every run ends healed and is judged the same way: replicas
 * never disagree on a chosen slot, each shard converges, clients make progress again, and the
 * whole history (all shards at once: MDL is not local) satisfies the mdl model. Every outcome
 * during a failover may be ok, fail or unknown, never a violation.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clientAddr, replicaAddr, type ReplicaAddr } from '../../src/protocol/common/core.js';
import { shardOf } from '../../src/protocol/common/shardmap.js';
import { assertConverged, assertHistory, assertLogsAgree, simCluster, type SimCluster, type SimClusterOptions } from '../helpers/simcluster.js';

const STOP_MS = 4000;

function run(o: Omit<SimClusterOptions, 'protocol'>, faults: (s: SimCluster) => void, clientsAlive = o.clients ?? 3) {
  const s = simCluster({ shards: 3, clients: 3, windowMax: 6, keys: 9, ...o, protocol: 'mdl', sim: { trace: 'lines', ...o.sim } });
  s.workload.closedLoop({ outstandingMax: o.windowMax ?? 6, startMs: 100, stopMs: STOP_MS });
  faults(s);
  s.sim.run(STOP_MS + 2000);
  assertLogsAgree(s);
  assertConverged(s, s.sim.nowMs + 3000);
  const history = s.workload.history();
  const late = history.filter((h) => h.status === 'ok' && h.call > (STOP_MS - 1000) * 1e6);
  assert.ok(new Set(late.map((h) => h.client)).size >= clientsAlive, `seed ${o.seed}: a live client made no progress at the end`);
  assertHistory(history, 'mdl', o.seed);
  return { s, history };
}

function keyOn(shard: number, shards: number): string {
  for (let i = 0; ; i++) if (shardOf(`k${i}`, shards) === shard) return `k${i}`;
}

function leaderOf(s: SimCluster, shard: number): ReplicaAddr {
  const l = s.sim.leaderOf(shard);
  assert.ok(l !== null, `shard ${shard} has a leader`);
  return l;
}

/** Restarts every replica that is down and removes every network fault. */
function healAll(s: SimCluster): void {
  s.sim.heal();
  s.sim.restore();
  for (let shard = 0; shard < s.shards; shard++) {
    for (let r = 0; r < s.replicas; r++) if (!s.sim.isUp(replicaAddr(shard, r))) s.sim.restart(replicaAddr(shard, r));
  }
}

describe('mdl › scenarios', () => {
  it('a shard leader crashes while clients have operations in flight on three shards', () => {
    const { history } = run({ seed: 21 }, (s) => {
      s.sim.at(1000, () => s.sim.crash(leaderOf(s, 1)));
      s.sim.at(1800, () => healAll(s));
    });
    assert.ok(history.some((h) => h.status !== 'ok' || h.ret !== null));
  });

  it('every shard leader crashes at once, and all come back from disk', () => {
    run({ seed: 22, sim: { fsyncMs: 1 } }, (s) => {
      s.sim.at(1000, () => {
        for (let shard = 0; shard < s.shards; shard++) s.sim.crash(leaderOf(s, shard));
      });
      s.sim.at(1500, () => healAll(s));
    });
  });

  it('the predecessor shard leader crashes before it answers coordination requests', () => {
    run({ seed: 23 }, (s) => {
      s.sim.at(1000, () => {
        // Cut every leader-to-leader path out of shard 0, so coordination replies from its leader
        // never leave, then crash that leader with requests waiting on it.
        const l0 = leaderOf(s, 0);
        for (let shard = 1; shard < s.shards; shard++) {
          for (let r = 0; r < s.replicas; r++) s.sim.setLink(l0, replicaAddr(shard, r), { loss: 1 });
        }
        s.sim.after(150, () => s.sim.crash(l0));
      });
      s.sim.at(1800, () => {
        for (let shard = 1; shard < s.shards; shard++) {
          for (let r = 0; r < s.replicas; r++) s.sim.setLink(replicaAddr(0, r), replicaAddr(shard, r), { loss: 0 });
        }
        healAll(s);
      });
    });
  });

  it('a fast-path operation lost with its leader takes its successor with it', () => {
    // c0 issues put on shard 0 (no predecessor: one round) and then put on shard 1. Shard 0's
    // leader cannot reach its followers and crashes, so the first put is durable nowhere; the
    // client cannot retry it. The second put must not succeed.
    const s = simCluster({ seed: 28, protocol: 'mdl', shards: 2, clients: 1, windowMax: 4, clientTimeoutTicks: 100 });
    const k0 = keyOn(0, 2);
    const k1 = keyOn(1, 2);
    s.workload.submitAt('c0', 300, { op: 'get', key: k0, value: null, expect: null });
    s.workload.submitAt('c0', 300, { op: 'get', key: k1, value: null, expect: null });
    s.sim.at(900, () => {
      const l0 = leaderOf(s, 0);
      for (let r = 0; r < s.replicas; r++) if (r !== l0.replica) s.sim.setLink(l0, replicaAddr(0, r), { loss: 1 });
      s.sim.after(150, () => {
        s.sim.crash(l0);
        for (let r = 0; r < s.replicas; r++) s.sim.setLink(clientAddr('c0'), replicaAddr(0, r), { loss: 1 });
      });
    });
    s.workload.submitAt('c0', 1000, { op: 'put', key: k0, value: 'first', expect: null });
    s.workload.submitAt('c0', 1000, { op: 'put', key: k1, value: 'second', expect: null });
    s.sim.at(2500, () => {
      for (let r = 0; r < s.replicas; r++) {
        s.sim.setLink(clientAddr('c0'), replicaAddr(0, r), { loss: 0 });
        for (let q = 0; q < s.replicas; q++) s.sim.setLink(replicaAddr(0, q), replicaAddr(0, r), { loss: 0 });
      }
      healAll(s);
    });
    s.sim.run(5000);
    const [first, second] = s.workload.history().filter((h) => h.call === 1000 * 1e6);
    assert.ok(first !== undefined && second !== undefined);
    assert.notEqual(first.status, 'ok', 'the first put was never durable');
    assert.notEqual(second.status, 'ok', 'so its successor must not succeed');
    assertHistory(s.workload.history(), 'mdl', 28);
  });

  it('coordination requests and replies are lost, duplicated and reordered', () => {
    run({ seed: 24 }, (s) => {
      s.sim.at(800, () => s.sim.degrade({ loss: 0.2, duplicate: 0.3, reorder: 0.4 }));
      s.sim.at(2500, () => s.sim.restore());
    });
  });

  it('a client dies in the middle of its window; the others carry on', () => {
    const { history } = run(
      { seed: 25, clients: 3 },
      (s) => s.sim.at(1200, () => s.sim.isolate(clientAddr('c2'))),
      2,
    );
    assert.ok(history.some((h) => h.client === 'c2' && h.status === 'unknown'), 'the dead client left operations without an outcome');
  });

  it('two clients interleave on the same keys across shards, with a leader crash', () => {
    run({ seed: 26, clients: 2, keys: 3, windowMax: 8 }, (s) => {
      s.sim.at(1500, () => s.sim.crash(leaderOf(s, 2)));
      s.sim.at(2200, () => healAll(s));
    });
  });

  it('one shard: the ordered log alone gives issue order, with no coordination traffic', () => {
    const { s } = run({ seed: 27, shards: 1, keys: 4 }, (s) => {
      s.sim.at(1500, () => s.sim.crash(leaderOf(s, 0)));
      s.sim.at(2200, () => healAll(s));
    });
    const coordination = s.sim.traceLines.filter((l) => l.includes('coordRequest') || l.includes('coordReply'));
    assert.equal(coordination.length, 0);
  });
});

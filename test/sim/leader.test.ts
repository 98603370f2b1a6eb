import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { replicaAddr } from '../../src/protocol/common/core.js';
import { Simulator } from '../../src/sim/simulator.js';
import { Workload } from '../../src/sim/workload.js';
import { ToyClient, ToyCluster, type ToyMsg, type ToyRecord } from './toy.js';

const put = (value: string) => ({ op: 'put', key: 'x', value, expect: null }) as const;

function writesAt(cluster: ToyCluster, replica: number): number {
  return cluster.core(replica).calls.filter((c) => c === 'step:write').length;
}

describe('sim', () => {
  describe('leader address', () => {
    it('resolves through the master view, which follows the highest-ballot claim with lag', () => {
      const sim = new Simulator<ToyMsg, ToyRecord>({ seed: 9, masterRefreshMs: 20, tickMs: 5 });
      const cluster = new ToyCluster({ replicas: 3 });
      sim.addShard(0, 3, cluster.factory);
      const workload = new Workload(sim, () => new ToyClient(1000), ['c']);
      const r1 = replicaAddr(0, 1);
      const r2 = replicaAddr(0, 2);

      // Nobody claims leadership: the write is dropped for want of a leader.
      workload.submitAt('c', 5, put('a'));
      sim.run(10);
      assert.equal(sim.leaderOf(0), null);
      assert.equal(sim.counters.dropped.no_leader, 1);

      // r1 claims at 25; the master learns it at its refresh at 40, not before.
      sim.at(25, () => cluster.core(1).claim(5));
      workload.submitAt('c', 30, put('b'));
      sim.run(20);
      assert.equal(sim.counters.dropped.no_leader, 2);
      assert.equal(sim.leaderOf(0), null);
      sim.run(15);
      assert.deepEqual(sim.leaderOf(0), r1);
      workload.submitAt('c', 45, put('c'));
      sim.run(10);
      assert.equal(writesAt(cluster, 1), 1);

      // r2 claims a higher ballot at 65: writes still go to r1 until the refresh at 80.
      sim.at(65, () => cluster.core(2).claim(7));
      workload.submitAt('c', 70, put('d'));
      workload.submitAt('c', 85, put('e'));
      sim.run(40);
      assert.equal(writesAt(cluster, 1), 2);
      assert.equal(writesAt(cluster, 2), 1);
      assert.deepEqual(sim.leaderOf(0), r2);

      // r2 crashes at 105: until the refresh at 120 writes are sent to it and lost; then r1 again.
      sim.at(105, () => sim.crash(r2));
      workload.submitAt('c', 110, put('f'));
      sim.run(20);
      assert.equal(sim.counters.dropped.down, 1);
      assert.deepEqual(sim.leaderOf(0), r2, 'the master has not noticed yet');
      workload.submitAt('c', 125, put('g'));
      sim.run(15);
      assert.deepEqual(sim.leaderOf(0), r1);
      assert.equal(writesAt(cluster, 1), 3);

      // A leader that resigns is forgotten at the next refresh.
      cluster.core(1).resign();
      sim.refreshMasterView();
      assert.equal(sim.leaderOf(0), null);
    });
  });
});

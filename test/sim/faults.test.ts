import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addrKey, clientAddr, replicaAddr, type ReplicaAddr } from '../../src/protocol/common/core.js';
import { SeededRng } from '../../src/protocol/common/rng.js';
import {
  DEFAULT_FAULT_PROFILE,
  generateFaultSchedule,
  scheduleFaults,
  type FaultProfile,
  type FaultSchedule,
} from '../../src/sim/faults.js';
import { Simulator, type SimLayout } from '../../src/sim/simulator.js';
import { Workload } from '../../src/sim/workload.js';
import { ToyClient, ToyCluster, type ToyMsg, type ToyRecord } from './toy.js';

const LAYOUT: SimLayout = {
  shards: [
    { shard: 0, replicas: 3 },
    { shard: 1, replicas: 5 },
  ],
  clients: [clientAddr('c0'), clientAddr('c1')],
};

const BUSY: FaultProfile = { ...DEFAULT_FAULT_PROFILE, crashesPerSecond: 20, partitionsPerSecond: 5, degradesPerSecond: 5 };

/** Replays a schedule on a model of the cluster, checking each step; returns the most replicas of each shard down at once. */
function replay(schedule: FaultSchedule, layout: SimLayout): Map<number, number> {
  const down = new Set<string>();
  const mostDown = new Map<number, number>(layout.shards.map((s) => [s.shard, 0]));
  let partitions = 0;
  let degraded = false;
  let lastMs = 0;
  for (const { atMs, fault } of schedule.faults) {
    assert.ok(atMs >= lastMs, 'faults are in time order');
    assert.ok(atMs <= schedule.safetyEndMs, 'no fault in the liveness phase');
    lastMs = atMs;
    switch (fault.kind) {
      case 'crash': {
        assert.ok(!down.has(addrKey(fault.node)), `${addrKey(fault.node)} crashes while down`);
        down.add(addrKey(fault.node));
        const inShard = [...down].filter((k) => k.startsWith(`r${fault.node.shard}.`)).length;
        mostDown.set(fault.node.shard, Math.max(mostDown.get(fault.node.shard) as number, inShard));
        break;
      }
      case 'restart':
        assert.ok(down.delete(addrKey(fault.node)), `${addrKey(fault.node)} restarts while up`);
        break;
      case 'isolate':
      case 'split':
      case 'cut':
        partitions++;
        break;
      case 'heal':
        partitions = 0;
        break;
      case 'degrade':
        degraded = true;
        break;
      case 'restore':
        degraded = false;
        break;
    }
  }
  assert.equal(down.size, 0, 'every replica is up in the liveness phase');
  assert.equal(partitions, 0, 'no partition in the liveness phase');
  assert.ok(!degraded, 'the network is restored in the liveness phase');
  assert.ok(schedule.endMs > schedule.safetyEndMs);
  return mostDown;
}

describe('sim', () => {
  describe('fault schedules', () => {
    it('never take more than f replicas of a shard down and always end healed', () => {
      const seen = { crash: 0, isolate: 0, split: 0, cut: 0, degrade: 0 };
      for (let seed = 1; seed <= 200; seed++) {
        const schedule = generateFaultSchedule(new SeededRng(seed), BUSY, LAYOUT);
        const mostDown = replay(schedule, LAYOUT);
        assert.ok((mostDown.get(0) as number) <= 1, `seed ${seed}: shard 0 (3 replicas) had ${mostDown.get(0)} down`);
        assert.ok((mostDown.get(1) as number) <= 2, `seed ${seed}: shard 1 (5 replicas) had ${mostDown.get(1)} down`);
        for (const { fault } of schedule.faults) if (fault.kind in seen) seen[fault.kind as keyof typeof seen]++;
      }
      for (const [kind, n] of Object.entries(seen)) assert.ok(n > 0, `no ${kind} in 200 schedules`);
    });

    it('take more replicas down at once only when the profile allows it', () => {
      let reached = 0;
      for (let seed = 1; seed <= 50; seed++) {
        const profile = { ...BUSY, downPerShardMax: 2 };
        const mostDown = replay(generateFaultSchedule(new SeededRng(seed), profile, LAYOUT), LAYOUT);
        assert.ok((mostDown.get(0) as number) <= 2);
        if (mostDown.get(0) === 2) reached++;
      }
      assert.ok(reached > 0);
    });

    it('are the same for the same seed', () => {
      const a = generateFaultSchedule(new SeededRng(11), BUSY, LAYOUT);
      const b = generateFaultSchedule(new SeededRng(11), BUSY, LAYOUT);
      const c = generateFaultSchedule(new SeededRng(12), BUSY, LAYOUT);
      assert.deepEqual(a, b);
      assert.notDeepEqual(a, c);
    });

    it('applied to a simulation, leave every replica up and the network whole after the safety phase', () => {
      const sim = new Simulator<ToyMsg, ToyRecord>({ seed: 21, trace: 'off' });
      const cluster = new ToyCluster({ replicas: 3, leader: 0 });
      sim.addShard(0, 3, cluster.factory);
      sim.addShard(1, 5, cluster.factory);
      const workload = new Workload(sim, () => new ToyClient(50), 2);
      const schedule = generateFaultSchedule(sim.forkRng('faults'), BUSY, sim.layout());
      scheduleFaults(sim, schedule.faults);
      workload.closedLoop({ outstandingMax: 2, startMs: 50, stopMs: schedule.endMs });
      let mostDown = 0;
      const shard0: ReplicaAddr[] = sim.replicas(0);
      sim.runUntil(() => {
        mostDown = Math.max(mostDown, shard0.filter((a) => !sim.isUp(a)).length);
        return false;
      }, schedule.safetyEndMs);
      assert.equal(mostDown, 1);
      assert.ok(sim.counters.crashes > 10);
      assert.ok(sim.counters.dropped.partition > 0);
      sim.run(1);
      for (const a of [...sim.replicas(0), ...sim.replicas(1)]) assert.ok(sim.isUp(a), `${addrKey(a)} is up`);
      assert.ok(!sim.partitioned && !sim.degraded);
      assert.equal(sim.counters.crashes, sim.counters.restarts);
    });

    it('scripted by hand, apply at the given times', () => {
      const sim = new Simulator<ToyMsg, ToyRecord>({ seed: 2 });
      const cluster = new ToyCluster({ replicas: 3 });
      sim.addShard(0, 3, cluster.factory);
      const r1 = replicaAddr(0, 1);
      scheduleFaults(sim, [
        { atMs: 10, fault: { kind: 'crash', node: r1 } },
        { atMs: 10, fault: { kind: 'cut', from: replicaAddr(0, 0), to: replicaAddr(0, 2) } },
        { atMs: 20, fault: { kind: 'restart', node: r1 } },
        { atMs: 30, fault: { kind: 'heal' } },
      ]);
      sim.run(9);
      assert.ok(sim.isUp(r1) && !sim.partitioned);
      sim.run(1);
      assert.ok(!sim.isUp(r1) && sim.partitioned);
      sim.run(10);
      assert.ok(sim.isUp(r1) && sim.partitioned);
      sim.run(10);
      assert.ok(!sim.partitioned);
    });
  });
});

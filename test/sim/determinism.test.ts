import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_FAULT_PROFILE, generateFaultSchedule, scheduleFaults } from '../../src/sim/faults.js';
import { Simulator } from '../../src/sim/simulator.js';
import type { TraceMode } from '../../src/sim/trace.js';
import { Workload } from '../../src/sim/workload.js';
import { ToyClient, ToyCluster, type ToyMsg, type ToyRecord } from './toy.js';

/** A run with everything random switched on: jitter, loss, duplication, reordering, fsync latency, faults. */
function fullRun(seed: number, trace: TraceMode = 'hash') {
  const sim = new Simulator<ToyMsg, ToyRecord>({
    seed,
    fsyncMs: 2,
    trace,
    links: {
      replica: { delayMs: 1, jitterMs: 3, loss: 0.02, duplicate: 0.02, reorder: 0.05 },
      client: { delayMs: 2, jitterMs: 2, loss: 0.01 },
    },
  });
  const cluster = new ToyCluster({ replicas: 3, leader: 0, pingEveryTicks: 10 });
  sim.addShard(0, 3, cluster.factory);
  const workload = new Workload(sim, () => new ToyClient(30), 3);
  const schedule = generateFaultSchedule(sim.forkRng('faults'), { ...DEFAULT_FAULT_PROFILE, safetyMs: 1000, livenessMs: 500 }, sim.layout());
  scheduleFaults(sim, schedule.faults);
  workload.closedLoop({ outstandingMax: 2, startMs: 20, stopMs: schedule.endMs });
  sim.run(schedule.endMs);
  return { sim, workload, schedule };
}

describe('sim', () => {
  describe('determinism', () => {
    it('the same seed gives the same trace, history and counters', () => {
      const a = fullRun(123);
      const b = fullRun(123);
      assert.match(a.sim.traceHash, /^[0-9a-f]{64}$/);
      assert.equal(a.sim.traceHash, b.sim.traceHash);
      assert.deepEqual(a.workload.history(), b.workload.history());
      assert.deepEqual(a.sim.counters, b.sim.counters);
      assert.ok(a.sim.counters.sent > 300 && a.sim.counters.crashes > 0);
    });

    it('a different seed gives a different trace', () => {
      assert.notEqual(fullRun(123).sim.traceHash, fullRun(124).sim.traceHash);
    });

    it('keeping the trace lines does not change the hash, and the hash covers exactly the lines', async () => {
      const kept = fullRun(7, 'lines');
      assert.equal(kept.sim.traceHash, fullRun(7, 'hash').sim.traceHash);
      const { createHash } = await import('node:crypto');
      const h = createHash('sha256');
      for (const line of kept.sim.traceLines) h.update(line + '\n');
      assert.equal(kept.sim.traceHash, h.digest('hex'));
      assert.equal(fullRun(7, 'off').sim.traceHash, '');
    });

    it('the fault stream does not depend on how the workload uses its own stream', () => {
      const schedule = (clients: number) => {
        const sim = new Simulator<ToyMsg, ToyRecord>({ seed: 99 });
        sim.addShard(0, 3, new ToyCluster({ replicas: 3 }).factory);
        const workload = new Workload(sim, () => new ToyClient(30), clients);
        workload.closedLoop({ outstandingMax: clients, stopMs: 100 });
        sim.run(100);
        return generateFaultSchedule(sim.forkRng('faults'), DEFAULT_FAULT_PROFILE, { shards: sim.layout().shards, clients: [] });
      };
      assert.deepEqual(schedule(1), schedule(3));
    });
  });
});

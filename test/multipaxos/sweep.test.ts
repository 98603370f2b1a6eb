/**
 * Randomized sweep: each seed picks a cluster shape, a workload and a fault schedule; a safety
 * phase with crashes, partitions and message faults is followed by a healed liveness phase that
 * must make progress. A failure names the seed; rerun one with MDLIN_SEED=<seed>.
 * MDLIN_SWEEP_SEEDS sets how many seeds run (default 24, to stay well inside CI's budget).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRng } from '../../src/protocol/common/rng.js';
import { DEFAULT_FAULT_PROFILE, generateFaultSchedule, scheduleFaults } from '../../src/sim/faults.js';
import { assertConverged, assertHistory, assertLogsAgree, simCluster } from '../helpers/simcluster.js';
import { sweepSeeds } from '../helpers/seeds.js';

describe('multipaxos › randomized sweep', () => {
  for (const seed of sweepSeeds(24)) {
    it(`seed ${seed}: safe under faults, live once healed`, () => {
      const shape = new SeededRng(seed);
      const replicas = shape.chance(0.25) ? 5 : 3;
      const pipeline = shape.chance(0.5);
      const s = simCluster({
        seed,
        shards: shape.range(1, 2),
        replicas,
        clients: shape.range(2, 4),
        mode: pipeline ? 'pipeline' : 'single',
        keys: shape.range(2, 8),
        sim: { fsyncMs: shape.range(0, 2) },
        replica: { thrifty: shape.chance(0.3), replyAtCommit: shape.chance(0.3) },
      });
      const schedule = generateFaultSchedule(s.sim.forkRng('faults'), { ...DEFAULT_FAULT_PROFILE, safetyMs: 2500, livenessMs: 2500 }, s.sim.layout());
      scheduleFaults(s.sim, schedule.faults);
      s.workload.closedLoop({ outstandingMax: pipeline ? 3 : 1, startMs: 100, stopMs: schedule.endMs - 500 });
      s.sim.run(schedule.endMs);
      assertLogsAgree(s);
      assertConverged(s, s.sim.nowMs + 3000);
      const live = s.workload.history().filter((h) => h.status === 'ok' && h.call > (schedule.safetyEndMs + 1500) * 1e6);
      assert.ok(live.length > 0, `seed ${seed}: no operation succeeded in the liveness phase`);
      assertHistory(s.workload.history(), 'linearizable', seed);
    });
  }
});

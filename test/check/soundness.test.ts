/**
 * The checkers never report a violation on a valid history, and always report one on a history
 * with a planted stale read. The histories come from a simulated multi-dispatch store
 * (bench/check.ts) whose operations took effect, by construction, in an order that satisfies
 * mdl; they are larger and more concurrent than brute force can judge, so the pruning rules of
 * the search are exercised on real depth. Seeded: a failure names the shape that reproduces it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { plantStaleRead, simulateHistory } from '../../src/bench/check.js';
import { checkHistory } from '../../src/check/checker.js';
import { SeededRng } from '../../src/protocol/common/rng.js';

const SEEDS = 120;

describe('check', () => {
  describe('soundness: no violation on valid simulated histories', () => {
    for (const model of ['linearizable', 'mdl'] as const) {
      it(`${model}: ${SEEDS} histories of up to 400 operations`, () => {
        let ok = 0;
        for (let seed = 1; seed <= SEEDS; seed++) {
          const rng = new SeededRng(seed);
          const shape = { ops: rng.range(30, 400), clients: rng.range(2, 10), outstandingMax: rng.range(1, 8), keys: rng.range(1, 8), seed, outageRate: [0, 0.01, 0.05][rng.int(3)] as number };
          const result = checkHistory(simulateHistory(shape).ops, { model, timeoutMs: 1000 });
          assert.notEqual(result.verdict, 'violation', `${JSON.stringify(shape)}: ${result.verdict === 'violation' ? result.report.summary : ''}`);
          if (result.verdict === 'ok') ok++;
        }
        assert.ok(ok > SEEDS / 2, `only ${ok} of ${SEEDS} decided`);
      });
    }
  });

  describe('a planted stale read is a violation', () => {
    for (const model of ['linearizable', 'mdl'] as const) {
      it(`${model}: in histories of 2000 operations on 16 to 4096 keys`, () => {
        for (const keys of [16, 256, 4096]) {
          const history = simulateHistory({ ops: 2000, clients: 16, outstandingMax: 8, keys, seed: keys, outageRate: 0.003 });
          const at = plantStaleRead(history, 0.5);
          const result = checkHistory(history.ops, { model, timeoutMs: 30_000 });
          assert.equal(result.verdict, 'violation', `${keys} keys, stale read at ${at}`);
        }
      });
    }
  });
});

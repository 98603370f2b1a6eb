/**
 * Both checkers agree with a brute-force enumeration written straight from HISTORY.md, on many
 * small random histories (seeded: a failure names the seed that reproduces it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkHistory } from '../../src/check/checker.js';
import { SeededRng } from '../../src/protocol/common/rng.js';
import { bruteForce, randomHistory } from './ops.js';

const SEEDS = 3000;

describe('check', () => {
  describe('property: agrees with brute force on small random histories', () => {
    for (const model of ['linearizable', 'mdl'] as const) {
      it(`${model}: ${SEEDS} seeds`, () => {
        const verdicts = { ok: 0, violation: 0 };
        for (let seed = 1; seed <= SEEDS; seed++) {
          const ops = randomHistory(new SeededRng(seed));
          const expected = bruteForce(ops, model) ? 'ok' : 'violation';
          const result = checkHistory(ops, { model, timeoutMs: 5000 });
          assert.equal(result.verdict, expected, `seed ${seed}: ${JSON.stringify(ops)}\n${JSON.stringify(result)}`);
          verdicts[expected]++;
        }
        // The generator must exercise both outcomes, or the comparison proves little.
        assert.ok(verdicts.ok > SEEDS / 5 && verdicts.violation > SEEDS / 5, JSON.stringify(verdicts));
      });
    }
  });
});

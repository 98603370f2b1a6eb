/**
 * Key choice: the Zipf sampler's frequencies against the exact distribution (a chi-square test
 * at a fixed seed, so it either always passes or always fails), and the spreading of a request's
 * keys over shards.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { keyDistribution, keyName, pickKeysOnDistinctShards, type KeyDistribution } from '../../src/bench/keys.js';
import { SeededRng, type Rng } from '../../src/protocol/common/rng.js';
import { shardOf } from '../../src/protocol/common/shardmap.js';

function counts(dist: KeyDistribution, draws: number, seed: number): number[] {
  const rng = new SeededRng(seed);
  const c = new Array<number>(dist.keys).fill(0);
  for (let i = 0; i < draws; i++) {
    const k = dist.draw(rng);
    assert.ok(Number.isInteger(k) && k >= 0 && k < dist.keys, `draw out of range: ${k}`);
    c[k]! += 1;
  }
  return c;
}

/** P(index i) for Zipf with exponent s over n keys. */
function zipfProbabilities(n: number, s: number): number[] {
  const w = Array.from({ length: n }, (_, i) => Math.pow(i + 1, -s));
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / total);
}

/** Pearson's statistic; cells expected fewer than 5 times are pooled (the usual validity rule). Returns it with its degrees of freedom. */
function chiSquare(observed: readonly number[], probabilities: readonly number[], draws: number): { x2: number; dof: number } {
  let x2 = 0;
  let cells = 0;
  let pooledObserved = 0;
  let pooledExpected = 0;
  observed.forEach((o, i) => {
    const e = probabilities[i]! * draws;
    if (e < 5) {
      pooledObserved += o;
      pooledExpected += e;
      return;
    }
    x2 += ((o - e) * (o - e)) / e;
    cells++;
  });
  if (pooledExpected > 0) {
    x2 += ((pooledObserved - pooledExpected) * (pooledObserved - pooledExpected)) / pooledExpected;
    cells++;
  }
  return { x2, dof: cells - 1 };
}

/** Mean + 4 standard deviations of a chi-square variable with `dof` degrees of freedom. */
function chiSquareBound(dof: number): number {
  return dof + 4 * Math.sqrt(2 * dof);
}

describe('bench › keys', () => {
  describe('distributions', () => {
    const n = 50;
    const draws = 200_000;
    for (const s of [0.5, 0.99, 1, 1.5, 3]) {
      it(`Zipf s = ${s} over ${n} keys matches the exact frequencies (chi-square)`, () => {
        const { x2, dof } = chiSquare(counts(keyDistribution(n, s), draws, 11), zipfProbabilities(n, s), draws);
        assert.ok(x2 < chiSquareBound(dof), `chi-square ${x2.toFixed(1)} over ${dof} degrees of freedom`);
      });
    }

    it('skew 0 is uniform (chi-square)', () => {
      const { x2, dof } = chiSquare(counts(keyDistribution(n, 0), draws, 12), new Array<number>(n).fill(1 / n), draws);
      assert.ok(x2 < chiSquareBound(dof), `chi-square ${x2.toFixed(1)} over ${dof} degrees of freedom`);
    });

    it('a skewed sampler differs measurably from uniform (the test can fail)', () => {
      const { x2, dof } = chiSquare(counts(keyDistribution(n, 0.99), draws, 13), new Array<number>(n).fill(1 / n), draws);
      assert.ok(x2 > 10 * chiSquareBound(dof));
    });

    it('over a million keys at s = 0.99 the hottest keys get their share', () => {
      const keys = 1_000_000;
      const p = zipfProbabilities(keys, 0.99);
      const draws = 200_000;
      const c = counts(keyDistribution(keys, 0.99), draws, 14);
      for (const rank of [0, 1, 2, 9]) {
        const e = p[rank]! * draws;
        assert.ok(Math.abs(c[rank]! - e) < 5 * Math.sqrt(e), `rank ${rank}: ${c[rank]} draws, expected ${e.toFixed(0)}`);
      }
      const top1000 = c.slice(0, 1000).reduce((a, b) => a + b, 0);
      const e = p.slice(0, 1000).reduce((a, b) => a + b, 0) * draws;
      assert.ok(Math.abs(top1000 - e) < 5 * Math.sqrt(e), `top 1000: ${top1000}, expected ${e.toFixed(0)}`);
    });

    it('one key is always key 0, and the same seed draws the same keys', () => {
      assert.deepEqual(counts(keyDistribution(1, 0.99), 100, 1), [100]);
      const a = keyDistribution(1000, 0.99);
      const r1 = new SeededRng(5);
      const r2 = new SeededRng(5);
      for (let i = 0; i < 1000; i++) assert.equal(a.draw(r1), a.draw(r2));
    });

    it('refuses an empty key space and a negative or non-finite skew', () => {
      assert.throws(() => keyDistribution(0), /keys/);
      assert.throws(() => keyDistribution(10, -1), /skew/);
      assert.throws(() => keyDistribution(10, Number.NaN), /skew/);
    });
  });

  describe('pickKeysOnDistinctShards', () => {
    const dist = keyDistribution(100_000, 0.99);
    const draw = (rng: Rng): string => keyName(dist.draw(rng));

    it('fanout ≤ shards: every operation on its own shard', () => {
      const rng = new SeededRng(21);
      for (const [fanout, shards] of [[1, 1], [4, 4], [3, 8], [16, 16]] as const) {
        for (let trial = 0; trial < 50; trial++) {
          const keys = pickKeysOnDistinctShards(rng, fanout, shards, draw);
          assert.equal(keys.length, fanout);
          assert.equal(new Set(keys.map((k) => shardOf(k, shards))).size, fanout, `${fanout} on ${shards}: ${keys.join(' ')}`);
        }
      }
    });

    it('fanout > shards: round-robin, no shard more than one over another, no two consecutive on one shard', () => {
      const rng = new SeededRng(22);
      for (const [fanout, shards] of [[5, 2], [32, 16], [10, 3]] as const) {
        for (let trial = 0; trial < 50; trial++) {
          const shardsOf = pickKeysOnDistinctShards(rng, fanout, shards, draw).map((k) => shardOf(k, shards));
          assert.equal(shardsOf.length, fanout);
          const perShard = new Array<number>(shards).fill(0);
          for (const s of shardsOf) perShard[s]! += 1;
          assert.ok(Math.max(...perShard) - Math.min(...perShard) <= 1, `uneven: ${perShard.join(',')}`);
          for (let i = 1; i < shardsOf.length; i++) assert.notEqual(shardsOf[i], shardsOf[i - 1], `consecutive on shard ${shardsOf[i]}`);
        }
      }
    });

    it('one shard: keys are simply drawn', () => {
      const keys = pickKeysOnDistinctShards(new SeededRng(23), 6, 1, draw);
      assert.equal(keys.length, 6);
      for (const k of keys) assert.match(k, /^k\d+$/);
    });

    it('a key space too small to reach every shard still yields a full request', () => {
      const two = keyDistribution(2);
      const keys = pickKeysOnDistinctShards(new SeededRng(24), 8, 8, (r) => keyName(two.draw(r)));
      assert.equal(keys.length, 8);
      for (const k of keys) assert.ok(k === 'k0' || k === 'k1');
    });

    it('the same seed picks the same keys', () => {
      assert.deepEqual(
        pickKeysOnDistinctShards(new SeededRng(25), 12, 5, draw),
        pickKeysOnDistinctShards(new SeededRng(25), 12, 5, draw),
      );
    });
  });
});

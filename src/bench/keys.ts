/**
 * Which keys a benchmark request touches: uniform or Zipf-skewed over a fixed key space, drawn
 * from an injected seeded generator so a run's workload is reproducible, and spread so that the
 * operations of one request land on different shards (the experiment compares N operations on N
 * shards).
 */
import { assert } from '../protocol/common/assert.js';
import type { Rng } from '../protocol/common/rng.js';
import { shardOf } from '../protocol/common/shardmap.js';

/** A distribution over key indices 0 … keys − 1; index 0 is the most popular when skewed. */
export interface KeyDistribution {
  readonly keys: number;
  draw(rng: Rng): number;
}

/** The key a benchmark uses for an index. */
export function keyName(index: number): string {
  return `k${index}`;
}

/**
 * Uniform over `keys` keys when `skew` = 0, else Zipf: P(index i) ∝ (i + 1)^−skew (0.99 is
 * the customary "hot keys" setting).
 */
export function keyDistribution(keys: number, skew = 0): KeyDistribution {
  assert(Number.isInteger(keys) && keys >= 1, `keys must be an integer ≥ 1, got ${keys}`);
  assert(Number.isFinite(skew) && skew >= 0, `a Zipf skew must be a finite number ≥ 0, got ${skew}`);
  return skew === 0 ? { keys, draw: (rng) => rng.int(keys) } : new ZipfKeys(keys, skew);
}

/**
 * Zipf by rejection-inversion (Hörmann & Derflinger, "Rejection-inversion to generate variates
 * from monotone discrete distributions", 1996; as in Apache Commons RNG): constant memory and an
 * expected O(1) draws per sample for any number of keys, where a precomputed CDF would need 8
 * bytes per key. H is an integral of h(x) = x^−s; a uniform point of H's range, mapped back
 * through H⁻¹ and rounded, is a rank, accepted when it falls under the step function of the
 * probabilities (always, for most draws).
 */
class ZipfKeys implements KeyDistribution {
  private readonly hIntegralX1: number;
  private readonly hIntegralKeys: number;
  /** Ranks k with k − x ≤ this are accepted without evaluating H (a precomputed squeeze). */
  private readonly acceptBelow: number;

  constructor(
    readonly keys: number,
    private readonly skew: number,
  ) {
    this.hIntegralX1 = this.hIntegral(1.5) - 1;
    this.hIntegralKeys = this.hIntegral(keys + 0.5);
    this.acceptBelow = 2 - this.hIntegralInverse(this.hIntegral(2.5) - this.h(2));
  }

  draw(rng: Rng): number {
    for (;;) {
      const u = this.hIntegralKeys + rng.next() * (this.hIntegralX1 - this.hIntegralKeys);
      const x = this.hIntegralInverse(u);
      const rank = Math.min(this.keys, Math.max(1, Math.round(x)));
      if (rank - x <= this.acceptBelow || u >= this.hIntegral(rank + 0.5) - this.h(rank)) return rank - 1;
    }
  }

  private h(x: number): number {
    return Math.exp(-this.skew * Math.log(x));
  }

  /** H(x) = (x^(1−s) − 1)/(1 − s), or log x when s = 1, computed without cancellation near s = 1. */
  private hIntegral(x: number): number {
    const logX = Math.log(x);
    return expm1OverX((1 - this.skew) * logX) * logX;
  }

  private hIntegralInverse(x: number): number {
    const t = Math.max(-1, x * (1 - this.skew));
    return Math.exp(log1pOverX(t) * x);
  }
}

/** log(1 + x)/x, continuous at 0. */
function log1pOverX(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x));
}

/** (e^x − 1)/x, continuous at 0. */
function expm1OverX(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + (x / 3) * (1 + 0.25 * x));
}

/** Draws a key before giving up on finding one on a shard a request still needs. */
const DRAWS_PER_SHARD_MAX = 64;

/**
 * The keys of one request of `fanout` operations, drawn with `draw`, chosen so that the
 * operations land on distinct shards as far as possible: with fanout ≤ shards all on different
 * shards; with more, round-robin (every shard once per round of `shards` keys, so no shard gets
 * two more than another), and never two consecutive keys on one shard while there are two or
 * more shards, since consecutive operations on one shard skip MDL's coordination between leaders.
 * Keys are drawn until one falls on a wanted shard; after 64 × shards draws (a key space too
 * small or too skewed to reach the shard) the last key drawn is taken anyway.
 */
export function pickKeysOnDistinctShards(rng: Rng, fanout: number, shards: number, draw: (rng: Rng) => string): string[] {
  assert(Number.isInteger(fanout) && fanout >= 1, `fanout must be an integer ≥ 1, got ${fanout}`);
  assert(Number.isInteger(shards) && shards >= 1, `shards must be an integer ≥ 1, got ${shards}`);
  const keys: string[] = [];
  const usedThisRound = new Set<number>();
  let previousShard = -1;
  const wanted = (shard: number): boolean => shards === 1 || (!usedThisRound.has(shard) && shard !== previousShard);
  for (let i = 0; i < fanout; i++) {
    if (usedThisRound.size === shards) usedThisRound.clear();
    let key = draw(rng);
    let shard = shardOf(key, shards);
    for (let attempt = 1; attempt < DRAWS_PER_SHARD_MAX * shards && !wanted(shard); attempt++) {
      key = draw(rng);
      shard = shardOf(key, shards);
    }
    keys.push(key);
    usedThisRound.add(shard);
    previousShard = shard;
  }
  return keys;
}

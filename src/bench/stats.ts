/**
 * Latency statistics for runs of millions of requests in fixed memory.
 *
 * A log-bucketed histogram in the style of DDSketch (Masson et al., VLDB 2019): bucket i holds
 * the values in (L·γ^(i−1), L·γ^i] with γ = (1 + α)/(1 − α), and reports its values as
 * L·2γ^i/(γ + 1), which is within a relative error α of every value in the bucket. With
 * α = 0.5 % and values from 1 µs to about 11 days that is some 2,800 buckets (22 KB), whatever
 * the number of samples, and merging two recorders is adding their buckets. Percentiles are
 * therefore within 0.5 % of the exact nearest-rank percentile (plus floating-point rounding at
 * bucket edges: well under the 1 % the benchmark promises), and are clamped to the exact minimum
 * and maximum, which are kept alongside with the exact count and sum (so `mean` and `max` are
 * exact). Values under 1 µs are counted as 0 (an absolute error under 1 µs); values over the top
 * fall in the last bucket and are reported no higher than the exact maximum.
 */
import { assert, AssertionError } from '../protocol/common/assert.js';

/** The relative error α of a reported percentile. */
export const PERCENTILE_RELATIVE_ERROR = 0.005;
const LOWEST_MS = 1e-3;
const HIGHEST_MS = 1e9;
const GAMMA = (1 + PERCENTILE_RELATIVE_ERROR) / (1 - PERCENTILE_RELATIVE_ERROR);
const LN_GAMMA = Math.log(GAMMA);
/** Index 0 counts values under L = LOWEST_MS; index j + 1 holds the bucket (L·γ^(j−1), L·γ^j], j ≥ 0. */
const BUCKETS = Math.ceil(Math.log(HIGHEST_MS / LOWEST_MS) / LN_GAMMA) + 2;

/** The latency summary a benchmark cell reports, in ms. */
export interface LatencySummaryMs {
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  max: number;
}

export class LatencyRecorder {
  /** Float64 so merged counts stay exact far beyond 2^32 samples. */
  private readonly buckets = new Float64Array(BUCKETS);
  private samples = 0;
  private sumMs = 0;
  private minMs = Infinity;
  private maxMs = 0;

  record(ms: number): void {
    // Not assert(): its message would be formatted on every call of this hot path.
    if (!(Number.isFinite(ms) && ms >= 0)) throw new AssertionError(`a latency must be a finite number ≥ 0 ms, got ${ms}`);
    this.buckets[bucketOf(ms)]! += 1;
    this.samples += 1;
    this.sumMs += ms;
    if (ms < this.minMs) this.minMs = ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  get count(): number {
    return this.samples;
  }

  /** Exact; 0 when nothing was recorded. */
  get mean(): number {
    return this.samples === 0 ? 0 : this.sumMs / this.samples;
  }

  /** Exact; 0 when nothing was recorded. */
  get max(): number {
    return this.maxMs;
  }

  /** Exact; 0 when nothing was recorded. */
  get min(): number {
    return this.samples === 0 ? 0 : this.minMs;
  }

  /**
   * The nearest-rank percentile, p in [0, 100]: the smallest recorded value with at least p % of
   * the samples at or below it (p = 0 gives the minimum), within the relative error above; 0 when
   * nothing was recorded. The first and last ranks are the exact minimum and maximum.
   */
  percentile(p: number): number {
    assert(Number.isFinite(p) && p >= 0 && p <= 100, `a percentile must be in [0, 100], got ${p}`);
    if (this.samples === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.samples));
    if (rank === 1) return this.minMs;
    if (rank === this.samples) return this.maxMs;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank) return Math.min(this.maxMs, Math.max(this.minMs, valueOf(i)));
    }
    return this.maxMs;
  }

  summary(): LatencySummaryMs {
    return {
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      mean: this.mean,
      max: this.max,
    };
  }

  /** Adds every sample of `other` to this recorder (as if they had been recorded here). */
  merge(other: LatencyRecorder): void {
    for (let i = 0; i < BUCKETS; i++) this.buckets[i]! += other.buckets[i]!;
    this.samples += other.samples;
    this.sumMs += other.sumMs;
    if (other.minMs < this.minMs) this.minMs = other.minMs;
    if (other.maxMs > this.maxMs) this.maxMs = other.maxMs;
  }
}

function bucketOf(ms: number): number {
  if (ms < LOWEST_MS) return 0;
  return Math.min(BUCKETS - 1, Math.max(1, Math.ceil(Math.log(ms / LOWEST_MS) / LN_GAMMA) + 1));
}

function valueOf(bucket: number): number {
  if (bucket === 0) return 0;
  return (LOWEST_MS * 2 * Math.pow(GAMMA, bucket - 1)) / (GAMMA + 1);
}

/** Completed requests per second over a measured window. */
export function throughputPerSecond(completed: number, durationS: number): number {
  assert(durationS > 0, `a throughput window must last more than 0 s, got ${durationS}`);
  return completed / durationS;
}

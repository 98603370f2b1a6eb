/**
 * The latency recorder against exact nearest-rank percentiles of the same samples, on seeded
 * random data spanning five orders of magnitude.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyRecorder, PERCENTILE_RELATIVE_ERROR, throughputPerSecond } from '../../src/bench/stats.js';
import { SeededRng, type Rng } from '../../src/protocol/common/rng.js';

const PERCENTILES = [0, 0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100];

/** Log-normal around 5 ms with a heavy spread: 0.01 ms … several seconds. */
function latencies(rng: Rng, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const u = 1 - rng.next();
    const v = rng.next();
    const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    out.push(5 * Math.exp(1.6 * normal));
  }
  return out;
}

function exactPercentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

function recorderOf(samples: readonly number[]): LatencyRecorder {
  const r = new LatencyRecorder();
  for (const s of samples) r.record(s);
  return r;
}

describe('bench › latency recorder', () => {
  for (const seed of [1, 2, 3]) {
    it(`percentiles are within ${PERCENTILE_RELATIVE_ERROR * 100} % of the exact ones (seed ${seed})`, () => {
      const samples = latencies(new SeededRng(seed), 100_000);
      const sorted = [...samples].sort((a, b) => a - b);
      const r = recorderOf(samples);
      for (const p of PERCENTILES) {
        const exact = exactPercentile(sorted, p);
        const error = Math.abs(r.percentile(p) - exact) / exact;
        assert.ok(error <= PERCENTILE_RELATIVE_ERROR * (1 + 1e-9), `p${p}: ${r.percentile(p)} against exact ${exact} (error ${error})`);
      }
    });
  }

  it('count, mean and max are exact; the extremes are the exact minimum and maximum', () => {
    const samples = latencies(new SeededRng(9), 10_000);
    const r = recorderOf(samples);
    assert.equal(r.count, samples.length);
    const sum = samples.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(r.mean - sum / samples.length) < 1e-9 * r.mean);
    assert.equal(r.max, Math.max(...samples));
    assert.equal(r.percentile(100), Math.max(...samples));
    assert.equal(r.percentile(0), Math.min(...samples));
    assert.equal(r.min, Math.min(...samples));
  });

  it('percentiles are exact for small integer-valued sets at the extremes and within the error inside', () => {
    const r = recorderOf([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    assert.equal(r.percentile(0), 10);
    assert.equal(r.percentile(100), 100);
    assert.ok(Math.abs(r.percentile(50) - 50) <= 50 * PERCENTILE_RELATIVE_ERROR);
    assert.ok(Math.abs(r.percentile(51) - 60) <= 60 * PERCENTILE_RELATIVE_ERROR);
    assert.ok(Math.abs(r.percentile(90) - 90) <= 90 * PERCENTILE_RELATIVE_ERROR);
  });

  it('a merged recorder answers as one that recorded every sample', () => {
    const rng = new SeededRng(4);
    const a = latencies(rng, 20_000);
    const b = latencies(rng, 30_000).map((v) => v * 10);
    const merged = recorderOf(a);
    merged.merge(recorderOf(b));
    const whole = recorderOf([...a, ...b]);
    assert.equal(merged.count, whole.count);
    assert.equal(merged.max, whole.max);
    assert.equal(merged.min, whole.min);
    assert.ok(Math.abs(merged.mean - whole.mean) < 1e-9 * whole.mean);
    for (const p of PERCENTILES) assert.equal(merged.percentile(p), whole.percentile(p), `p${p}`);
  });

  it('an empty recorder reports zeros, not NaN', () => {
    const r = new LatencyRecorder();
    assert.deepEqual(r.summary(), { p50: 0, p90: 0, p99: 0, mean: 0, max: 0 });
    assert.equal(r.count, 0);
    assert.equal(r.min, 0);
  });

  it('one sample is every percentile exactly', () => {
    const r = recorderOf([12.345]);
    assert.deepEqual(r.summary(), { p50: 12.345, p90: 12.345, p99: 12.345, mean: 12.345, max: 12.345 });
  });

  it('values under 1 µs count as 0 and values far beyond the range stay within the maximum', () => {
    const tiny = recorderOf([0, 0.0001, 0.0002, 5]);
    assert.equal(tiny.percentile(50), 0);
    assert.equal(tiny.percentile(100), 5);
    const huge = recorderOf([1, 1e12]);
    assert.equal(huge.percentile(100), 1e12);
    assert.ok(huge.percentile(99) <= 1e12);
  });

  it('refuses negative and non-finite latencies and percentiles outside [0, 100]', () => {
    const r = new LatencyRecorder();
    assert.throws(() => r.record(-1), /latency/);
    assert.throws(() => r.record(Number.NaN), /latency/);
    assert.throws(() => r.record(Infinity), /latency/);
    assert.throws(() => r.percentile(101), /percentile/);
    assert.equal(r.count, 0);
  });

  it('throughput is completions per second of the window', () => {
    assert.equal(throughputPerSecond(1500, 30), 50);
    assert.equal(throughputPerSecond(0, 2), 0);
    assert.throws(() => throughputPerSecond(10, 0), /window/);
  });
});

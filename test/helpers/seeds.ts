/**
 * Seeds for randomized sweeps: MDLIN_SEED=<n> runs just that one (to reproduce a failure);
 * MDLIN_SWEEP_SEEDS=<count> widens or narrows the sweep; otherwise `count` seeds from 1. Seeds in
 * `kept` (ones that once found a bug) run as well.
 */
export function sweepSeeds(count: number, kept: readonly number[] = []): number[] {
  const one = process.env['MDLIN_SEED'];
  if (one !== undefined && one !== '') return [Number(one)];
  const n = Number(process.env['MDLIN_SWEEP_SEEDS'] ?? count);
  const seeds = Array.from({ length: n }, (_, i) => i + 1);
  return [...seeds, ...kept.filter((seed) => seed > n)];
}

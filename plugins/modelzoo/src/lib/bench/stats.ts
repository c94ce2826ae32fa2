import { median } from './latency';

/** Coefficient of variation (sample standard deviation ÷ mean); 0 for fewer than two values. */
export function coefficientOfVariation(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const mean = values.reduce((a, v) => a + v, 0) / values.length;
  if (mean === 0) return 0;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1);
  return Math.sqrt(variance) / Math.abs(mean);
}

/**
 * The paired speedup of `b` over `a`: the median of per-rep ratios b[k] / a[k]. Each pair was measured
 * back to back, so a load burst that slows one rep of both sides cancels in its ratio, and the median
 * discards the reps where it hit only one side.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): { median: number; cv: number; ratios: number[] } {
  if (a.length !== b.length || a.length === 0) throw new Error(`paired ratio needs equal, non-empty rep lists (${a.length} vs ${b.length})`);
  const ratios = a.map((x, k) => b[k]! / x);
  return { median: median(ratios), cv: coefficientOfVariation(ratios), ratios };
}

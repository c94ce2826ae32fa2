import type { LatencyStats } from '../results';

/** Percentiles by the nearest-rank method on sorted samples (ms). */
export function latencyStats(samplesMs: number[]): LatencyStats {
  if (samplesMs.length === 0) throw new Error('no latency samples');
  const s = [...samplesMs].sort((a, b) => a - b);
  const pick = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  const mean = s.reduce((a, v) => a + v, 0) / s.length;
  return { min: s[0]!, mean, p50: pick(50), p90: pick(90), p95: pick(95), p99: pick(99), max: s[s.length - 1]! };
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

import type { TensorHistogram } from './histogram';
import type { CalibrateMode } from './options';

/** A real-valued range [lo, hi] that always contains 0, so zero (padding, ReLU) is exact. */
export interface Range {
  lo: number;
  hi: number;
}

export function chooseRange(h: TensorHistogram, mode: CalibrateMode, percentile: number): Range {
  if (!(h.min <= h.max)) throw new Error('no calibration values reached this tensor');
  if (h.count === 0 && mode !== 'max') throw new Error(`calibrate_mode ${mode} needs sampled values; this tensor has only its extremes`);
  let r: Range;
  switch (mode) {
    case 'max':
      r = { lo: h.min, hi: h.max };
      break;
    case 'percentile':
      r = { lo: h.quantile(1 - percentile), hi: h.quantile(percentile) };
      break;
    case 'mse':
      r = mseRange(h);
      break;
    case 'kl_divergence':
      r = klRange(h);
      break;
  }
  return { lo: Math.min(0, r.lo), hi: Math.max(0, r.hi) };
}

/** Centres and counts of the non-empty bins, shared by the searches below. */
function occupied(h: TensorHistogram): { x: Float64Array; c: Float64Array } {
  const xs: number[] = [];
  const cs: number[] = [];
  const w = h.binWidth;
  for (let k = 0; k < h.counts.length; k++) {
    const n = h.counts[k]!;
    if (n > 0) {
      xs.push(h.edge(k) + w / 2);
      cs.push(n);
    }
  }
  return { x: Float64Array.from(xs), c: Float64Array.from(cs) };
}

/**
 * Shrinks [min, max] by a common factor to minimize the expected squared error: rounding noise
 * (scale^2 / 12) for values inside, the clipping distance for values outside. Exact zeros cost nothing.
 */
export function mseRange(h: TensorHistogram, levels = 255): Range {
  const lo0 = Math.min(0, h.min);
  const hi0 = Math.max(0, h.max);
  if (hi0 - lo0 === 0) return { lo: 0, hi: 0 };
  const { x, c } = occupied(h);
  const nonZero = h.count - h.zeros;
  let best = { err: Infinity, alpha: 1 };
  for (let step = 1; step <= 200; step++) {
    const alpha = step / 200;
    const lo = alpha * lo0;
    const hi = alpha * hi0;
    const scale = (hi - lo) / levels;
    let clipErr = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      const d = v > hi ? v - hi : v < lo ? lo - v : 0;
      if (d > 0) clipErr += c[i]! * d * d;
    }
    const err = clipErr + (nonZero * scale * scale) / 12;
    if (err < best.err) best = { err, alpha };
  }
  return { lo: best.alpha * lo0, hi: best.alpha * hi0 };
}

/**
 * Entropy calibration (the TensorRT search): the threshold whose quantized distribution Q of |x| is
 * closest in KL divergence to the clipped reference P. On ReLU6 outputs the textbook search collapses:
 * the spike of exact zeros dominates both P and Q and the spike of values saturated at 6 is what clipping
 * would destroy, so the minimum lands on a tiny threshold. Both spikes are exact in any uint8 range that
 * reaches them, so they are searched without and added back as constraints: zeros are always exact, and
 * a saturation spike holding more than `saturatedShare` of the values keeps its bound inside the range.
 */
export function klRange(h: TensorHistogram, saturatedShare = 1e-5): Range {
  if (h.max - h.min === 0 || h.range === 0) return { lo: h.min, hi: h.max };
  const B = h.binsPerSide;
  const oneSided = h.min >= 0;
  // |x| histogram over [0, range], B bins.
  const abs = new Float64Array(B);
  for (let k = 0; k < B; k++) abs[k] = h.counts[B + k]! + h.counts[B - 1 - k]!;
  abs[0] = Math.max(0, abs[0]! - h.zeros);
  const clip = h.clipHigh;
  if (clip !== undefined && h.clipHits > 0) {
    const k = Math.min(B - 1, Math.floor((clip / h.range) * B));
    abs[k] = Math.max(0, abs[k]! - h.clipHits);
  }
  const absMax = Math.max(-h.min, h.max);
  const lastBin = Math.min(B, Math.ceil((absMax / h.range) * B));
  const levels = oneSided ? 255 : 128;
  const threshold = klThreshold(abs, lastBin, levels) * (h.range / B);
  let hi = oneSided ? threshold : Math.min(h.max, threshold);
  const lo = oneSided ? 0 : Math.max(h.min, -threshold);
  if (clip !== undefined && h.clipHits > saturatedShare * h.count) hi = Math.max(hi, clip);
  return { lo, hi: Math.min(hi, h.max) };
}

/** Number of bins (a threshold of `result * binWidth`) minimizing KL(P || Q) over [levels, lastBin]. */
export function klThreshold(hist: Float64Array, lastBin: number, levels: number): number {
  const total = hist.reduce((a, v) => a + v, 0);
  if (total === 0 || lastBin <= levels) return Math.max(1, lastBin);
  const suffix = new Float64Array(lastBin + 1);
  for (let k = hist.length - 1; k >= 0; k--) if (k < lastBin) suffix[k] = suffix[k + 1]! + hist[k]!;
  let tail = 0;
  for (let k = lastBin; k < hist.length; k++) tail += hist[k]!;
  let best = { kl: Infinity, bins: lastBin };
  const p = new Float64Array(lastBin);
  const q = new Float64Array(lastBin);
  // ~256 candidates: the full O(bins^2) scan would cost seconds over a network's tensors for no gain.
  const stride = Math.max(1, Math.floor((lastBin - levels) / 256));
  for (let i = levels; i <= lastBin; i = i === lastBin ? i + 1 : Math.min(lastBin, i + stride)) {
    for (let k = 0; k < i; k++) p[k] = hist[k]!;
    p[i - 1]! += suffix[i]! + tail;
    // Q: the unclipped slice merged into `levels` chunks, each spread evenly over its non-empty bins.
    for (let j = 0; j < levels; j++) {
      const start = Math.floor((j * i) / levels);
      const end = j === levels - 1 ? i : Math.floor(((j + 1) * i) / levels);
      let mass = 0;
      let nonEmpty = 0;
      for (let k = start; k < end; k++) {
        mass += hist[k]!;
        if (hist[k]! > 0) nonEmpty++;
      }
      const each = nonEmpty > 0 ? mass / nonEmpty : 0;
      for (let k = start; k < end; k++) q[k] = hist[k]! > 0 ? each : 0;
    }
    let pSum = 0;
    let qSum = 0;
    for (let k = 0; k < i; k++) {
      pSum += p[k]!;
      qSum += q[k]!;
    }
    if (pSum === 0 || qSum === 0) continue;
    let kl = 0;
    for (let k = 0; k < i; k++) {
      if (p[k]! <= 0) continue;
      const pk = p[k]! / pSum;
      const qk = Math.max(q[k]! / qSum, 1e-12);
      kl += pk * Math.log(pk / qk);
    }
    if (kl < best.kl) best = { kl, bins: i };
  }
  return best.bins;
}

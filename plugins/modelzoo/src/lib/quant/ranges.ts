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

/**
 * Shrinks [min, max] by a common factor to minimize the expected squared error: rounding noise
 * (scale^2 / 12) for values inside, the clipping distance for values outside. Exact zeros cost nothing.
 */
export function mseRange(h: TensorHistogram, levels = 255): Range {
  const lo0 = Math.min(0, h.min);
  const hi0 = Math.max(0, h.max);
  if (hi0 - lo0 === 0) return { lo: 0, hi: 0 };
  // Every bin, empty ones included (they add 0 to the clipping error): skipping them would save little.
  const c = h.counts;
  const w = h.binWidth;
  const x = c.map((_, k) => h.edge(k) + w / 2);
  const nonZero = h.count - h.zeros;
  let best = { err: Infinity, alpha: 1 };
  for (let step = 1; step <= 200; step++) {
    const alpha = step / 200;
    const lo = alpha * lo0;
    const hi = alpha * hi0;
    const scale = (hi - lo) / levels;
    let clipErr = 0;
    for (let i = 0; i < x.length; i++) {
      // The distance to the range, 0 inside it (lo <= hi, so at most one of the two is positive).
      const d = Math.max(0, x[i]! - hi, lo - x[i]!);
      clipErr += c[i]! * d * d;
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
  const abs = h.counts.subarray(B).map((n, k) => n + h.counts[B - 1 - k]!);
  abs[0] = Math.max(0, abs[0]! - h.zeros);
  // Without a clip bound there are no clip hits (the histogram counts none): nothing is subtracted from
  // the last bin below, and no spike is kept.
  const clip = h.clipHigh ?? Infinity;
  const clipBin = Math.min(B - 1, Math.floor((clip / h.range) * B));
  abs[clipBin] = Math.max(0, abs[clipBin]! - h.clipHits);
  const absMax = Math.max(-h.min, h.max);
  const lastBin = Math.min(B, Math.ceil((absMax / h.range) * B));
  const levels = oneSided ? 255 : 128;
  const threshold = klThreshold(abs, lastBin, levels) * (h.range / B);
  let hi = oneSided ? threshold : Math.min(h.max, threshold);
  const lo = oneSided ? 0 : Math.max(h.min, -threshold);
  if (h.clipHits > saturatedShare * h.count) hi = Math.max(hi, clip);
  return { lo, hi: Math.min(hi, h.max) };
}

/** Number of bins (a threshold of `result * binWidth`) minimizing KL(P || Q) over [levels, lastBin]. */
export function klThreshold(hist: Float64Array, lastBin: number, levels: number): number {
  if (lastBin <= levels) return Math.max(1, lastBin);
  // suffix[i]: the mass in bins i and above, which clipping at i bins folds into P's last bin. Only
  // i >= levels is ever a candidate. Counts are integers, so the order of the sums is exact.
  const suffix = new Float64Array(hist.length + 1);
  for (let k = hist.length - 1; k >= levels; k--) suffix[k] = suffix[k + 1]! + hist[k]!;
  // An empty histogram leaves every candidate's Q empty: none is scored and lastBin is returned.
  let best = { kl: Infinity, bins: lastBin };
  const q = new Float64Array(lastBin);
  // ~256 candidates: the full O(bins^2) scan would cost seconds over a network's tensors for no gain.
  const stride = Math.max(1, Math.floor((lastBin - levels) / 256));
  for (let i = levels; i <= lastBin; i = i === lastBin ? i + 1 : Math.min(lastBin, i + stride)) {
    const p = hist.slice(0, i);
    p[i - 1]! += suffix[i]!;
    // Q: the unclipped slice merged into `levels` chunks, each spread evenly over its non-empty bins.
    // Chunk j is [floor(j i / levels), floor((j + 1) i / levels)): the last one ends at i exactly, and
    // each holds at least one bin (i >= levels). The chunk loop stops at its bound exactly (`!==`): one
    // more chunk would start at bin i and only write q beyond this candidate's bins.
    for (let j = 0; j !== levels; j++) {
      const start = Math.floor((j * i) / levels);
      const end = Math.floor(((j + 1) * i) / levels);
      let mass = 0;
      let nonEmpty = 0;
      for (let k = start; k < end; k++) {
        // Stryker disable next-line AssignmentOperator: Q is normalized by its own sum below, so negating every chunk's mass leaves q / qSum unchanged
        mass += hist[k]!;
        // Stryker disable next-line UpdateOperator: a negative count of non-empty bins negates every chunk's q, which the normalization by qSum below cancels exactly
        if (hist[k]! > 0) nonEmpty++;
      }
      // NaN (0 / 0) only for a chunk without a non-empty bin, where it is never used.
      const each = mass / nonEmpty;
      // Stryker disable next-line EqualityOperator: k <= end writes q[end], the next chunk's first bin, which that chunk rewrites (after the last chunk, q[i], which this candidate never reads); `!==` here would turn mutants that put start after end into endless loops
      for (let k = start; k < end; k++) {
        q[k] = hist[k]! > 0 ? each : 0;
      }
    }
    let pSum = 0;
    let qSum = 0;
    for (let k = 0; k < i; k++) {
      pSum += p[k]!;
      qSum += q[k]!;
    }
    // Nothing below the threshold to quantize (then P, of the same histogram, can still be non-empty).
    if (qSum === 0) continue;
    let kl = 0;
    for (let k = 0; k < i; k++) {
      if (p[k]! <= 0) continue;
      // Stryker disable next-line ArithmeticOperator: pSum is the whole histogram's mass for every candidate (P keeps the clipped tail), so p * pSum = pSum^2 p/pSum turns each KL into pSum^2 (KL + 2 ln pSum), an increasing function of it: the same candidate wins (exactly in real arithmetic; no test can tell rounding-level reorderings of near-equal KLs from the real ones)
      const pk = p[k]! / pSum;
      const qk = Math.max(q[k]! / qSum, 1e-12);
      kl += pk * Math.log(pk / qk);
    }
    if (kl < best.kl) best = { kl, bins: i };
  }
  return best.bins;
}

/**
 * Streaming statistics of one activation tensor: exact min/max, a fixed-size signed histogram whose range
 * doubles (merging bin pairs exactly) when a batch exceeds it, and exact counts of the "atoms" ReLU6
 * produces (values exactly 0 and exactly at the clip bound). Memory is O(bins) however many images pass.
 */
export const DEFAULT_BINS_PER_SIDE = 2048;

export class TensorHistogram {
  min = Infinity;
  max = -Infinity;
  count = 0;
  /** Values exactly 0: always representable (it is the zero point), so KL leaves them out. */
  zeros = 0;
  /** Values exactly at `clipHigh` (a saturating activation's bound). */
  clipHits = 0;
  /** Half-width of the histogram's range [-range, range]; 0 until the first non-zero value. */
  range = 0;
  readonly counts: Float64Array;

  constructor(
    readonly binsPerSide = DEFAULT_BINS_PER_SIDE,
    /** Upper bound of a folded Clip/ReLU6, when the tensor has one. */
    readonly clipHigh?: number,
  ) {
    if (binsPerSide % 2 !== 0) throw new Error(`histogram bins per side must be even, got ${binsPerSide}`);
    this.counts = new Float64Array(2 * binsPerSide);
  }

  get binWidth(): number {
    return this.range / this.binsPerSide;
  }

  /** Exact extremes computed elsewhere (ORT's ReduceMin/Max over the whole tensor, not the sample). */
  observe(lo: number, hi: number): void {
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new Error('calibration tensor holds NaN or infinite values');
    this.min = Math.min(this.min, lo);
    this.max = Math.max(this.max, hi);
    this.grow(Math.max(-lo, hi));
  }

  /**
   * Adds every value of `data`; `atoms` also counts exact zeros and clip hits (KL needs them). `within`
   * says observe() already covered the batch's extremes (exact ones from ONNX Runtime), so the pass that
   * finds them here is skipped: calibration adds ~100k values per tensor per batch. A NaN is refused
   * either way (with `within`, after the values were binned: the histogram is then unusable).
   */
  add(data: Float32Array, atoms = false, within = false): void {
    const n = data.length;
    if (n === 0) return;
    if (!within) {
      // Math.min/max, not comparisons: a NaN among finite values must reach the check below (a comparison
      // skips it, and the value would land in the lowest bin).
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < n; i++) {
        const v = data[i]!;
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new Error('calibration tensor holds NaN or infinite values');
      this.min = Math.min(this.min, lo);
      this.max = Math.max(this.max, hi);
      this.grow(Math.max(-lo, hi));
    }
    this.count += n;
    if (this.range === 0) {
      // Every value so far is 0 (the range grows with the first non-zero one): all in the centre bin.
      this.counts[this.binsPerSide]! += n;
      if (atoms) this.zeros += n;
      return;
    }
    const B = this.binsPerSide;
    const last = 2 * B - 1;
    const s = B / this.range;
    const c = this.counts;
    // k >= 0: the range covers every value (grow() above, or observe() with the exact extremes for
    // `within`), and `| 0` truncates a rounding error just under 0 to 0. Only +range itself lands past
    // the last bin.
    // NaN compares false with the extremes and `NaN | 0` is bin 0: counted (branch-free) instead.
    let nan = 0;
    if (!atoms) {
      for (let i = 0; i < n; i++) {
        const v = data[i]!;
        const k = (v * s + B) | 0;
        c[Math.min(k, last)]!++;
        nan += +(v !== v);
      }
      if (nan > 0) throw new Error('calibration tensor holds NaN or infinite values');
      return;
    }
    let z = 0;
    let top = 0;
    const clip = this.clipHigh ?? NaN;
    // Branch-free counts: ReLU outputs are about half exact zeros in no order, and a mispredicted branch
    // per value costs three times the histogram update itself.
    for (let i = 0; i < n; i++) {
      const v = data[i]!;
      const k = (v * s + B) | 0;
      c[Math.min(k, last)]!++;
      z += +(v === 0);
      top += +(v === clip);
      nan += +(v !== v);
    }
    if (nan > 0) throw new Error('calibration tensor holds NaN or infinite values');
    this.zeros += z;
    this.clipHits += top;
  }

  /** Doubles the range until it covers `absMax`, merging bin pairs so earlier counts stay exact. */
  private grow(absMax: number): void {
    // absMax >= 0 (lo <= hi); when it is within the range the loop below does nothing.
    if (this.range === 0) {
      this.range = absMax;
      return;
    }
    const B = this.binsPerSide;
    const c = this.counts;
    while (this.range < absMax) {
      // old bin k covers [-R + k w, -R + (k + 1) w]; with range 2R and width 2w it lands in B/2 + floor(k/2).
      const merged = new Float64Array(2 * B);
      for (let k = 0; k < 2 * B; k++) merged[B / 2 + (k >> 1)]! += c[k]!;
      c.set(merged);
      this.range *= 2;
    }
  }

  /** Lower edge of bin k. */
  edge(k: number): number {
    return -this.range + k * this.binWidth;
  }

  /**
   * The value below which a fraction q of all values lies, interpolated inside the bin, and clamped to
   * the exact min/max (so q = 0 and q = 1 give min and max).
   */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    // With range 0 every value is 0 (min = max = 0): the scan stops in the centre bin, whose edge and
    // width are 0, and returns 0.
    const target = q * this.count;
    let acc = 0;
    for (const [k, n] of this.counts.entries()) {
      const next = acc + n;
      if (next >= target && n > 0) {
        const frac = (target - acc) / n;
        const v = this.edge(k) + frac * this.binWidth;
        return Math.min(this.max, Math.max(this.min, v));
      }
      acc = next;
    }
    return this.max;
  }
}

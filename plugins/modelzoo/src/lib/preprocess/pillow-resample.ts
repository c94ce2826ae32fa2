import type { CropPlan } from './geometry';
import { checkRaw, type RawImage } from './raw-image';

/**
 * Pillow 9.x ImagingResample (Resample.c) for 8-bit images, restricted to the centre-crop window: only
 * the output pixels inside the crop are computed, and the horizontal pass runs only over the source rows
 * those pixels need. Every output pixel depends only on its own coefficients and on the clipped uint8
 * intermediate, so the window gives the same bytes as resizing the whole image and cropping afterwards.
 */

export type PillowFilter = 'bilinear' | 'bicubic';

// 32 bits minus 8 for the pixel value and 2 for the sign and bicubic overshoot (Pillow's choice).
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Filter {
  support: number;
  fn: (x: number) => number;
}

const FILTERS: Record<PillowFilter, Filter> = {
  bilinear: {
    support: 1,
    fn: (x) => {
      // Stryker disable next-line EqualityOperator: x = 0 gives -0, which the filter maps like 0
      if (x < 0) x = -x;
      // Stryker disable next-line EqualityOperator,ConditionalExpression: at x = 1 both branches give 0, and taps never lie beyond |x| = support (xmin/xmax round to the support)
      return x < 1 ? 1 - x : 0;
    },
  },
  bicubic: {
    support: 2,
    fn: (x) => {
      const a = -0.5;
      // Stryker disable next-line EqualityOperator: x = 0 gives -0, which the filter maps like 0
      if (x < 0) x = -x;
      // Stryker disable next-line EqualityOperator: at x = 1 both pieces of the cubic are 0
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      // Stryker disable next-line EqualityOperator,ConditionalExpression: at x = 2 the outer piece is 0, like the fall-through, and taps never lie beyond |x| = support
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
};

/** Fixed-point taps for a run of output positions along one axis. */
export interface AxisCoeffs {
  ksize: number;
  /** Per output position: first source index, or -1 when the position lies outside the resized image. */
  start: Int32Array;
  /** Per output position: number of taps. */
  count: Int32Array;
  /** `ksize` fixed-point weights per output position. */
  weights: Int32Array;
}

/**
 * precompute_coeffs + normalize_coeffs_8bpc for output positions first..first+n-1 of an
 * inSize -> outSize resize. Positions outside [0, outSize) (centre-crop padding) get no taps.
 */
export function pillowAxisCoeffs(
  inSize: number,
  outSize: number,
  first: number,
  n: number,
  filter: PillowFilter,
): AxisCoeffs {
  const f = FILTERS[filter];
  const scale = inSize / outSize;
  // Stryker disable next-line EqualityOperator: at scale = 1 both branches give 1
  const filterscale = scale < 1 ? 1 : scale;
  const support = f.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const ss = 1 / filterscale;
  const start = new Int32Array(n).fill(-1);
  const count = new Int32Array(n);
  const weights = new Int32Array(n * ksize);
  const w = new Float64Array(ksize);
  // Stryker disable next-line EqualityOperator: position n writes past the typed arrays' ends, which is ignored
  for (let i = 0; i < n; i++) {
    const xx = first + i;
    if (xx < 0 || xx >= outSize) continue;
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero.
    let xmin = Math.trunc(center - support + 0.5);
    // Stryker disable next-line EqualityOperator: clamping 0 to 0 changes nothing
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    // Stryker disable next-line EqualityOperator: clamping inSize to inSize changes nothing
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const v = f.fn((x + xmin - center + 0.5) * ss);
      w[x] = v;
      ww += v;
    }
    for (let x = 0; x < xmax; x++) {
      // Stryker disable next-line ConditionalExpression: ww > 0 always (the tap nearest the centre has a positive weight); the guard mirrors Pillow's
      const v = ww !== 0 ? w[x]! / ww : w[x]!;
      // Pillow rounds away from zero before the (int) truncation.
      // Stryker disable next-line EqualityOperator: v = 0 rounds to -0 or 0, both stored as 0 in the Int32Array
      weights[i * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    start[i] = xmin;
    count[i] = xmax;
  }
  return { ksize, start, count, weights };
}

/** Identity taps, used when Pillow skips a pass because that axis keeps its size. */
function identityCoeffs(inSize: number, first: number, n: number): AxisCoeffs {
  const start = new Int32Array(n).fill(-1);
  const count = new Int32Array(n);
  const weights = new Int32Array(n);
  // Stryker disable next-line EqualityOperator: position n writes past the typed arrays' ends, which is ignored
  for (let i = 0; i < n; i++) {
    const x = first + i;
    if (x < 0 || x >= inSize) continue;
    start[i] = x;
    count[i] = 1;
    weights[i] = ONE;
  }
  return { ksize: 1, start, count, weights };
}

/**
 * Everything the two passes need for one source size and crop plan: the taps of the window's columns
 * and rows, and the source rectangle [x0, x1) x [y0, y1) they read, which is all that has to be decoded.
 */
export interface PillowTaps {
  crop: number;
  hx: AxisCoeffs;
  vy: AxisCoeffs;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  /** Some window pixels lie outside the resized image (torchvision's zero padding). */
  padded: boolean;
}

// ImageNet has a few dozen distinct sizes; the taps of each are computed once per worker.
const tapsCache = new Map<string, PillowTaps>();
const TAPS_CACHE_MAX = 512;

export function pillowTaps(width: number, height: number, plan: CropPlan, filter: PillowFilter): PillowTaps {
  const key = `${width}x${height}>${plan.resizedWidth}x${plan.resizedHeight}+${plan.left}+${plan.top}/${plan.crop}:${filter}`;
  const hit = tapsCache.get(key);
  if (hit) return hit;
  const { crop } = plan;
  // Pillow skips a pass whose axis keeps its size; identity taps give the same bytes without the work.
  const hx =
    plan.resizedWidth === width
      ? identityCoeffs(width, plan.left, crop)
      : pillowAxisCoeffs(width, plan.resizedWidth, plan.left, crop, filter);
  const vy =
    plan.resizedHeight === height
      ? identityCoeffs(height, plan.top, crop)
      : pillowAxisCoeffs(height, plan.resizedHeight, plan.top, crop, filter);
  const span = (c: AxisCoeffs): [number, number, boolean] => {
    let lo = Infinity;
    let hi = -Infinity;
    let padded = false;
    for (let i = 0; i < crop; i++) {
      if (c.start[i]! < 0) {
        padded = true;
        continue;
      }
      lo = Math.min(lo, c.start[i]!);
      hi = Math.max(hi, c.start[i]! + c.count[i]!);
    }
    // Stryker disable next-line EqualityOperator: hi > lo whenever one position has taps (count >= 1), and hi = -Infinity < lo otherwise
    return hi > lo ? [lo, hi, padded] : [0, 0, true];
  };
  const [x0, x1, px] = span(hx);
  const [y0, y1, py] = span(vy);
  const taps: PillowTaps = { crop, hx, vy, x0, x1, y0, y1, padded: px || py };
  if (tapsCache.size >= TAPS_CACHE_MAX) tapsCache.clear();
  tapsCache.set(key, taps);
  return taps;
}

/**
 * Resize `img` to plan.resized{Width,Height} with Pillow's filter and return the crop window as
 * CHW RGB uint8 [3, crop, crop]. Pixels of the window outside the resized image are 0 (torchvision pads).
 */
export function pillowResizeCrop(img: RawImage, plan: CropPlan, filter: PillowFilter): Uint8Array {
  checkRaw(img, 'pillow resample');
  return pillowResizeCropTaps(img, pillowTaps(img.width, img.height, plan, filter));
}

/**
 * Both resamplers (this one and pillow-simd.ts) read only the taps' window, from an image that may be
 * just the decoded rectangle around it: a region or pixel buffer short of that window is refused
 * before any read, rather than read past its end.
 */
export function assertCoversTaps(img: RawImage, taps: PillowTaps, ox: number, oy: number): void {
  const { x0, x1, y0, y1 } = taps;
  if (x0 < ox || y0 < oy || img.width < x1 - ox || img.height < y1 - oy || img.data.length < img.width * img.height * img.channels) {
    throw new Error(
      `pillow resample: ${img.width}x${img.height} pixels at (${ox}, ${oy}) do not cover columns ${x0}..${x1 - 1}, rows ${y0}..${y1 - 1}`,
    );
  }
}

/**
 * The JS resampler on precomputed taps. `img` pixel (0, 0) is source pixel (ox, oy): the image may be
 * just the decoded rectangle the taps read.
 */
export function pillowResizeCropTaps(img: RawImage, taps: PillowTaps, ox = 0, oy = 0): Uint8Array {
  const { crop, hx, vy, y0, y1 } = taps;
  const cn = img.channels;
  const out = new Uint8Array(3 * crop * crop);
  if (!(y1 > y0)) return out;
  assertCoversTaps(img, taps, ox, oy);

  // Horizontal pass: rows y0..y1-1, crop columns only, clipped to uint8 like Pillow's temp image.
  const rowStride = crop * cn;
  // Stryker disable next-line ArithmeticOperator: a larger temp buffer is only unused space
  const tmp = new Uint8Array((y1 - y0) * rowStride);
  const src = img.data;
  const srcStride = img.width * cn;
  const hk = hx.ksize;
  const hw = hx.weights;
  const hstart = hx.start;
  const hcount = hx.count;
  // Stryker disable next-line EqualityOperator: an extra row y1 would be written past tmp's end, which a typed array ignores
  for (let y = y0; y < y1; y++) {
    const srow = (y - oy) * srcStride;
    let o = (y - y0) * rowStride;
    if (cn === 3) {
      // Stryker disable next-line EqualityOperator: an extra column has no taps and writes 0 at the next row's start, which that row then overwrites (or past the end)
      for (let j = 0; j < crop; j++, o += 3) {
        const xmin = hstart[j]!;
        // Stryker disable next-line ConditionalExpression: a position outside the image has no taps, so its sum is HALF >> 22 = 0, the byte the skip leaves
        if (xmin < 0) continue;
        const n = hcount[j]!;
        let kb = j * hk;
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        let p = srow + (xmin - ox) * 3;
        for (let t = 0; t < n; t++, p += 3) {
          const k = hw[kb++]!;
          s0 = (s0 + src[p]! * k) | 0;
          s1 = (s1 + src[p + 1]! * k) | 0;
          s2 = (s2 + src[p + 2]! * k) | 0;
        }
        // Same as Pillow's clip8: the arithmetic shift floors, then clamp.
        s0 >>= PRECISION_BITS;
        s1 >>= PRECISION_BITS;
        s2 >>= PRECISION_BITS;
        // Stryker disable next-line EqualityOperator: clamping 0 to 0 and 255 to 255 changes nothing (Pillow's clip8)
        tmp[o] = s0 < 0 ? 0 : s0 > 255 ? 255 : s0;
        // Stryker disable next-line EqualityOperator: clamping 0 to 0 and 255 to 255 changes nothing (Pillow's clip8)
        tmp[o + 1] = s1 < 0 ? 0 : s1 > 255 ? 255 : s1;
        // Stryker disable next-line EqualityOperator: clamping 0 to 0 and 255 to 255 changes nothing (Pillow's clip8)
        tmp[o + 2] = s2 < 0 ? 0 : s2 > 255 ? 255 : s2;
      }
    } else {
      // Stryker disable next-line EqualityOperator: an extra column has no taps and writes 0 at the next row's start, which that row then overwrites (or past the end)
      for (let j = 0; j < crop; j++, o++) {
        const xmin = hstart[j]!;
        // Stryker disable next-line ConditionalExpression: a position outside the image has no taps, so its sum is HALF >> 22 = 0, the byte the skip leaves
        if (xmin < 0) continue;
        const n = hcount[j]!;
        let kb = j * hk;
        let s0 = HALF;
        let p = srow + (xmin - ox);
        for (let t = 0; t < n; t++, p++) s0 = (s0 + src[p]! * hw[kb++]!) | 0;
        s0 >>= PRECISION_BITS;
        // Stryker disable next-line EqualityOperator: clamping 0 to 0 and 255 to 255 changes nothing (Pillow's clip8)
        tmp[o] = s0 < 0 ? 0 : s0 > 255 ? 255 : s0;
      }
    }
  }

  // Vertical pass: accumulate whole rows (sequential reads), then scatter into the CHW planes.
  const plane = crop * crop;
  const vk = vy.ksize;
  const vw = vy.weights;
  const acc = new Int32Array(rowStride);
  const colOk = new Uint8Array(crop);
  // Stryker disable next-line ConditionalExpression,EqualityOperator: marking a column outside the image as computed yields its 0 (see the skips below); colOk[crop] lies past the array's end, which a typed array ignores
  for (let j = 0; j < crop; j++) colOk[j] = hstart[j]! >= 0 ? 1 : 0;
  for (let i = 0; i < crop; i++) {
    const ymin = vy.start[i]!;
    // Stryker disable next-line ConditionalExpression: a row outside the image has no taps, so every sum is HALF >> 22 = 0, the byte the skip leaves
    if (ymin < 0) continue;
    const n = vy.count[i]!;
    acc.fill(HALF);
    for (let t = 0; t < n; t++) {
      const k = vw[i * vk + t]!;
      const base = (ymin - y0 + t) * rowStride;
      // Stryker disable next-line EqualityOperator: acc[rowStride] lies past the array's end, which a typed array ignores
      for (let q = 0; q < rowStride; q++) acc[q] = (acc[q]! + tmp[base + q]! * k) | 0;
    }
    const o = i * crop;
    if (cn === 3) {
      for (let j = 0, q = 0; j < crop; j++, q += 3) {
        // Stryker disable next-line ConditionalExpression: a column outside the image is 0 in every tmp row, so its sum is 0, the byte the skip leaves
        if (colOk[j] === 0) continue;
        const a = acc[q]! >> PRECISION_BITS;
        const b = acc[q + 1]! >> PRECISION_BITS;
        const c = acc[q + 2]! >> PRECISION_BITS;
        // Stryker disable next-line EqualityOperator: clamping 0 to 0 and 255 to 255 changes nothing (Pillow's clip8)
        out[o + j] = a < 0 ? 0 : a > 255 ? 255 : a;
        // Stryker disable next-line EqualityOperator: clamping 0 to 0 and 255 to 255 changes nothing (Pillow's clip8)
        out[plane + o + j] = b < 0 ? 0 : b > 255 ? 255 : b;
        // Stryker disable next-line EqualityOperator: clamping 0 to 0 and 255 to 255 changes nothing (Pillow's clip8)
        out[2 * plane + o + j] = c < 0 ? 0 : c > 255 ? 255 : c;
      }
    } else {
      for (let j = 0; j < crop; j++) {
        // Stryker disable next-line ConditionalExpression: a column outside the image is 0 in every tmp row, so its sum is 0, the byte the skip leaves
        if (colOk[j] === 0) continue;
        const a = acc[j]! >> PRECISION_BITS;
        // Stryker disable next-line EqualityOperator: clamping 0 to 0 and 255 to 255 changes nothing (Pillow's clip8)
        const v = a < 0 ? 0 : a > 255 ? 255 : a;
        out[o + j] = v;
        out[plane + o + j] = v;
        out[2 * plane + o + j] = v;
      }
    }
  }
  return out;
}

/**
 * Pillow's NEAREST resize (ImagingScaleAffine): source index from an accumulated float coordinate,
 * `xo = a0 * 0.5`, then `xo += a0` per pixel, truncated.
 */
export function pillowNearestResizeCrop(img: RawImage, plan: CropPlan): Uint8Array {
  checkRaw(img, 'pillow nearest');
  const { crop } = plan;
  const cn = img.channels;
  const index = (inSize: number, outSize: number, first: number): Int32Array => {
    const a = inSize / outSize;
    const idx = new Int32Array(crop).fill(-1);
    let xo = a * 0.5;
    // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: both bounds only save work: past outSize xin >= inSize, and idx ignores writes past its end
    for (let x = 0; x < outSize && x < first + crop; x++) {
      // Stryker disable next-line ConditionalExpression,EqualityOperator,UnaryOperator: xo starts at a / 2 > 0 and only grows, so the negative branch is dead
      const xin = xo < 0 ? -1 : Math.trunc(xo);
      // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: xin is never negative, below inSize inside the loop, and idx (an Int32Array) ignores negative indices
      if (x >= first && xin >= 0 && xin < inSize) idx[x - first] = xin;
      xo += a;
    }
    return idx;
  };
  const xs = index(img.width, plan.resizedWidth, plan.left);
  const ys = index(img.height, plan.resizedHeight, plan.top);
  const out = new Uint8Array(3 * crop * crop);
  const plane = crop * crop;
  for (let i = 0; i < crop; i++) {
    // Stryker disable next-line ConditionalExpression: a row outside the image reads data[negative], undefined, stored as 0 like the skip leaves
    if (ys[i]! < 0) continue;
    const row = ys[i]! * img.width * cn;
    for (let j = 0; j < crop; j++) {
      if (xs[j]! < 0) continue;
      const p = row + xs[j]! * cn;
      const o = i * crop + j;
      out[o] = img.data[p]!;
      out[plane + o] = img.data[cn === 3 ? p + 1 : p]!;
      out[2 * plane + o] = img.data[cn === 3 ? p + 2 : p]!;
    }
  }
  return out;
}

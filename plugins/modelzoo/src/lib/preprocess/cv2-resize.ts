import type { CropPlan } from './geometry';
import { checkRaw, type RawImage } from './raw-image';

/**
 * OpenCV 4.x cv2.resize(..., INTER_LINEAR) for 8-bit images (resizeGeneric_ with HResizeLinear /
 * VResizeLinear), restricted to the crop window. Half-pixel centres, no antialiasing, edge replication,
 * coefficients as float32 then saturate_cast<short>(w * 2048) (round half to even), horizontal sums
 * kept as exact ints, vertical combine as in the SIMD kernel VResizeLinearVec_32s8u:
 *   ((b0 * (S0 >> 4)) >> 16) + ((b1 * (S1 >> 4)) >> 16) + 2) >> 2.
 * Known deviations (no cv2 here to check against): OpenCV finishes each destination row's last
 * (width*channels mod vector-width) bytes with the scalar rounding (sum + 2^21) >> 22, which can differ
 * by 1; those are the rightmost <= 10 pixels of a row, outside a 224 centre crop of a >= 256 image.
 * An exact 2x downscale uses INTER_AREA's fast path ((a+b+c+d+2)>>2) as OpenCV does.
 */

const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

interface LinearAxis {
  /** Per output position: first source index (second is index+1, clamped), -1 when outside. */
  index: Int32Array;
  next: Int32Array;
  w0: Int32Array;
  w1: Int32Array;
}

/** rint on a float32, i.e. round half to even (cvRound). */
function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function saturateShort(x: number): number {
  const r = roundEven(x);
  // Stryker disable next-line ConditionalExpression,EqualityOperator,UnaryOperator: x is fx * 2048 or (1 - fx) * 2048 with fx in [0, 1), so r is in [0, 2048] and neither bound is ever reached (OpenCV's saturate_cast kept for fidelity)
  return r < -32768 ? -32768 : r > 32767 ? 32767 : r;
}

export function cv2LinearAxis(inSize: number, outSize: number, first: number, n: number): LinearAxis {
  const f32 = Math.fround;
  // cv::resize: inv_scale = dsize/ssize, and resizeGeneric uses scale = 1/inv_scale (both double).
  const scale = 1 / (outSize / inSize);
  const index = new Int32Array(n).fill(-1);
  const next = new Int32Array(n);
  const w0 = new Int32Array(n);
  const w1 = new Int32Array(n);
  // Stryker disable next-line EqualityOperator: i <= n only adds writes at index n, past the end of the n-long Int32Arrays, which are ignored
  for (let i = 0; i < n; i++) {
    const dx = first + i;
    if (dx < 0 || dx >= outSize) continue;
    let fx = f32((dx + 0.5) * scale - 0.5);
    let sx = Math.floor(fx);
    fx = f32(fx - sx);
    if (sx < 0) {
      fx = 0;
      sx = 0;
    }
    if (sx >= inSize - 1) {
      fx = 0;
      sx = inSize - 1;
    }
    index[i] = sx;
    next[i] = Math.min(sx + 1, inSize - 1);
    w0[i] = saturateShort(f32(f32(1 - fx) * COEF_SCALE));
    w1[i] = saturateShort(f32(fx * COEF_SCALE));
  }
  return { index, next, w0, w1 };
}

/** Arithmetic shift right of a 32-bit product, as _mm_mulhi_epi16 does on int16 lanes. */
function mulHi16(a: number, b: number): number {
  return (a * b) >> 16;
}

export function cv2LinearResizeCrop(img: RawImage, plan: CropPlan): Uint8Array {
  checkRaw(img, 'cv2 resize');
  const { crop } = plan;
  const cn = img.channels;
  const out = new Uint8Array(3 * crop * crop);
  const plane = crop * crop;
  const src = img.data;
  const stride = img.width * cn;
  // Stryker disable next-line ConditionalExpression,BlockStatement: a fast path; skipped, the generic path at scale 1 has fx = dx exactly, weights 2048 / 0, and gives (4p + 2) >> 2 = p, the same copy
  if (plan.resizedWidth === img.width && plan.resizedHeight === img.height) {
    return copyCrop(img, plan);
  }
  // Stryker disable next-line ConditionalExpression,ArithmeticOperator,BlockStatement: a fast path, as in OpenCV ("INTER_AREA (fast) also is equal to INTER_LINEAR" here); skipped, the generic path at scale 2 has weights 1024 / 1024 and gives the same (a + b + c + d + 2) >> 2
  if (img.width === plan.resizedWidth * 2 && img.height === plan.resizedHeight * 2) {
    for (let i = 0; i < crop; i++) {
      const y = plan.top + i;
      if (
        y >= plan.resizedHeight ||
        // Stryker disable next-line ConditionalExpression: a row above the image (y <= -1) reads only negative indices (p + stride + cn + c < 0), undefined in a typed array, and (NaN + 2) >> 2 writes the same 0 as skipping
        y < 0
      )
        continue;
      for (let j = 0; j < crop; j++) {
        const x = plan.left + j;
        if (x < 0 || x >= plan.resizedWidth) continue;
        const p = 2 * y * stride + 2 * x * cn;
        // Stryker disable next-line EqualityOperator: out has exactly 3 planes, so c = 3 writes past its end, which a typed array ignores
        for (let c = 0; c < 3; c++) {
          const cc = cn === 3 ? c : 0;
          const v = src[p + cc]! + src[p + cn + cc]! + src[p + stride + cc]! + src[p + stride + cn + cc]!;
          out[c * plane + i * crop + j] = (v + 2) >> 2;
        }
      }
    }
    return out;
  }
  const hx = cv2LinearAxis(img.width, plan.resizedWidth, plan.left, crop);
  const vy = cv2LinearAxis(img.height, plan.resizedHeight, plan.top, crop);
  // Horizontal sums (scale 2048) for one source row over the crop columns.
  const rowSums = (y: number, dst: Int32Array) => {
    const r = y * stride;
    // Stryker disable next-line EqualityOperator: j = crop only writes dst[crop * cn + c], past the end of the crop * cn Int32Array
    for (let j = 0; j < crop; j++) {
      const sx = hx.index[j]!;
      // Stryker disable next-line ConditionalExpression: a column outside the resized image has weights 0 / 0, and its sum is never read (the output loop skips it)
      if (sx < 0) continue;
      const a = r + sx * cn;
      const b = r + hx.next[j]! * cn;
      const a0 = hx.w0[j]!;
      const a1 = hx.w1[j]!;
      // Stryker disable next-line EqualityOperator: c = cn writes dst[(j + 1) * cn], which column j + 1 overwrites next (or is never read, or is past the end)
      for (let c = 0; c < cn; c++) dst[j * cn + c] = src[a + c]! * a0 + src[b + c]! * a1;
    }
  };
  const s0 = new Int32Array(crop * cn);
  const s1 = new Int32Array(crop * cn);
  for (let i = 0; i < crop; i++) {
    const sy = vy.index[i]!;
    // Stryker disable next-line ConditionalExpression: a row outside the resized image has weights b0 = b1 = 0, so every pixel of it comes out (0 + 0 + 2) >> 2 = 0, as skipped
    if (sy < 0) continue;
    rowSums(sy, s0);
    rowSums(vy.next[i]!, s1);
    const b0 = vy.w0[i]!;
    const b1 = vy.w1[i]!;
    for (let j = 0; j < crop; j++) {
      // Stryker disable next-line ConditionalExpression: rowSums never writes the sums of a column outside the image, so they stay 0 and give (0 + 0 + 2) >> 2 = 0, as skipped
      if (hx.index[j]! < 0) continue;
      // Stryker disable next-line EqualityOperator: out has exactly 3 planes, so c = 3 writes past its end, which a typed array ignores
      for (let c = 0; c < 3; c++) {
        const k = j * cn + (cn === 3 ? c : 0);
        const v = (mulHi16(b0, s0[k]! >> 4) + mulHi16(b1, s1[k]! >> 4) + 2) >> 2;
        // Stryker disable next-line ConditionalExpression,EqualityOperator: with S <= 255 * 2048 and b0 + b1 <= 2049, each mulHi16 term is >= 0 and their sum <= 1020, so v is in [0, 255] (the clamp mirrors v_rshr_pack_u)
        out[c * plane + i * crop + j] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return out;
}

function copyCrop(img: RawImage, plan: CropPlan): Uint8Array {
  const { crop } = plan;
  const cn = img.channels;
  const plane = crop * crop;
  const out = new Uint8Array(3 * plane);
  for (let i = 0; i < crop; i++) {
    const y = plan.top + i;
    if (
      y >= img.height ||
      // Stryker disable next-line ConditionalExpression: a row above the image reads only negative indices, undefined in a typed array, stored as 0 as when skipped
      y < 0
    )
      continue;
    for (let j = 0; j < crop; j++) {
      const x = plan.left + j;
      if (x < 0 || x >= img.width) continue;
      const p = (y * img.width + x) * cn;
      // Stryker disable next-line EqualityOperator: out has exactly 3 planes, so c = 3 writes past its end, which a typed array ignores
      for (let c = 0; c < 3; c++) {
        out[c * plane + i * crop + j] = img.data[p + (cn === 3 ? c : 0)]!;
      }
    }
  }
  return out;
}

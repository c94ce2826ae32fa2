/**
 * An independent model of OpenCV 4.x cv2.resize(src, (dw, dh), interpolation=INTER_LINEAR) on 8-bit
 * images, written from OpenCV's resize.cpp (cv::resize / cv::hal::resize / resizeGeneric_ with
 * HResizeLinear and VResizeLinearVec_32s8u), not from the module under test:
 *
 * - dsize == ssize: a plain copy.
 * - scale_x = 1 / (dw / sw) (double). Both scales exactly 2 (|scale - saturate_cast<int>(scale)| <
 *   DBL_EPSILON): INTER_LINEAR becomes INTER_AREA's fast path, D = (a + b + c + d + 2) >> 2.
 * - Otherwise, per destination column: fx = (float)((dx + 0.5) * scale_x - 0.5); sx = cvFloor(fx);
 *   fx -= sx; sx < 0 -> (sx, fx) = (0, 0); sx >= sw - 1 -> (sx, fx) = (sw - 1, 0); coefficients
 *   saturate_cast<short>((1 - fx) * 2048) and saturate_cast<short>(fx * 2048) (cvRound: half to even).
 *   The same for rows.
 * - Horizontal pass: int sums S = src[sx] * a0 + src[sx + 1] * a1 (second tap clamped to the edge).
 * - Vertical pass (SIMD kernel): ((b0 * (S0 >> 4)) >> 16) + ((b1 * (S1 >> 4)) >> 16), then + 2 >> 2.
 *
 * Returns the full interleaved dw x dh x cn image; crops are taken from it afterwards.
 */
export interface Gray {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

/** cvRound of a float32 value: round to nearest, ties to even. */
export function rintEven(v: number): number {
  const fl = Math.floor(v);
  const diff = v - fl;
  if (diff > 0.5) return fl + 1;
  if (diff < 0.5) return fl;
  return fl % 2 === 0 ? fl : fl + 1;
}

interface Tap {
  i0: number;
  i1: number;
  c0: number;
  c1: number;
}

export function taps(src: number, dst: number): Tap[] {
  const scale = 1 / (dst / src);
  const out: Tap[] = [];
  for (let d = 0; d < dst; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (s < 0) {
      s = 0;
      f = 0;
    }
    if (s >= src - 1) {
      s = src - 1;
      f = 0;
    }
    out.push({ i0: s, i1: Math.min(s + 1, src - 1), c0: rintEven(Math.fround(Math.fround(1 - f) * 2048)), c1: rintEven(Math.fround(f * 2048)) });
  }
  return out;
}

export function opencvResizeLinear(img: Gray, dw: number, dh: number): Uint8Array {
  const { width: sw, height: sh, channels: cn, data } = img;
  const out = new Uint8Array(dw * dh * cn);
  const at = (x: number, y: number, c: number) => data[(y * sw + x) * cn + c]!;
  if (dw === sw && dh === sh) {
    out.set(data.subarray(0, out.length));
    return out;
  }
  const sx = 1 / (dw / sw);
  const sy = 1 / (dh / sh);
  if (sx === 2 && sy === 2) {
    for (let y = 0; y < dh; y++)
      for (let x = 0; x < dw; x++)
        for (let c = 0; c < cn; c++) {
          const sum = at(2 * x, 2 * y, c) + at(2 * x + 1, 2 * y, c) + at(2 * x, 2 * y + 1, c) + at(2 * x + 1, 2 * y + 1, c);
          out[(y * dw + x) * cn + c] = (sum + 2) >> 2;
        }
    return out;
  }
  const tx = taps(sw, dw);
  const ty = taps(sh, dh);
  const hsum = (x: number, y: number, c: number) => at(tx[x]!.i0, y, c) * tx[x]!.c0 + at(tx[x]!.i1, y, c) * tx[x]!.c1;
  for (let y = 0; y < dh; y++) {
    const t = ty[y]!;
    for (let x = 0; x < dw; x++)
      for (let c = 0; c < cn; c++) {
        const v0 = Math.floor((t.c0 * (hsum(x, t.i0, c) >> 4)) / 65536);
        const v1 = Math.floor((t.c1 * (hsum(x, t.i1, c) >> 4)) / 65536);
        out[(y * dw + x) * cn + c] = Math.min(255, Math.max(0, (v0 + v1 + 2) >> 2));
      }
  }
  return out;
}

/** The crop window of a resized image as three planes (grey replicated), zeros outside the image. */
export function cropPlanes(resized: Uint8Array, w: number, h: number, cn: number, left: number, top: number, crop: number): Uint8Array {
  const out = new Uint8Array(3 * crop * crop);
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < crop; i++)
      for (let j = 0; j < crop; j++) {
        const x = left + j;
        const y = top + i;
        if (x < 0 || y < 0 || x >= w || y >= h) continue;
        out[c * crop * crop + i * crop + j] = resized[(y * w + x) * cn + (cn === 3 ? c : 0)]!;
      }
  return out;
}

/** Deterministic pixels with strong local variation (a small LCG), so every tap and weight matters. */
export function noise(n: number, seed: number): Uint8Array {
  const d = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    d[i] = s >>> 24;
  }
  return d;
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cv2LinearAxis, cv2LinearResizeCrop } from '../../plugins/modelzoo/src/lib/preprocess/cv2-resize';
import type { CropPlan } from '../../plugins/modelzoo/src/lib/preprocess/geometry';
import type { RawImage } from '../../plugins/modelzoo/src/lib/preprocess/raw-image';
import { cropPlanes, noise, opencvResizeLinear, rintEven, taps } from '../helpers/mutation-preprocess-cv2-oracle';

const plan = (resizedWidth: number, resizedHeight: number, left: number, top: number, crop: number): CropPlan => ({ resizedWidth, resizedHeight, left, top, crop });
const plane = (out: Uint8Array, crop: number, c: number) => [...out.subarray(c * crop * crop, (c + 1) * crop * crop)];

test('3 -> 2 columns by hand: taps at 0.25 and 1.75, weights 1536/512; rows past the image stay zero', () => {
  // scale 1.5: dx 0 -> fx 0.25 (sx 0, weights 1536, 512), dx 1 -> fx 1.75 (sx 1, weights 512, 1536).
  // [0, 100, 200]: sums 51200 and 358400; >> 4, * 2048 >> 16 gives 100 and 700; (+ 2) >> 2 gives 25 and 175.
  const img: RawImage = { data: new Uint8Array([0, 100, 200]), width: 3, height: 1, channels: 1 };
  const out = cv2LinearResizeCrop(img, plan(2, 1, 0, 0, 2));
  for (let c = 0; c < 3; c++) assert.deepEqual(plane(out, 2, c), [25, 175, 0, 0], `plane ${c}`);
  const ax = cv2LinearAxis(3, 2, 0, 2);
  assert.deepEqual([[...ax.index], [...ax.next], [...ax.w0], [...ax.w1]], [[0, 1], [1, 2], [1536, 512], [512, 1536]]);
});

test('2x2 -> 3x3 RGB by hand: edge taps clamp, midpoints round half up, the centre averages four', () => {
  // scale 2/3: dx 0 -> fx -1/6 clamps to (0, 0); dx 1 -> fx 0.5 (1024, 1024); dx 2 -> fx 7/6 clamps to (1, 0).
  // With a b / c d: midpoints (x + y + 1) >> 1, centre (a + b + c + d + 2) >> 2.
  const px = [
    [0, 10, 200], [255, 11, 100],
    [100, 12, 0], [51, 13, 55],
  ];
  const img: RawImage = { data: new Uint8Array(px.flat()), width: 2, height: 2, channels: 3 };
  const out = cv2LinearResizeCrop(img, plan(3, 3, 0, 0, 3));
  assert.deepEqual(plane(out, 3, 0), [0, 128, 255, 50, 102, 153, 100, 76, 51]);
  assert.deepEqual(plane(out, 3, 1), [10, 11, 11, 11, 12, 12, 12, 13, 13]);
  assert.deepEqual(plane(out, 3, 2), [200, 150, 100, 100, 89, 78, 0, 28, 55]);
  // A window shifted one pixel up-left: the first row and column are outside the image (zeros).
  const shifted = cv2LinearResizeCrop(img, plan(3, 3, -1, -1, 3));
  assert.deepEqual(plane(shifted, 3, 0), [0, 0, 0, 0, 0, 128, 0, 50, 102]);
  // And one pixel down-right: the last row and column are past the image.
  assert.deepEqual(plane(cv2LinearResizeCrop(img, plan(3, 3, 1, 1, 3)), 3, 2), [89, 78, 0, 28, 55, 0, 0, 0, 0]);
});

test('weights round half to even (cvRound), not half up: 2049 -> 2048 puts fx * 2048 on k + 0.5', () => {
  // scale 1 + 1/2048: fx(dx) = dx + (dx + 0.5) / 2048, so fx * 2048 = dx + 0.5 exactly.
  const a = cv2LinearAxis(2049, 2048, 0, 5);
  assert.deepEqual([...a.index], [0, 1, 2, 3, 4]);
  assert.deepEqual([...a.w1], [0, 2, 2, 4, 4]);
  assert.deepEqual([...a.w0], [2048, 2046, 2046, 2044, 2044]);
  assert.deepEqual([rintEven(0.5), rintEven(1.5), rintEven(2.5), rintEven(2047.5), rintEven(2.4), rintEven(2.6)], [0, 2, 2, 2048, 2, 3]);
});

test('axis outside the resized image: positions before 0 and from outSize on are -1 with zero weights', () => {
  const a = cv2LinearAxis(2, 4, -1, 6);
  assert.deepEqual([...a.index], [-1, 0, 0, 0, 1, -1]);
  assert.deepEqual([...a.next], [0, 1, 1, 1, 1, 0]);
  assert.deepEqual([...a.w0], [0, 2048, 1536, 512, 2048, 0]);
  assert.deepEqual([...a.w1], [0, 0, 512, 1536, 0, 0]);
  // 3 -> 7: fx = (dx + 0.5) * 3/7 - 0.5 = -0.29, 0.14, 0.57, 1.0 (0.9999999999999998 is 1 as a float32),
  // 1.43, 1.86, 2.29; the first clamps to 0, the last to the last pixel with weight 0 on its (clamped) neighbour.
  const d = cv2LinearAxis(3, 7, 0, 7);
  assert.deepEqual([[...d.index], [...d.next]], [[0, 0, 0, 1, 1, 1, 2], [1, 1, 1, 2, 2, 2, 2]]);
  assert.deepEqual([d.w0[0], d.w1[0], d.w0[3], d.w1[3], d.w0[6], d.w1[6]], [2048, 0, 2048, 0, 2048, 0]);
  assert.deepEqual([...d.w1], taps(3, 7).map((t) => t.c1));
  assert.deepEqual([...d.w0], taps(3, 7).map((t) => t.c0));
  // 10 -> 3: fx 1.17, 4.5, 7.83.
  assert.deepEqual([...cv2LinearAxis(10, 3, 0, 3).index], [1, 4, 7]);
  assert.deepEqual([...cv2LinearAxis(10, 3, 0, 3).w1], [341, 1024, 1707]);
});

test('exact 2x downscale (INTER_AREA fast path): (a + b + c + d + 2) >> 2 per channel, grey replicated, crop outside is zero', () => {
  const rgb: RawImage = { data: noise(8 * 6 * 3, 7), width: 8, height: 6, channels: 3 };
  const want = (left: number, top: number, crop: number) => cropPlanes(opencvResizeLinear(rgb, 4, 3), 4, 3, 3, left, top, crop);
  assert.deepEqual(cv2LinearResizeCrop(rgb, plan(4, 3, 0, 0, 3)), want(0, 0, 3));
  assert.deepEqual(cv2LinearResizeCrop(rgb, plan(4, 3, -1, -1, 5)), want(-1, -1, 5));
  assert.deepEqual(cv2LinearResizeCrop(rgb, plan(4, 3, 2, 1, 3)), want(2, 1, 3));
  // By hand: a 2x2 grey block 1, 2, 3, 5 -> (11 + 2) >> 2 = 3 (the plain mean 2.75 rounds to 3; 1, 1, 1, 2 -> 1).
  const g: RawImage = { data: new Uint8Array([1, 2, 1, 1, 3, 5, 1, 2]), width: 4, height: 2, channels: 1 };
  const out = cv2LinearResizeCrop(g, plan(2, 1, 0, 0, 2));
  for (let c = 0; c < 3; c++) assert.deepEqual(plane(out, 2, c), [3, 1, 0, 0]);
});

test('identity size copies the crop window (zeros outside), grey or RGB', () => {
  const rgb: RawImage = { data: noise(5 * 4 * 3, 3), width: 5, height: 4, channels: 3 };
  for (const [l, t, c] of [[0, 0, 4], [-1, -2, 6], [1, 0, 3], [3, 2, 3]] as const) {
    assert.deepEqual(cv2LinearResizeCrop(rgb, plan(5, 4, l, t, c)), cropPlanes(rgb.data, 5, 4, 3, l, t, c), `${l},${t},${c}`);
  }
  const grey: RawImage = { data: new Uint8Array([1, 2, 3, 4, 5, 6]), width: 3, height: 2, channels: 1 };
  const out = cv2LinearResizeCrop(grey, plan(3, 2, 0, -1, 3));
  for (let c = 0; c < 3; c++) assert.deepEqual(plane(out, 3, c), [0, 0, 0, 1, 2, 3, 4, 5, 6]);
});

test('generic sizes against the OpenCV model: up, down, one axis 2x, one axis identity; windows inside and out', () => {
  const cases: [number, number, number, number, 1 | 3][] = [
    [7, 5, 4, 3, 3], // non-integer downscale
    [10, 8, 6, 5, 1],
    [3, 4, 7, 9, 3], // upscale
    [8, 5, 4, 3, 3], // width exactly 2x, height not: generic path
    [5, 8, 3, 4, 3], // height exactly 2x, width not
    [8, 6, 8, 3, 3], // width unchanged
    [6, 7, 3, 7, 1], // height unchanged, width 2x
    [31, 17, 12, 29, 3],
  ];
  for (const [sw, sh, dw, dh, cn] of cases) {
    const img: RawImage = { data: noise(sw * sh * cn, sw * 131 + sh), width: sw, height: sh, channels: cn };
    const full = opencvResizeLinear(img, dw, dh);
    const m = Math.max(dw, dh);
    for (const [l, t, c] of [[0, 0, m], [-2, -1, m + 3], [1, 2, 2], [dw - 2, dh - 2, 3]]) {
      assert.deepEqual(cv2LinearResizeCrop(img, plan(dw, dh, l!, t!, c!)), cropPlanes(full, dw, dh, cn, l!, t!, c!), `${sw}x${sh}x${cn} -> ${dw}x${dh} at ${l},${t} crop ${c}`);
    }
  }
});

test('a 300x200 photo-sized downscale to 64x43, centre crop 40: equal to the OpenCV model pixel for pixel', () => {
  const img: RawImage = { data: noise(300 * 200 * 3, 99), width: 300, height: 200, channels: 3 };
  assert.deepEqual(cv2LinearResizeCrop(img, plan(64, 43, 12, 2, 40)), cropPlanes(opencvResizeLinear(img, 64, 43), 64, 43, 3, 12, 2, 40));
});

test('exact 2x with the window inside the image: only the crop rows are written (the row after it is not)', () => {
  const rgb: RawImage = { data: noise(8 * 6 * 3, 11), width: 8, height: 6, channels: 3 };
  const full = opencvResizeLinear(rgb, 4, 3);
  for (const [l, t, c] of [[0, 0, 2], [1, 0, 2], [0, 1, 1], [2, 0, 1]] as const) {
    assert.deepEqual(cv2LinearResizeCrop(rgb, plan(4, 3, l, t, c)), cropPlanes(full, 4, 3, 3, l, t, c), `${l},${t},${c}`);
  }
});

test('bytes past width * height * channels are never read (checkRaw accepts a longer buffer), on every path', () => {
  const withTail = (w: number, h: number, cn: 1 | 3, seed: number): [RawImage, RawImage] => {
    const px = noise(w * h * cn, seed);
    const long = new Uint8Array(px.length + 200).fill(255);
    long.set(px);
    return [{ data: px, width: w, height: h, channels: cn }, { data: long, width: w, height: h, channels: cn }];
  };
  // Windows that run past the bottom and right of the resized image, which must come out as zeros.
  const cases: [number, number, 1 | 3, number, number][] = [
    [8, 6, 3, 4, 3], // exact 2x
    [8, 6, 1, 4, 3],
    [5, 4, 3, 5, 4], // identity
    [5, 4, 1, 5, 4],
    [7, 5, 3, 4, 3], // generic
  ];
  for (const [w, h, cn, dw, dh] of cases) {
    const [exact, long] = withTail(w, h, cn, w * 7 + cn);
    for (const [l, t, c] of [[0, 1, 4], [1, 0, 5], [0, dh - 1, 3], [-1, -1, 7]] as const) {
      const want = cropPlanes(opencvResizeLinear(exact, dw, dh), dw, dh, cn, l, t, c);
      assert.deepEqual(cv2LinearResizeCrop(long, plan(dw, dh, l, t, c)), want, `${w}x${h}x${cn} -> ${dw}x${dh} at ${l},${t} crop ${c}`);
    }
  }
});

test('a short pixel buffer is refused with the sizes', () => {
  const img: RawImage = { data: new Uint8Array(11), width: 2, height: 2, channels: 3 };
  assert.throws(() => cv2LinearResizeCrop(img, plan(3, 3, 0, 0, 3)), (e: Error) => e.message === 'cv2 resize: pixel buffer has 11 bytes, expected 12');
});

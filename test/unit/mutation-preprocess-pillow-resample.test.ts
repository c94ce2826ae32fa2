import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planCrop, type CropPlan } from '../../plugins/modelzoo/src/lib/preprocess/geometry';
import {
  pillowAxisCoeffs,
  pillowNearestResizeCrop,
  pillowResizeCrop,
  pillowResizeCropTaps,
  pillowTaps,
  type PillowFilter,
} from '../../plugins/modelzoo/src/lib/preprocess/pillow-resample';
import type { RawImage } from '../../plugins/modelzoo/src/lib/preprocess/raw-image';
import { assertShortRegionsRefused, cutImage, describeCase, loadOracle, sameBytes, seededImage } from '../helpers/mutation-preprocess-pillow-oracle';

/**
 * The JS resampler (pillow-resample.ts) against Pillow 9.4 and torchvision 0.14 byte for byte
 * (test/fixtures/mutation-preprocess-pillow/oracle.json): tiny RGB and grey images, down- and upscales,
 * one-axis and no-axis resizes, zero-padded and out-of-image windows, the three filters; Pillow's
 * fixed-point taps themselves; the source rectangle the taps read; the taps cache; the error messages.
 */
const oracle = loadOracle();
const FILTERS: PillowFilter[] = ['bilinear', 'bicubic'];

function run(img: RawImage, plan: CropPlan, filter: PillowFilter | 'nearest'): Uint8Array {
  return filter === 'nearest' ? pillowNearestResizeCrop(img, plan) : pillowResizeCrop(img, plan, filter);
}

test('bilinear and bicubic equal Pillow on every oracle case (RGB and grey, padded, upscaled, one axis)', () => {
  assert.ok(oracle.resample.length > 80);
  for (const c of oracle.resample) {
    for (const f of FILTERS) sameBytes(run(c.img, c.plan, f), c.expected[f], describeCase(c.img, c.plan, f));
  }
});

test('nearest equals Pillow on every oracle case', () => {
  for (const c of oracle.resample) {
    sameBytes(run(c.img, c.plan, 'nearest'), c.expected.nearest, describeCase(c.img, c.plan, 'nearest'));
  }
});

test('torchvision Resize(S) + CenterCrop(C) equals planCrop + the resampler for all three filters', () => {
  for (const c of oracle.pipeline) {
    const plan = planCrop(c.img.width, c.img.height, {
      resize: 'shorter',
      resizeSize: c.resizeSize,
      cropSize: c.cropSize,
      interpolation: 'bilinear',
      backend: 'pillow',
    });
    for (const f of ['bilinear', 'bicubic', 'nearest'] as const) {
      sameBytes(run(c.img, plan, f), c.expected[f], `pipeline ${describeCase(c.img, plan, f)}`);
    }
  }
});

test("pillowAxisCoeffs equals Pillow's fixed-point taps (precompute_coeffs + normalize_coeffs_8bpc)", () => {
  assert.ok(oracle.coeffs.length > 40);
  for (const c of oracle.coeffs) {
    const what = `${c.filter} ${c.inSize} -> ${c.outSize}`;
    const got = pillowAxisCoeffs(c.inSize, c.outSize, 0, c.outSize, c.filter);
    assert.equal(got.ksize, c.ksize, `${what}: ksize`);
    assert.deepEqual([...got.start], c.start, `${what}: start`);
    assert.deepEqual([...got.count], c.count, `${what}: count`);
    assert.deepEqual([...got.weights], c.weights, `${what}: weights`);
  }
});

test('pillowAxisCoeffs for a window: positions outside [0, outSize) get start -1 and no taps', () => {
  for (const c of oracle.coeffs.slice(0, 12)) {
    const first = -2;
    const n = c.outSize + 5;
    const got = pillowAxisCoeffs(c.inSize, c.outSize, first, n, c.filter);
    for (let i = 0; i < n; i++) {
      const xx = first + i;
      const inside = xx >= 0 && xx < c.outSize;
      assert.equal(got.start[i], inside ? c.start[xx] : -1, `${c.filter} ${c.inSize}->${c.outSize} position ${xx}`);
      assert.equal(got.count[i], inside ? c.count[xx] : 0);
      const w = [...got.weights.subarray(i * c.ksize, (i + 1) * c.ksize)];
      assert.deepEqual(w, inside ? c.weights.slice(xx * c.ksize, (xx + 1) * c.ksize) : new Array<number>(c.ksize).fill(0));
    }
  }
});

test('pillowTaps: identity taps on an axis that keeps its size; the source rectangle; the padded flag', () => {
  // 12x9 -> 12x6: the horizontal pass is skipped (Pillow's need_horizontal is false).
  const t = pillowTaps(12, 9, { resizedWidth: 12, resizedHeight: 6, left: 2, top: 1, crop: 4 }, 'bicubic');
  assert.equal(t.hx.ksize, 1);
  assert.deepEqual([...t.hx.start], [2, 3, 4, 5]);
  assert.deepEqual([...t.hx.count], [1, 1, 1, 1]);
  assert.deepEqual([...t.hx.weights], [1 << 22, 1 << 22, 1 << 22, 1 << 22]);
  assert.deepEqual([t.x0, t.x1], [2, 6]);
  const vy = pillowAxisCoeffs(9, 6, 1, 4, 'bicubic');
  assert.deepEqual(t.vy, vy);
  assert.equal(t.y0, vy.start[0]);
  assert.equal(t.y1, vy.start[3]! + vy.count[3]!);
  assert.equal(t.padded, false);
  assert.equal(t.crop, 4);

  // Identity rows too, with the window hanging over the top and right: those positions get no taps.
  const p = pillowTaps(6, 5, { resizedWidth: 4, resizedHeight: 5, left: 2, top: -1, crop: 3 }, 'bilinear');
  assert.deepEqual([...p.vy.start], [-1, 0, 1]);
  assert.deepEqual([...p.vy.count], [0, 1, 1]);
  assert.deepEqual([...p.vy.weights], [0, 1 << 22, 1 << 22]);
  assert.equal(p.hx.start[2], -1);
  assert.deepEqual([p.y0, p.y1], [0, 2]);
  assert.equal(p.padded, true);
  // Padded along one axis only.
  assert.equal(pillowTaps(6, 5, { resizedWidth: 6, resizedHeight: 3, left: 4, top: 0, crop: 3 }, 'bilinear').padded, true);
  assert.equal(pillowTaps(6, 5, { resizedWidth: 3, resizedHeight: 5, left: 0, top: 3, crop: 3 }, 'bilinear').padded, true);
  assert.equal(pillowTaps(6, 5, { resizedWidth: 3, resizedHeight: 5, left: 0, top: 2, crop: 3 }, 'bilinear').padded, false);

  // A window wholly outside the resized image reads nothing and is all zeros.
  const out = pillowTaps(16, 12, { resizedWidth: 11, resizedHeight: 8, left: 20, top: 3, crop: 4 }, 'bicubic');
  assert.deepEqual([out.x0, out.x1, out.padded], [0, 0, true]);
  assert.ok(out.y1 > out.y0, 'the rows are still those of the window');
  const img = seededImage(16, 12, 3, 5);
  sameBytes(pillowResizeCropTaps(img, out), new Uint8Array(48), 'window outside');
  const below = pillowTaps(16, 12, { resizedWidth: 11, resizedHeight: 8, left: 2, top: 9, crop: 4 }, 'bicubic');
  assert.deepEqual([below.y0, below.y1, below.padded], [0, 0, true]);
  // No source row is read, so no pixels are needed at all: an empty region anywhere will do.
  const none: RawImage = { data: new Uint8Array(0), width: 0, height: 0, channels: 3 };
  sameBytes(pillowResizeCropTaps(none, below), new Uint8Array(48), 'window below, no pixels');
  sameBytes(pillowResizeCropTaps(none, below, 5, 5), new Uint8Array(48), 'window below, no pixels at (5, 5)');
});

test('the taps read exactly [x0, x1) x [y0, y1): that rectangle alone gives the same bytes, one less fails', () => {
  const cases: [number, number, CropPlan, PillowFilter][] = [
    [40, 30, { resizedWidth: 21, resizedHeight: 16, left: 3, top: 2, crop: 12 }, 'bicubic'],
    [40, 30, { resizedWidth: 21, resizedHeight: 16, left: 5, top: 4, crop: 9 }, 'bilinear'],
    [16, 12, { resizedWidth: 40, resizedHeight: 30, left: 12, top: 9, crop: 12 }, 'bicubic'],
    [30, 24, { resizedWidth: 30, resizedHeight: 12, left: 7, top: 3, crop: 8 }, 'bilinear'],
    [24, 30, { resizedWidth: 12, resizedHeight: 30, left: 2, top: 9, crop: 8 }, 'bicubic'],
  ];
  let seed = 11;
  for (const [w, h, plan, f] of cases) {
    for (const channels of [3, 1] as const) {
      const img = seededImage(w, h, channels, seed++);
      const t = pillowTaps(w, h, plan, f);
      const whole = pillowResizeCrop(img, plan, f);
      sameBytes(pillowResizeCropTaps(img, t), whole, 'taps on the whole image');
      assert.ok(t.x0 > 0 && t.y0 > 0 && t.x1 < w && t.y1 < h, `${w}x${h}: the window reads an inner rectangle`);
      const region = cutImage(img, t.x0, t.y0, t.x1, t.y1);
      sameBytes(pillowResizeCropTaps(region, t, t.x0, t.y0), whole, `region of ${w}x${h}x${channels} ${f}`);
      // A larger region at another origin works too.
      const big = cutImage(img, t.x0 - 1, t.y0 - 1, t.x1 + 1, t.y1);
      sameBytes(pillowResizeCropTaps(big, t, t.x0 - 1, t.y0 - 1), whole, 'larger region');
      // Each side one pixel short, and a buffer a byte short of the claimed size.
      assertShortRegionsRefused(img, t, (r, ox, oy) => pillowResizeCropTaps(r, t, ox, oy));
    }
  }
});

test('the whole-image entry points check the pixel buffer against width x height x channels', () => {
  const plan: CropPlan = { resizedWidth: 4, resizedHeight: 3, left: 0, top: 0, crop: 3 };
  const img = seededImage(8, 6, 3, 3);
  const short = { ...img, data: img.data.subarray(0, 8 * 6 * 3 - 1) };
  assert.throws(() => pillowResizeCrop(short, plan, 'bilinear'), { message: 'pillow resample: pixel buffer has 143 bytes, expected 144' });
  assert.throws(() => pillowNearestResizeCrop(short, plan), { message: 'pillow nearest: pixel buffer has 143 bytes, expected 144' });
  const grey = seededImage(8, 6, 1, 3);
  assert.throws(() => pillowResizeCrop({ ...grey, data: grey.data.subarray(1) }, plan, 'bicubic'), /has 47 bytes, expected 48/);
});

test('the taps of one size and plan are computed once and shared; every part of the plan is in the key', () => {
  const plan: CropPlan = { resizedWidth: 7, resizedHeight: 5, left: 1, top: 0, crop: 4 };
  const a = pillowTaps(13, 9, plan, 'bilinear');
  assert.equal(pillowTaps(13, 9, { ...plan }, 'bilinear'), a);
  const variants: [number, number, CropPlan, PillowFilter][] = [
    [13, 9, plan, 'bicubic'],
    [14, 9, plan, 'bilinear'],
    [13, 10, plan, 'bilinear'],
    [13, 9, { ...plan, resizedWidth: 8 }, 'bilinear'],
    [13, 9, { ...plan, resizedHeight: 6 }, 'bilinear'],
    [13, 9, { ...plan, left: 2 }, 'bilinear'],
    [13, 9, { ...plan, top: 1 }, 'bilinear'],
    [13, 9, { ...plan, crop: 3 }, 'bilinear'],
  ];
  for (const [w, h, p, f] of variants) {
    const t = pillowTaps(w, h, p, f);
    assert.notEqual(t, a);
    assert.equal(pillowTaps(w, h, p, f), t, 'cached');
  }
});

test('the taps cache holds 512 sizes and then starts over', () => {
  // Distinct keys by the window's offset (cheap taps: one position, mostly outside the image).
  const plan = (left: number): [number, number, CropPlan, PillowFilter] => [3, 3, { resizedWidth: 2, resizedHeight: 2, left, top: 0, crop: 1 }, 'bilinear'];
  let next = 100_000;
  // Find a moment when the cache has just been cleared: a sentinel disappears when it is.
  const sentinel = plan(-7);
  let s = pillowTaps(...sentinel);
  let cleared = false;
  for (let i = 0; i < 600 && !cleared; i++) {
    pillowTaps(...plan(next++));
    const again = pillowTaps(...sentinel);
    cleared = again !== s;
    s = again;
  }
  assert.ok(cleared, 'the cache was cleared within 600 new sizes');
  // The cache now holds two entries (the size that cleared it and the sentinel): 510 more fill it.
  for (let i = 0; i < 510; i++) pillowTaps(...plan(next++));
  assert.equal(pillowTaps(...sentinel), s, 'still cached at 512 entries');
  pillowTaps(...plan(next++));
  assert.notEqual(pillowTaps(...sentinel), s, 'the 513th size starts the cache over');
});

test('grey images come out as three equal planes; RGB planes keep their channel', () => {
  const img = seededImage(10, 8, 1, 9);
  const plan: CropPlan = { resizedWidth: 7, resizedHeight: 5, left: 1, top: 1, crop: 3 };
  for (const f of ['bilinear', 'bicubic', 'nearest'] as const) {
    const out = run(img, plan, f);
    assert.deepEqual(out.subarray(0, 9), out.subarray(9, 18));
    assert.deepEqual(out.subarray(0, 9), out.subarray(18, 27));
    // The same image as RGB with R=G=B gives the same bytes.
    const rgb = new Uint8Array(img.data.length * 3);
    for (let i = 0; i < img.data.length; i++) rgb.fill(img.data[i]!, 3 * i, 3 * i + 3);
    sameBytes(run({ data: rgb, width: 10, height: 8, channels: 3 }, plan, f), out, `grey as RGB ${f}`);
  }
});

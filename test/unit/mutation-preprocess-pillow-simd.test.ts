import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CropPlan } from '../../plugins/modelzoo/src/lib/preprocess/geometry';
import { pillowResizeCropTaps, pillowTaps, type PillowFilter } from '../../plugins/modelzoo/src/lib/preprocess/pillow-resample';
import { pillowResizeCropSimd, simdAvailable } from '../../plugins/modelzoo/src/lib/preprocess/pillow-simd';
import { assertShortRegionsRefused, cutImage, describeCase, loadOracle, sameBytes, seededImage } from '../helpers/mutation-preprocess-pillow-oracle';

/**
 * The WebAssembly SIMD kernels (pillow-simd.ts) against Pillow 9.4's bytes
 * (test/fixtures/mutation-preprocess-pillow/oracle.json) and against the JS resampler on many random
 * small sizes: crops below, at and above 16 pixels and off multiples of 16 (the deinterleave's groups
 * and tail, the vertical pass's 16-byte chunks), regions at an offset, memory growth, refusals and errors.
 */
const oracle = loadOracle();
const FILTERS: PillowFilter[] = ['bilinear', 'bicubic'];

test('the SIMD kernels build and run here (else every image silently takes the JS path)', () => {
  assert.equal(simdAvailable(), true);
});

test('SIMD equals Pillow on every unpadded RGB oracle case', () => {
  let n = 0;
  for (const c of oracle.resample) {
    if (c.img.channels !== 3) continue;
    for (const f of FILTERS) {
      const taps = pillowTaps(c.img.width, c.img.height, c.plan, f);
      if (taps.padded) continue;
      sameBytes(pillowResizeCropSimd(c.img, taps), c.expected[f], `simd ${describeCase(c.img, c.plan, f)}`);
      n++;
    }
  }
  assert.ok(n >= 50, `${n} cases`);
});

test('SIMD equals the JS resampler on random sizes, crops 1..40, down- and upscales, one-axis resizes', () => {
  let s = 7;
  const rnd = (lo: number, hi: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (s % (hi - lo + 1));
  };
  const crops = [1, 2, 3, 5, 15, 16, 17, 21, 31, 32, 33, 40];
  for (let k = 0; k < 72; k++) {
    const crop = crops[k % crops.length]!;
    const w = rnd(1, 56);
    const h = rnd(1, 56);
    // The resized size: smaller or larger than the source, or (one axis in four) the same.
    const rw = k % 4 === 1 ? w : rnd(crop, crop + 24);
    const rh = k % 4 === 2 ? h : rnd(crop, crop + 24);
    if (rw < crop || rh < crop) continue;
    const plan: CropPlan = { resizedWidth: rw, resizedHeight: rh, left: rnd(0, rw - crop), top: rnd(0, rh - crop), crop };
    const img = seededImage(w, h, 3, k + 1);
    for (const f of FILTERS) {
      const taps = pillowTaps(w, h, plan, f);
      sameBytes(pillowResizeCropSimd(img, taps), pillowResizeCropTaps(img, taps), `random ${describeCase(img, plan, f)}`);
    }
  }
});

test('SIMD reads a region at an offset like the JS resampler (source pixel (0, 0) at (ox, oy))', () => {
  const cases: [number, number, CropPlan][] = [
    [60, 44, { resizedWidth: 33, resizedHeight: 24, left: 5, top: 4, crop: 19 }],
    [20, 14, { resizedWidth: 47, resizedHeight: 33, left: 9, top: 8, crop: 17 }],
    [48, 40, { resizedWidth: 48, resizedHeight: 21, left: 11, top: 3, crop: 13 }],
    [40, 48, { resizedWidth: 21, resizedHeight: 48, left: 3, top: 13, crop: 16 }],
  ];
  let seed = 101;
  for (const [w, h, plan] of cases) {
    const img = seededImage(w, h, 3, seed++);
    for (const f of FILTERS) {
      const t = pillowTaps(w, h, plan, f);
      const want = pillowResizeCropTaps(img, t);
      assert.ok(t.x0 > 0 && t.y0 > 0, describeCase(img, plan, f));
      sameBytes(pillowResizeCropSimd(img, t), want, `whole ${describeCase(img, plan, f)}`);
      sameBytes(pillowResizeCropSimd(cutImage(img, t.x0, t.y0, t.x1, t.y1), t, t.x0, t.y0), want, 'exact region');
      const ox = t.x0 - 1;
      const oy = Math.max(0, t.y0 - 2);
      sameBytes(pillowResizeCropSimd(cutImage(img, ox, oy, w, t.y1), t, ox, oy), want, 'wider region');
    }
  }
});

test('only the rows the taps read are copied in: a tall region around them costs nothing', () => {
  // 4 x 400,000 pixels (4.8 MB); the window reads three rows in the middle; the region starts 2 rows
  // above them and runs to the bottom (2.4 MB, more than the kernel memory holds).
  const img = seededImage(4, 400_000, 3, 31);
  const t = pillowTaps(4, 400_000, { resizedWidth: 3, resizedHeight: 400_000, left: 0, top: 200_002, crop: 3 }, 'bilinear');
  assert.deepEqual([t.y0, t.y1], [200_002, 200_005]);
  const oy = 200_000;
  const region = { ...img, data: img.data.subarray(oy * 4 * 3), height: img.height - oy };
  sameBytes(pillowResizeCropSimd(region, t, 0, oy), pillowResizeCropTaps(img, t), 'tall region');
});

test('SIMD declines grey input and windows that reach outside the resized image (the JS path does those)', () => {
  const plan: CropPlan = { resizedWidth: 9, resizedHeight: 9, left: 1, top: 1, crop: 6 };
  const grey = seededImage(12, 12, 1, 3);
  assert.equal(pillowResizeCropSimd(grey, pillowTaps(12, 12, plan, 'bilinear')), null);
  const rgb = seededImage(12, 12, 3, 3);
  for (const p of [
    { ...plan, left: -1 },
    { ...plan, top: -1 },
    { ...plan, left: 4 },
    { ...plan, top: 4 },
  ]) {
    const taps = pillowTaps(12, 12, p, 'bicubic');
    assert.equal(taps.padded, true);
    assert.equal(pillowResizeCropSimd(rgb, taps), null, JSON.stringify(p));
  }
  assert.notEqual(pillowResizeCropSimd(rgb, pillowTaps(12, 12, plan, 'bicubic')), null);
});

test('a region that does not cover the taps fails naming its size, origin, columns and rows', () => {
  const img = seededImage(40, 30, 3, 8);
  const t = pillowTaps(40, 30, { resizedWidth: 21, resizedHeight: 16, left: 3, top: 2, crop: 12 }, 'bicubic');
  const exact = cutImage(img, t.x0, t.y0, t.x1, t.y1);
  assert.notEqual(pillowResizeCropSimd(exact, t, t.x0, t.y0), null);
  assertShortRegionsRefused(img, t, (r, ox, oy) => pillowResizeCropSimd(r, t, ox, oy));
});

test('the kernel memory grows for a large window, then serves smaller and repeated calls unchanged', () => {
  // A 224 crop of a 300x260 image needs far more than the initial 64 KiB page.
  const big = seededImage(300, 260, 3, 21);
  const plan: CropPlan = { resizedWidth: 258, resizedHeight: 224, left: 17, top: 0, crop: 224 };
  for (const f of FILTERS) {
    const t = pillowTaps(300, 260, plan, f);
    sameBytes(pillowResizeCropSimd(big, t), pillowResizeCropTaps(big, t), `large ${f}`);
  }
  // Then a small one (the memory is now much larger than needed), many times over.
  const small = seededImage(20, 18, 3, 22);
  const t = pillowTaps(20, 18, { resizedWidth: 13, resizedHeight: 11, left: 1, top: 2, crop: 9 }, 'bicubic');
  const want = pillowResizeCropTaps(small, t);
  for (let i = 0; i < 24; i++) sameBytes(pillowResizeCropSimd(small, t), want, `small call ${i}`);
  // And a still larger one after that.
  const larger = seededImage(420, 300, 3, 23);
  const t2 = pillowTaps(420, 300, { resizedWidth: 341, resizedHeight: 256, left: 58, top: 16, crop: 224 }, 'bilinear');
  sameBytes(pillowResizeCropSimd(larger, t2), pillowResizeCropTaps(larger, t2), 'larger');
});

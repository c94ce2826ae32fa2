import { test } from 'node:test';
import assert from 'node:assert/strict';
import { centerCropOffset, planCrop, resizedSize, roundHalfEven } from '../../plugins/modelzoo/src/lib/preprocess/geometry';
import {
  geometryKey,
  PRESETS,
  resolvePreset,
  sameGeometry,
  type GeometrySpec,
  type PreprocessSpec,
} from '../../plugins/modelzoo/src/lib/preprocess/spec';
import { loadOracle } from '../helpers/mutation-preprocess-pillow-oracle';

/**
 * geometry.ts against torchvision 0.14 itself (Resize output sizes and CenterCrop offsets read off the
 * transforms, test/fixtures/mutation-preprocess-pillow/oracle.json), and spec.ts's presets, lookup and
 * geometry identity.
 */
const oracle = loadOracle();
const geom = (resize: 'shorter' | 'square', resizeSize: number, cropSize: number): GeometrySpec => ({
  resize,
  resizeSize,
  cropSize,
  interpolation: 'bilinear',
  backend: 'pillow',
});
// torchvision's zero-pad offset can be 0 where ours is -0 (same pixels); compare as numbers.
const num = (v: number) => v + 0;

test('planCrop equals torchvision Resize + CenterCrop for every oracle size (ties, padding, square, tiny)', () => {
  assert.ok(oracle.geometry.length > 600);
  for (const c of oracle.geometry) {
    const p = planCrop(c.w, c.h, geom(c.resize, c.resizeSize, c.cropSize));
    const what = `${c.w}x${c.h} ${c.resize}${c.resizeSize} crop${c.cropSize}`;
    assert.deepEqual(
      { ...p, left: num(p.left), top: num(p.top) },
      c.plan,
      what,
    );
    assert.deepEqual(resizedSize(c.w, c.h, { resize: c.resize, resizeSize: c.resizeSize }), {
      width: c.plan.resizedWidth,
      height: c.plan.resizedHeight,
    }, what);
  }
});

test('resizedSize keeps the orientation: the short side gets the size, portrait and landscape alike', () => {
  const g = { resize: 'shorter' as const, resizeSize: 10 };
  assert.deepEqual(resizedSize(30, 20, g), { width: 15, height: 10 });
  assert.deepEqual(resizedSize(20, 30, g), { width: 10, height: 15 });
  assert.deepEqual(resizedSize(7, 7, g), { width: 10, height: 10 });
  assert.deepEqual(resizedSize(1, 3, g), { width: 10, height: 30 });
  assert.deepEqual(resizedSize(3, 1, g), { width: 30, height: 10 });
  assert.deepEqual(resizedSize(30, 20, { resize: 'square', resizeSize: 12 }), { width: 12, height: 12 });
});

test('resizedSize refuses empty or non-numeric sizes with the size in the message', () => {
  const g = { resize: 'shorter' as const, resizeSize: 256 };
  for (const [w, h] of [[0, 10], [10, 0], [0, 0], [-3, 10], [10, -3], [NaN, 10], [10, NaN]] as const) {
    assert.throws(() => resizedSize(w, h, g), { message: `resizedSize: invalid image size ${w}x${h}` });
    assert.throws(() => planCrop(w, h, geom('shorter', 256, 224)), { message: `resizedSize: invalid image size ${w}x${h}` });
  }
  // The square resize checks too, although it ignores the size.
  assert.throws(() => resizedSize(0, 5, { resize: 'square', resizeSize: 8 }), /invalid image size 0x5/);
  assert.deepEqual(resizedSize(1, 1, g), { width: 256, height: 256 });
});

test('planCrop refuses non-integer or non-positive resize and crop sizes, naming the field', () => {
  for (const bad of [0, -1, 2.5, NaN]) {
    assert.throws(() => planCrop(10, 10, geom('shorter', bad, 4)), { message: `geometry: invalid resizeSize ${bad}` });
    assert.throws(() => planCrop(10, 10, geom('shorter', 8, bad)), { message: `geometry: invalid cropSize ${bad}` });
  }
  // 1 is the smallest valid size for both.
  assert.deepEqual(planCrop(10, 6, geom('shorter', 1, 1)), { resizedWidth: 1, resizedHeight: 1, left: 0, top: 0, crop: 1 });
  assert.deepEqual(planCrop(6, 12, geom('shorter', 3, 1)), { resizedWidth: 3, resizedHeight: 6, left: 1, top: 2, crop: 1 });
});

test('roundHalfEven is Python 3 round(): ties to even on both signs, everything else to nearest', () => {
  const cases: [number, number][] = [
    [0, 0], [0.5, 0], [1.5, 2], [2.5, 2], [3.5, 4], [-1.5, -2], [-2.5, -2], [-3.5, -4], [-0.4, 0], [1.49, 1], [1.51, 2],
    [7, 7], [-7, -7], [2.4, 2], [2.6, 3], [-2.6, -3], [101.5, 102], [100.5, 100],
  ];
  for (const [x, want] of cases) assert.equal(num(roundHalfEven(x)), want, `round(${x})`);
});

test('centerCropOffset: round-half-even centring, and (crop - size) // 2 of zero padding when larger', () => {
  assert.equal(centerCropOffset(11, 4), 4); // 3.5 -> 4
  assert.equal(centerCropOffset(9, 4), 2); // 2.5 -> 2
  assert.equal(centerCropOffset(10, 4), 3);
  assert.equal(centerCropOffset(4, 4), 0);
  assert.equal(centerCropOffset(4, 7), -1); // pad 1 left, 2 right
  assert.equal(centerCropOffset(4, 8), -2);
  assert.equal(centerCropOffset(1, 10), -4);
  assert.equal(num(centerCropOffset(4, 5)), 0);
});

test('the presets are the documented pipelines of each framework', () => {
  const imagenet = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  const pil = (interpolation: string) => ({ resize: 'shorter', resizeSize: 256, interpolation, backend: 'pillow', cropSize: 224 });
  const cv2 = { resize: 'shorter', resizeSize: 256, interpolation: 'bilinear', backend: 'cv2', cropSize: 224 };
  assert.deepEqual(Object.keys(PRESETS), ['torchvision', 'timm', 'mmcls', 'keras', 'ppcls']);
  assert.deepEqual(PRESETS['torchvision'], {
    name: 'torchvision',
    geometry: pil('bilinear'),
    normalize: { scale: 1 / 255, ...imagenet, channelOrder: 'RGB' },
  });
  assert.deepEqual(PRESETS['timm'], {
    name: 'timm',
    geometry: pil('bicubic'),
    normalize: { scale: 1 / 255, ...imagenet, channelOrder: 'RGB' },
  });
  assert.deepEqual(PRESETS['mmcls'], {
    name: 'mmcls',
    geometry: cv2,
    normalize: { scale: 1, mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375], channelOrder: 'RGB' },
  });
  assert.deepEqual(PRESETS['keras'], {
    name: 'keras',
    geometry: pil('bilinear'),
    normalize: { scale: 1 / 127.5, mean: [1, 1, 1], std: [1, 1, 1], channelOrder: 'RGB' },
  });
  assert.deepEqual(PRESETS['ppcls'], {
    name: 'ppcls',
    geometry: cv2,
    normalize: { scale: 1 / 255, ...imagenet, channelOrder: 'RGB' },
  });
});

test('resolvePreset: names resolve to the preset, specs pass through, unknown names list the known ones', () => {
  for (const name of Object.keys(PRESETS)) assert.equal(resolvePreset(name), PRESETS[name]);
  const own: PreprocessSpec = { name: 'mine', geometry: geom('square', 8, 8), normalize: PRESETS['keras']!.normalize };
  assert.equal(resolvePreset(own), own);
  assert.equal(resolvePreset(own, 'x'), own);
  assert.throws(() => resolvePreset('tv'), {
    message: "preprocess: unknown preprocessing preset 'tv' (known: torchvision, timm, mmcls, keras, ppcls)",
  });
  assert.throws(() => resolvePreset('', 'vamc-build'), {
    message: "vamc-build: unknown preprocessing preset '' (known: torchvision, timm, mmcls, keras, ppcls)",
  });
});

test('geometryKey names every geometric field; sameGeometry tells any difference apart', () => {
  const tv = PRESETS['torchvision']!.geometry;
  assert.equal(geometryKey(tv), 'pillow-bilinear-shorter256-crop224');
  assert.equal(geometryKey(PRESETS['mmcls']!.geometry), 'cv2-bilinear-shorter256-crop224');
  assert.equal(geometryKey(geom('square', 7, 5)), 'pillow-bilinear-square7-crop5');
  // Same geometry, different normalization: one prepared dataset.
  assert.equal(sameGeometry(tv, PRESETS['keras']!.geometry), true);
  assert.equal(sameGeometry(tv, { ...tv }), true);
  for (const other of [
    { ...tv, backend: 'cv2' as const },
    { ...tv, interpolation: 'bicubic' as const },
    { ...tv, resize: 'square' as const },
    { ...tv, resizeSize: 232 },
    { ...tv, cropSize: 256 },
  ]) {
    assert.equal(sameGeometry(tv, other), false, geometryKey(other));
  }
});

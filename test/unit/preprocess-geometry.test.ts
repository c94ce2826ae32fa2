import { test } from 'node:test';
import assert from 'node:assert/strict';
import { centerCropOffset, planCrop, resizedSize, roundHalfEven } from '../../plugins/modelzoo/src/lib/preprocess/geometry';
import { PRESETS } from '../../plugins/modelzoo/src/lib/preprocess/spec';

test('Resize(256) long side truncates size*long/short like int() in Python', () => {
  const g = { resize: 'shorter' as const, resizeSize: 256 };
  // 256 * 500 / 375 = 341.33 -> 341; 256 * 333 / 500 = 170.496 -> 256 short, long from the other ratio.
  assert.deepEqual(resizedSize(500, 375, g), { width: 341, height: 256 });
  assert.deepEqual(resizedSize(375, 500, g), { width: 256, height: 341 });
  // 256 * 500 / 333 = 384.38 -> 384
  assert.deepEqual(resizedSize(333, 500, g), { width: 256, height: 384 });
  // Exactly representable ratio: 256 * 512 / 256 = 512 (no off-by-one from float error).
  assert.deepEqual(resizedSize(256, 512, g), { width: 256, height: 512 });
  // Square images and images already at 256.
  assert.deepEqual(resizedSize(500, 500, g), { width: 256, height: 256 });
  assert.deepEqual(resizedSize(256, 300, g), { width: 256, height: 300 });
  // Upscaling a small image.
  assert.deepEqual(resizedSize(200, 150, g), { width: 341, height: 256 });
  assert.deepEqual(resizedSize(640, 480, { resize: 'square', resizeSize: 256 }), { width: 256, height: 256 });
});

test('round half to even matches Python 3 round()', () => {
  assert.equal(roundHalfEven(0.5), 0);
  assert.equal(roundHalfEven(1.5), 2);
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(58.5), 58);
  assert.equal(roundHalfEven(59.5), 60);
  assert.equal(roundHalfEven(2.4), 2);
  assert.equal(roundHalfEven(2.6), 3);
});

test('CenterCrop offsets: int(round((size - crop) / 2.0)), zero-padding when the crop is larger', () => {
  assert.equal(centerCropOffset(341, 224), 58); // 58.5 -> 58 (even), not 59
  assert.equal(centerCropOffset(343, 224), 60); // 59.5 -> 60
  assert.equal(centerCropOffset(256, 224), 16);
  assert.equal(centerCropOffset(224, 224), 0);
  // torchvision pads left by (crop - size) // 2 before cropping at 0.
  assert.equal(centerCropOffset(200, 224), -12);
  assert.equal(centerCropOffset(201, 224), -11);
  const p = planCrop(500, 375, PRESETS['torchvision']!.geometry);
  assert.deepEqual(p, { resizedWidth: 341, resizedHeight: 256, left: 58, top: 16, crop: 224 });
  assert.throws(() => planCrop(0, 10, PRESETS['torchvision']!.geometry), /invalid image size/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cv2LinearAxis } from '../../plugins/modelzoo/src/lib/preprocess/cv2-resize';
import { resizeCrop } from '../../plugins/modelzoo/src/lib/preprocess/preprocess';
import type { GeometrySpec } from '../../plugins/modelzoo/src/lib/preprocess/spec';

const g = (size: number, crop: number): GeometrySpec => ({ resize: 'shorter', resizeSize: size, interpolation: 'bilinear', backend: 'cv2', cropSize: crop });

test('cv2 INTER_LINEAR taps: half-pixel centres, edge clamping, weights in 1/2048', () => {
  // 2 -> 4 upscale: centres map to -0.25, 0.25, 0.75, 1.25 in the source.
  const a = cv2LinearAxis(2, 4, 0, 4);
  assert.deepEqual([...a.index], [0, 0, 0, 1]);
  assert.deepEqual([...a.w1], [0, 512, 1536, 0]); // clamped at both edges
  for (let i = 0; i < 4; i++) assert.equal(a.w0[i]! + a.w1[i]!, 2048);
});

test('cv2 upscale of a two-pixel ramp gives the bilinear values at quarter positions', () => {
  // 2x2 grey with columns [0, 255] -> 4x4.
  const img = { data: new Uint8Array([0, 255, 0, 255]), width: 2, height: 2, channels: 1 as const };
  const out = resizeCrop(img, g(4, 4));
  // Row of the R plane: 0, 255*0.25, 255*0.75, 255 rounded -> 0, 64, 191, 255 (what cv2.resize returns).
  assert.deepEqual([...out.subarray(0, 4)], [0, 64, 191, 255]);
  // Grey replicates into G and B planes.
  assert.deepEqual([...out.subarray(16, 20)], [0, 64, 191, 255]);
});

test('cv2 exact 2x downscale averages 2x2 blocks (OpenCV switches to INTER_AREA)', () => {
  const w = 8;
  const data = new Uint8Array(w * w * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 256;
  const out = resizeCrop({ data, width: w, height: w, channels: 3 }, g(4, 4));
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 4; x++) {
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number) => data[(yy * w + xx) * 3 + c]!;
        const sum = at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1);
        assert.equal(out[c * 16 + y * 4 + x], (sum + 2) >> 2);
      }
    }
  }
});

test('cv2 downscale of a constant image stays constant (weights sum to one, no antialias drift)', () => {
  const data = new Uint8Array(300 * 200 * 3).fill(173);
  const out = resizeCrop({ data, width: 300, height: 200, channels: 3 }, g(64, 48));
  assert.ok(out.every((v) => v === 173));
});

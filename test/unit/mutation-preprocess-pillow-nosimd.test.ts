import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pillowTaps } from '../../plugins/modelzoo/src/lib/preprocess/pillow-resample';
import { pillowResizeCropSimd, simdAvailable } from '../../plugins/modelzoo/src/lib/preprocess/pillow-simd';
import { seededImage } from '../helpers/mutation-preprocess-pillow-oracle';

/**
 * Where WebAssembly (SIMD) is missing the kernels are unavailable and pillowResizeCropSimd returns null
 * (callers fall back to the JS resampler); the decision is made once per process. A file of its own: the
 * kernels are built once per module instance.
 */
test('without WebAssembly SIMD: unavailable, the SIMD path returns null, and the decision is kept', () => {
  const g = globalThis as unknown as { WebAssembly: unknown };
  const real = g.WebAssembly;
  let built = 0;
  g.WebAssembly = {
    Module: class {
      constructor() {
        built++;
        throw new Error('CompileError: SIMD unsupported');
      }
    },
    Instance: class {},
  };
  try {
    assert.equal(simdAvailable(), false);
    const img = seededImage(12, 10, 3, 1);
    const taps = pillowTaps(12, 10, { resizedWidth: 8, resizedHeight: 7, left: 1, top: 1, crop: 5 }, 'bilinear');
    assert.equal(taps.padded, false);
    assert.equal(pillowResizeCropSimd(img, taps), null);
    assert.equal(built, 1);
  } finally {
    g.WebAssembly = real;
  }
  // WebAssembly is back, but the process already decided: no second attempt.
  assert.equal(simdAvailable(), false);
  assert.equal(built, 1);
});

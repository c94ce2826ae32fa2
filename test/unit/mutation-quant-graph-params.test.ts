import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WEIGHT_MIN_LEVELS,
  WEIGHT_SEARCH_MAX,
  activationParams,
  quantizeBias,
  quantizeWeight,
  weightScale,
} from '../../plugins/modelzoo/src/lib/quant/qdq';

// The numeric core of the QDQ builder (quant/qdq.ts) against hand-computed values: uint8/int8 activation
// parameters, per-channel int8 weight scales (max|w| / k, k in [64, 127]) and int32 biases.

const f = Math.fround;
const pad = (vals: number[], n: number) => Float32Array.from([...vals, ...new Array<number>(n - vals.length).fill(0)]);

test('activationParams: uint8 and int8 affine parameters of a range straddling zero', () => {
  const s = f(4 / 255);
  assert.deepEqual(activationParams({ lo: -1, hi: 3 }, 'uint8'), { scale: s, zeroPoint: 64, type: 'uint8', range: { lo: -1, hi: 3 } });
  // int8: the same grid shifted by 128.
  assert.deepEqual(activationParams({ lo: -1, hi: 3 }, 'int8'), { scale: s, zeroPoint: -64, type: 'int8', range: { lo: -1, hi: 3 } });
  // [-3, 1]: zero at 3/4 of the grid, 191.25 -> 191.
  assert.equal(activationParams({ lo: -3, hi: 1 }, 'uint8').zeroPoint, 191);
  assert.equal(activationParams({ lo: -3, hi: 1 }, 'int8').zeroPoint, 63);
});

test('activationParams: the range always contains zero (exact zero for padding and ReLU)', () => {
  // A positive range starts at 0: zero point 0 (uint8) / -128 (int8).
  assert.deepEqual(activationParams({ lo: 0.5, hi: 2 }, 'uint8'), { scale: f(2 / 255), zeroPoint: 0, type: 'uint8', range: { lo: 0, hi: 2 } });
  assert.deepEqual(activationParams({ lo: 0.5, hi: 2 }, 'int8'), { scale: f(2 / 255), zeroPoint: -128, type: 'int8', range: { lo: 0, hi: 2 } });
  // A negative range ends at 0: zero point at the top of the grid.
  assert.deepEqual(activationParams({ lo: -3, hi: -1 }, 'uint8'), { scale: f(3 / 255), zeroPoint: 255, type: 'uint8', range: { lo: -3, hi: 0 } });
  assert.deepEqual(activationParams({ lo: -3, hi: -1 }, 'int8'), { scale: f(3 / 255), zeroPoint: 127, type: 'int8', range: { lo: -3, hi: 0 } });
  // A scale is a float32 (it is stored as one).
  const p = activationParams({ lo: 0, hi: 1 }, 'uint8');
  assert.equal(p.scale, f(1 / 255));
  assert.notEqual(p.scale, 1 / 255);
});

test('activationParams: a constant-zero tensor gets scale 1 (never 0 or NaN)', () => {
  assert.deepEqual(activationParams({ lo: 0, hi: 0 }, 'uint8'), { scale: 1, zeroPoint: 0, type: 'uint8', range: { lo: 0, hi: 0 } });
  assert.deepEqual(activationParams({ lo: 0, hi: 0 }, 'int8'), { scale: 1, zeroPoint: -128, type: 'int8', range: { lo: 0, hi: 0 } });
});

test('activationParams: zero points stay on the grid for every split of the range', () => {
  for (let j = 0; j <= 64; j++) {
    const lo = -j / 16;
    const hi = (64 - j) / 16;
    for (const type of ['uint8', 'int8'] as const) {
      const p = activationParams({ lo, hi }, type);
      const qmin = type === 'uint8' ? 0 : -128;
      assert.equal(p.scale, f(4 / 255));
      assert.ok(p.zeroPoint >= qmin && p.zeroPoint <= qmin + 255, `${type} [${lo}, ${hi}]: ${p.zeroPoint}`);
      // j = 32 is the tie 127.5: the float32 scale is a hair above 4/255, so it rounds down.
      assert.equal(p.zeroPoint, qmin + (j === 32 ? 127 : Math.round((j / 64) * 255)), `${type} [${lo}, ${hi}]`);
    }
  }
});

test('weightScale: an all-zero (or NaN-max) channel gets scale 1', () => {
  assert.equal(weightScale(new Float32Array(3), 0), 1);
  assert.equal(weightScale(Float32Array.of(1), NaN), 1);
  assert.equal(weightScale(Float32Array.of(-1), -1), 1);
});

test('weightScale: the finest k whose grid holds every weight, down to k = 64', () => {
  assert.equal(WEIGHT_MIN_LEVELS, 64);
  assert.equal(WEIGHT_SEARCH_MAX, 64);
  // Already on the 1/127 grid.
  assert.equal(weightScale(Float32Array.from([1, -50 / 127]), 1), f(1 / 127));
  // 0.37 lies on the k = 100 grid only (37 steps); no k in 101..127 comes within 1e-3 of a step.
  assert.equal(weightScale(Float32Array.from([1, 0.37]), 1), f(1 / 100));
  // 1/64 lies only on the k = 64 grid; 65 weights, so no least-squares fallback could find it.
  assert.equal(weightScale(pad([1, 1 / 64], 65), 1), f(1 / 64));
  // Negative maximum: max|w| counts.
  assert.equal(weightScale(pad([-1, 0.37], 65), 1), f(1 / 100));
});

test('weightScale: a grid match tolerates 1e-3 of a step, not more', () => {
  // 65 weights (no least squares): on grid -> 1/100, off grid -> the textbook 1/127.
  assert.equal(weightScale(pad([1, 0.370009], 65), 1), f(1 / 100));
  assert.equal(weightScale(pad([1, 0.370011], 65), 1), f(1 / 127));
  assert.equal(weightScale(pad([1, 0.369991], 65), 1), f(1 / 100));
  assert.equal(weightScale(pad([1, 0.369989], 65), 1), f(1 / 127));
});

/** Least squares over k in [64, 127], ties to the larger k (finer step), without early exits. */
function lsOracle(values: Float32Array, max: number): number {
  let best = 127;
  let bestErr = Infinity;
  for (let k = 127; k >= 64; k--) {
    const s = f(max / k);
    let e = 0;
    for (const v of values) e += (v - s * Math.round(v / s)) ** 2;
    if (e < bestErr) [best, bestErr] = [k, e];
  }
  return f(max / best);
}

test('weightScale: off-grid channels of <= 64 weights take the least-squares k; larger ones max/127', () => {
  // 0.2071 is on no grid; least squares picks k = 111.
  const small = Float32Array.from([1, 0.2071]);
  assert.equal(weightScale(small, 1), f(1 / 111));
  assert.equal(weightScale(small, 1), lsOracle(small, 1));
  // Exactly 64 weights still get the search; 65 get max/127.
  assert.equal(weightScale(pad([1, 0.2071], 64), 1), f(1 / 111));
  assert.equal(weightScale(pad([1, 0.2071], 65), 1), f(1 / 127));
  // A few more off-grid channels, each against the oracle.
  for (const vals of [[1, 0.4142], [0.8, -0.123, 0.31], [2, 0.777, -1.3, 0.05], [1, 0.3333, 0.6667, -0.1]]) {
    const a = Float32Array.from(vals);
    const m = Math.max(...vals.map(Math.abs));
    const got = weightScale(a, m);
    assert.equal(got, lsOracle(a, m), `${vals}`);
    const k = Math.round(m / got);
    assert.ok(k >= 64 && k <= 127, `${vals}: k ${k}`);
  }
});

test('weightScale: least-squares ties go to the finer step', () => {
  // max 0.75 is exact on the k = 96 and k = 64 grids only; 1/512 rounds to 0 on every grid, so both
  // have the same error (1/512)^2 and the finer k = 96 wins.
  const vals = Float32Array.from([0.75, 1 / 512]);
  assert.equal(weightScale(vals, 0.75), 0.75 / 96);
  assert.equal(lsOracle(vals, 0.75), 0.75 / 96);
});

test('quantizeWeight: Conv per channel along axis 0, each channel on its own exact grid', () => {
  const w = Float32Array.from([1, -0.5, 0.25, 0.75, -2, 1]);
  const q = quantizeWeight(w, [3, 2, 1, 1], 0, true);
  assert.equal(q.axis, 0);
  // [1, -0.5] and [-2, 1] sit on k = 126 (0.5 = 63 steps); [0.25, 0.75] on k = 126 (42 and 126 steps).
  assert.deepEqual(Array.from(q.scales), [f(1 / 126), f(0.75 / 126), f(2 / 126)]);
  assert.deepEqual(Array.from(q.data), [126, -63, 42, 126, -126, 63]);
  // Per tensor: one scale, max 2; 0.25 = 2/8 needs k a multiple of 8: k = 120.
  const t = quantizeWeight(w, [3, 2, 1, 1], 0, false);
  assert.deepEqual(Array.from(t.scales), [f(2 / 120)]);
  assert.deepEqual(Array.from(t.data), [60, -30, 15, 45, -120, 60]);
  assert.equal(t.axis, 0);
});

test('quantizeWeight: spatial kernels (inner size > 1) group by output channel', () => {
  // [2 out, 1 in, 2, 2]: channel 0 = first four weights, channel 1 = last four.
  const w = Float32Array.from([1, 0.5, -0.25, 0, 0.2, -0.4, 0.1, 0.3]);
  const q = quantizeWeight(w, [2, 1, 2, 2], 0, true);
  // Channel 0: max 1, 0.25 needs k % 4 == 0 -> 124. Channel 1: max 0.4, 0.1 = max/4 -> 124.
  assert.deepEqual(Array.from(q.scales), [f(1 / 124), f(0.4 / 124)]);
  assert.deepEqual(Array.from(q.data), [124, 62, -31, 0, 62, -124, 31, 93]);
});

test('quantizeWeight: Gemm [K, N] (transB = 0) per channel along axis 1', () => {
  // Rows are K, columns the 3 output channels: [1, 0.5], [2, -1], [-4, 1].
  const w = Float32Array.from([1, 2, -4, 0.5, -1, 1]);
  const q = quantizeWeight(w, [2, 3], 1, true);
  assert.equal(q.axis, 1);
  assert.deepEqual(Array.from(q.scales), [f(1 / 126), f(2 / 126), f(4 / 124)]);
  assert.deepEqual(Array.from(q.data), [126, 126, -124, 63, -63, 31]);
});

test('quantizeWeight: a bias too large for int32 at input x weight scale raises that channel only', () => {
  // Channel 0 has tiny weights and a -1000 bias: at input scale 1e-3 it needs 1000 / (1e-3 * (2^31 - 2)).
  const need = 1000 / (0.001 * (2 ** 31 - 2));
  const w = Float32Array.from([1e-6, -1e-6, 1, 0.5]);
  const q = quantizeWeight(w, [2, 2], 0, true, { values: Float32Array.from([-1000, 0.1]), inputScale: 0.001 });
  assert.deepEqual(Array.from(q.scales), [f(need), f(1 / 126)]);
  assert.deepEqual(Array.from(q.data), [0, 0, 126, 63]);
  // Without the bias, channel 0 keeps its own grid.
  assert.deepEqual(Array.from(quantizeWeight(w, [2, 2], 0, true).scales), [f(1e-6 / 127), f(1 / 126)]);
  // A bias that fits changes nothing.
  const fits = quantizeWeight(w, [2, 2], 0, true, { values: Float32Array.from([1e-3, 0.1]), inputScale: 0.001 });
  assert.deepEqual(Array.from(fits.scales), [f(1e-6 / 127), f(1 / 126)]);
  // Per tensor: the largest bias of any channel counts.
  const t = quantizeWeight(Float32Array.from([1e-6, -1e-6, 2e-6, 1e-6]), [2, 2], 0, false, {
    values: Float32Array.from([0.1, -1000]),
    inputScale: 0.001,
  });
  assert.deepEqual(Array.from(t.scales), [f(need)]);
  assert.deepEqual(Array.from(t.data), [0, 0, 0, 0]);
  // The raised scale keeps the bias within 2^31 - 2 steps (not 2^31): an input scale chosen so the need
  // lies 5e-10 (relative) above a float32 rounding midpoint, which a 2^31 bound would fall below.
  const mid = 1 + 2 ** -24;
  const inputScale = 2 ** 31 / ((2 ** 31 - 2) * mid * (1 + 5e-10));
  const edge = quantizeWeight(Float32Array.of(1e-9), [1, 1], 0, true, { values: Float32Array.of(2 ** 31), inputScale });
  assert.deepEqual(Array.from(edge.scales), [1 + 2 ** -23]);
  assert.equal(f(2 ** 31 / (inputScale * 2 ** 31)), 1);
});

test('quantizeBias: round(b / (input scale x weight scale)), per channel or per tensor, clamped to int32', () => {
  assert.deepEqual(Array.from(quantizeBias(Float32Array.from([1, -2, 3]), 0.5, Float32Array.from([0.1, 0.2, 0.4]))), [20, -20, 15]);
  assert.deepEqual(Array.from(quantizeBias(Float32Array.from([1, -2, 3]), 0.5, Float32Array.from([0.25]))), [8, -16, 24]);
  assert.deepEqual(Array.from(quantizeBias(Float32Array.from([1e10, -1e10, 7]), 1, Float32Array.from([1]))), [2147483647, -2147483647, 7]);
  assert.deepEqual(Array.from(quantizeBias(Float32Array.from([2147483647.4, -2147483647.4]), 1, Float32Array.from([1, 1]))), [2147483647, -2147483647]);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../plugins/modelzoo/src/lib/onnx/mobilenetv2';
import { TensorHistogram } from '../../plugins/modelzoo/src/lib/quant/histogram';
import { chooseRange, klRange, klThreshold } from '../../plugins/modelzoo/src/lib/quant/ranges';

/** ReLU6 output as trained networks produce it: mostly exact zeros and exact 6s, some values between. */
function relu6Tensor(n: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand();
    out[i] = u < 0.7 ? 0 : u < 0.9 ? 6 : Math.min(6, -Math.log(Math.max(rand(), 1e-9)) * 0.7);
  }
  return out;
}

test('KL calibration stays at 6 on ReLU6 tensors where the textbook search collapses', () => {
  const h = new TensorHistogram(2048, 6);
  for (let b = 0; b < 4; b++) h.add(relu6Tensor(50000, b + 1), true);
  // The textbook search over the raw |x| histogram: the zero spike and the saturation spike pull the
  // threshold to a fraction of the range, which would clip the 20% of values saturated at 6.
  const raw = h.counts.slice(2048);
  const textbook = (klThreshold(raw, 2048, 128) * h.range) / 2048;
  assert.ok(textbook < 1.5, `textbook threshold ${textbook} (expected the collapse this test guards against)`);
  const r = klRange(h);
  assert.equal(r.lo, 0);
  assert.ok(r.hi >= 5.99, `KL range hi ${r.hi}`);
});

test('KL calibration still clips a long tail of rare outliers', () => {
  const rand = seededRandom(7);
  const data = new Float32Array(200000);
  for (let i = 0; i < data.length; i++) data[i] = -Math.log(Math.max(rand(), 1e-12)) * 0.5; // exponential, max ~6
  data[0] = 40;
  const h = new TensorHistogram(2048);
  h.add(data, true);
  const r = chooseRange(h, 'kl_divergence', 0.99999);
  assert.ok(r.hi < 20 && r.hi > 2, `KL hi ${r.hi}`);
  assert.equal(chooseRange(h, 'max', 0.99999).hi, 40);
  const mse = chooseRange(h, 'mse', 0.99999);
  assert.ok(mse.hi < 40 && mse.hi > 2, `MSE hi ${mse.hi}`);
});

test('streaming histogram: range growth keeps counts exact, percentiles match the data', () => {
  const rand = seededRandom(3);
  const a = Float32Array.from({ length: 100000 }, () => rand() * 2 - 1); // [-1, 1]
  const b = Float32Array.from({ length: 100000 }, () => rand() * 16 - 8); // forces 3 doublings
  const h = new TensorHistogram(2048);
  h.add(a);
  h.add(b);
  assert.equal(h.count, 200000);
  assert.equal(h.counts.reduce((s, v) => s + v, 0), 200000);
  assert.ok(h.range >= 8);
  const sorted = Float64Array.from([...a, ...b]).sort();
  for (const q of [0.01, 0.5, 0.9, 0.999]) {
    const exact = sorted[Math.floor(q * sorted.length)]!;
    assert.ok(Math.abs(h.quantile(q) - exact) <= 2 * h.binWidth, `q${q}: ${h.quantile(q)} vs ${exact}`);
  }
  const p = chooseRange(h, 'percentile', 0.99);
  assert.ok(p.lo > -8 && p.lo < -7.5 && p.hi < 8 && p.hi > 7.5, JSON.stringify(p));
  assert.deepEqual(chooseRange(h, 'max', 0.99), { lo: h.min, hi: h.max });
});

test('ranges always contain zero, so zero (padding, ReLU) is exact', () => {
  const h = new TensorHistogram(2048);
  h.add(Float32Array.from({ length: 1000 }, (_, i) => 3 + i / 1000));
  for (const mode of ['max', 'percentile', 'mse', 'kl_divergence'] as const) {
    const r = chooseRange(h, mode, 0.99999);
    assert.equal(r.lo, 0, mode);
    assert.ok(r.hi > 3, mode);
  }
});

test('streaming histogram: exact extremes from observe() let add() skip its own pass; leading zeros land at 0', () => {
  const rand = seededRandom(4);
  const batches = [new Float32Array(5000), ...[1, 2, 3].map(() => Float32Array.from({ length: 5000 }, () => (rand() * 2 - 1) * 5))];
  const a = new TensorHistogram(2048, 6);
  const b = new TensorHistogram(2048, 6);
  for (const d of batches) {
    a.add(d, true);
    // Calibration: exact extremes first (from ONNX Runtime), then the sample.
    b.observe(d.reduce((m, v) => Math.min(m, v), 0), d.reduce((m, v) => Math.max(m, v), 0));
    b.add(d, true, true);
  }
  assert.deepEqual(Array.from(b.counts), Array.from(a.counts));
  assert.equal(b.zeros, a.zeros);
  assert.ok(a.zeros >= 5000);
  // An all-zero first batch (range still 0) counts in the bin holding 0, not at the histogram's low end.
  assert.ok(Math.abs(a.quantile(0.5)) <= a.binWidth, `${a.quantile(0.5)}`); // 37.5% below 0, 25% exactly 0
  const z = new TensorHistogram(8);
  z.add(new Float32Array(10));
  z.add(Float32Array.of(4));
  assert.ok(z.quantile(0.5) >= 0 && z.quantile(0.5) < z.binWidth); // inside the bin holding 0
  assert.equal(z.counts[0], 0);
});

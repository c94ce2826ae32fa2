import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../plugins/modelzoo/src/lib/onnx/mobilenetv2';
import { TensorHistogram } from '../../plugins/modelzoo/src/lib/quant/histogram';
import { chooseRange, klRange, klThreshold, mseRange } from '../../plugins/modelzoo/src/lib/quant/ranges';

// ranges.ts picks every activation's int8 range. Each search is checked against a plain re-derivation
// written from its documented definition (the TensorRT entropy search, the MSE shrink search), on small
// histograms where every candidate can be enumerated, and on hand-computed cases.

// ---------------------------------------------------------------- klThreshold

/** KL(P || Q) of the TensorRT search for a threshold of `i` bins, or NaN when Q is empty. */
function klAt(hist: number[], i: number, levels: number): number {
  const p = hist.slice(0, i);
  // Everything at or above the threshold is clipped into its last bin (summed right to left up to
  // lastBin by the implementation; the test histograms are small integers, so the order is exact).
  p[i - 1]! += hist.slice(i).reduce((a, v) => a + v, 0);
  const q = new Array<number>(i).fill(0);
  for (let j = 0; j < levels; j++) {
    const start = Math.floor((j * i) / levels);
    const end = j === levels - 1 ? i : Math.floor(((j + 1) * i) / levels);
    const chunk = hist.slice(start, end);
    const mass = chunk.reduce((a, v) => a + v, 0);
    const nonEmpty = chunk.filter((v) => v > 0).length;
    for (let k = start; k < end; k++) q[k] = hist[k]! > 0 ? mass / nonEmpty : 0;
  }
  const pSum = p.reduce((a, v) => a + v, 0);
  const qSum = q.reduce((a, v) => a + v, 0);
  if (qSum === 0) return NaN;
  let kl = 0;
  for (let k = 0; k < i; k++) {
    if (p[k]! <= 0) continue;
    const pk = p[k]! / pSum;
    kl += pk * Math.log(pk / Math.max(q[k]! / qSum, 1e-12));
  }
  return kl;
}

/** The candidates: levels, levels + stride, ..., and always lastBin; ~256 of them. */
function candidates(lastBin: number, levels: number): number[] {
  const stride = Math.max(1, Math.floor((lastBin - levels) / 256));
  const out: number[] = [];
  for (let i = levels; i < lastBin; i += stride) out.push(i);
  out.push(lastBin);
  return out;
}

function oracleThreshold(hist: number[], lastBin: number, levels: number): number {
  const total = hist.reduce((a, v) => a + v, 0);
  if (total === 0 || lastBin <= levels) return Math.max(1, lastBin);
  let best = lastBin;
  let bestKl = Infinity;
  for (const i of candidates(lastBin, levels)) {
    const kl = klAt(hist, i, levels);
    if (kl < bestKl) {
      bestKl = kl; // the first minimum wins
      best = i;
    }
  }
  return best;
}

test('klThreshold: degenerate inputs return lastBin (at least 1) without searching', () => {
  assert.equal(klThreshold(new Float64Array(10), 7, 4), 7, 'empty histogram');
  assert.equal(klThreshold(new Float64Array(10), 0, 4), 1, 'empty histogram, lastBin 0');
  assert.equal(klThreshold(Float64Array.of(1, 2, 3, 4, 5, 6), 3, 4), 3, 'lastBin below levels');
  assert.equal(klThreshold(Float64Array.of(1, 2, 3, 4, 5, 6), 0, 4), 1, 'lastBin 0');
  assert.equal(klThreshold(Float64Array.of(0, 0, 0, 0, 0, 9), 6, 2), oracleThreshold([0, 0, 0, 0, 0, 9], 6, 2));
});

test('klThreshold: exact ties keep the smallest threshold', () => {
  // Mass only in the first `levels` bins: every candidate reproduces P exactly (KL 0), so the first
  // candidate, `levels`, must win.
  assert.equal(klThreshold(Float64Array.of(1, 1, 0, 0, 0, 0), 5, 2), 2);
  assert.equal(klThreshold(Float64Array.of(3, 0, 5, 0, 0, 0, 0, 0, 0, 0), 9, 3), 3);
  // Same with the tail beyond lastBin empty and lastBin at the end of the array.
  assert.equal(klThreshold(Float64Array.of(2, 2, 2, 0, 0, 0), 6, 3), 3);
});

test('klThreshold: a hand-computed search (levels 2, four candidates)', () => {
  // hist [4, 0, 1, 1, 2], lastBin 5, levels 2; candidates 2..5.
  //  i=2: P = [4, 4] (clipped 1+1+2 into bin 1), Q = [4, 0] -> Q bin 1 empty: KL = .5 log(.5 / 1e-12) large
  //  i=5: Q chunks [0,2) -> bin 0: 4; [2,5) -> bins 2,3,4: 4/3 each; P = [4,0,1,1,2]
  const hist = [4, 0, 1, 1, 2];
  const kls = [2, 3, 4, 5].map((i) => klAt(hist, i, 2));
  const q5 = [4, 0, 4 / 3, 4 / 3, 4 / 3].map((v) => v / 8);
  const p5 = [4, 0, 1, 1, 2].map((v) => v / 8);
  const kl5 = p5.reduce((a, p, k) => (p > 0 ? a + p * Math.log(p / q5[k]!) : a), 0);
  assert.ok(Math.abs(kls[3]! - kl5) < 1e-12, `${kls[3]} vs ${kl5}`);
  const best = [2, 3, 4, 5][kls.indexOf(Math.min(...kls))];
  assert.equal(klThreshold(Float64Array.from(hist), 5, 2), best);
  assert.equal(best, 5);
});

test('klThreshold: equals the enumerated search on random histograms (tails, gaps, strides > 1)', () => {
  const rand = seededRandom(11);
  for (let trial = 0; trial < 120; trial++) {
    const big = trial % 6 === 5;
    const len = big ? 700 + Math.floor(rand() * 200) : 6 + Math.floor(rand() * 40);
    const levels = big ? 128 : 2 + Math.floor(rand() * 6);
    const hist = new Array<number>(len).fill(0);
    const decay = 0.05 + rand() * 0.4;
    const gaps = rand() < 0.5;
    for (let k = 0; k < len; k++) {
      if (gaps && rand() < 0.3) continue;
      hist[k] = Math.floor(rand() * 50 * Math.exp((-decay * k * 40) / len));
    }
    if (rand() < 0.5) hist[len - 1] = Math.floor(rand() * 5) + 1; // an outlier in the last bin
    const lastBin = Math.max(levels + 1, len - Math.floor(rand() * (big ? 100 : 4)));
    const got = klThreshold(Float64Array.from(hist), lastBin, levels);
    assert.equal(got, oracleThreshold(hist, lastBin, levels), `trial ${trial}: len ${len} levels ${levels} lastBin ${lastBin}`);
  }
});

test('klThreshold: the stride search visits levels + k * stride and lastBin only', () => {
  // lastBin - levels = 1024 -> stride 4. The optimum (a drop right after bin 137) is only visible at
  // candidates 136 or 140; 137..139 are not candidates.
  const hist = new Array<number>(1200).fill(0);
  for (let k = 0; k < 138; k++) hist[k] = 100;
  for (let k = 138; k < 1200; k++) hist[k] = k % 97 === 0 ? 1 : 0;
  const lastBin = 1152;
  const levels = 128;
  const got = klThreshold(Float64Array.from(hist), lastBin, levels);
  assert.equal(got, oracleThreshold(hist, lastBin, levels));
  assert.equal((got - levels) % 4, 0, `${got} is not a stride-4 candidate`);
  assert.ok(got > levels && got < lastBin, `${got}`);
});

// ---------------------------------------------------------------- klRange

function oracleKlRange(h: TensorHistogram, saturatedShare = 1e-5): { lo: number; hi: number } {
  if (h.max === h.min || h.range === 0) return { lo: h.min, hi: h.max };
  const B = h.binsPerSide;
  const abs: number[] = [];
  for (let k = 0; k < B; k++) abs.push(h.counts[B + k]! + h.counts[B - 1 - k]!);
  abs[0] = Math.max(0, abs[0]! - h.zeros);
  if (h.clipHigh !== undefined && h.clipHits > 0) {
    const k = Math.min(B - 1, Math.floor((h.clipHigh / h.range) * B));
    abs[k] = Math.max(0, abs[k]! - h.clipHits);
  }
  const absMax = Math.max(Math.abs(h.min), Math.abs(h.max));
  const lastBin = Math.min(B, Math.ceil((absMax / h.range) * B));
  const oneSided = h.min >= 0;
  const bins = oracleThreshold(abs, lastBin, oneSided ? 255 : 128);
  const t = bins * (h.range / B);
  let hi = oneSided ? t : Math.min(h.max, t);
  const lo = oneSided ? 0 : Math.max(h.min, -t);
  if (h.clipHigh !== undefined && h.clipHits > saturatedShare * h.count) hi = Math.max(hi, h.clipHigh);
  return { lo, hi: Math.min(hi, h.max) };
}

test('klRange: a constant tensor, or one of exact zeros, keeps its exact extremes', () => {
  const c = new TensorHistogram(16);
  c.add(Float32Array.of(2.5, 2.5, 2.5), true);
  assert.deepEqual(klRange(c), { lo: 2.5, hi: 2.5 });
  const z = new TensorHistogram(16);
  z.observe(-1, 0); // extremes differ but no value has been histogrammed with a range yet
  assert.equal(z.range, 1);
  const zeros = new TensorHistogram(16);
  zeros.add(new Float32Array(5), true);
  assert.deepEqual(klRange(zeros), { lo: 0, hi: 0 });
});

test('klRange: small histograms (no search) end at the last occupied |x| bin, clamped to the extremes', () => {
  // B = 16 < 128 levels: the threshold is lastBin * binWidth, lastBin = ceil(absMax / range * B).
  const h = new TensorHistogram(16);
  h.add(Float32Array.of(-1, 0.3, 0.5, 2, 4), true); // range 4, width 0.25
  assert.deepEqual(klRange(h), { lo: -1, hi: 4 });
  const g = new TensorHistogram(16);
  g.add(Float32Array.of(-3, 0.3, 1.1), true); // range 3, absMax 3 -> lastBin 16, threshold 3
  assert.deepEqual(klRange(g), { lo: -3, hi: Math.fround(1.1) });
  const o = new TensorHistogram(16);
  o.add(Float32Array.of(0, 0.25, 1.3), true); // one-sided: lo 0
  assert.deepEqual(klRange(o), { lo: 0, hi: Math.fround(1.3) });
  // The range grew past absMax: lastBin = ceil(5 / 8 * 16) = 10 -> threshold 5.
  const d = new TensorHistogram(16);
  d.add(Float32Array.of(0.5, 1), true);
  d.add(Float32Array.of(-5, 2), true);
  assert.equal(d.range, 8);
  assert.deepEqual(klRange(d), { lo: -5, hi: 2 });
});

/** Values a ReLU6-like or signed activation produces, with exact zeros and exact clip hits. */
function activation(n: number, rand: () => number, kind: number, clip: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand();
    const e = -Math.log(Math.max(rand(), 1e-9));
    if (kind === 0) out[i] = u < 0.4 ? 0 : u < 0.55 ? clip : Math.min(clip, e * 0.8);
    else if (kind === 1) out[i] = u < 0.2 ? 0 : (rand() < 0.5 ? -1 : 1) * e * 0.6;
    else if (kind === 2) out[i] = u < 0.3 ? 0 : e * 0.5 - (rand() < 0.1 ? 3 * rand() : 0);
    else out[i] = u < 0.001 ? clip : u < 0.5 ? 0 : Math.min(clip, e * 0.3);
  }
  return out;
}

test('klRange: equals the TensorRT search re-derived, on one- and two-sided tensors with atoms', () => {
  const rand = seededRandom(5);
  for (let trial = 0; trial < 24; trial++) {
    const kind = trial % 4;
    const clip = kind === 0 || kind === 3 ? 6 : undefined;
    const h = new TensorHistogram(512, clip);
    for (let b = 0; b < 2; b++) h.add(activation(3000, rand, kind, clip ?? 6), true);
    if (trial % 8 === 7) h.add(Float32Array.of(kind === 1 ? -40 : 40), true); // an outlier far out
    const got = klRange(h);
    assert.deepEqual(got, oracleKlRange(h), `trial ${trial} kind ${kind}`);
    const r = chooseRange(h, 'kl_divergence', 0.99999);
    assert.deepEqual(r, { lo: Math.min(0, got.lo), hi: Math.max(0, got.hi) });
  }
});

test('klRange: a saturation spike above saturatedShare keeps the clip bound; below it, it may be cut', () => {
  // 2000 values: 1 exactly at the clip (share 5e-4), the rest small: the search clips far below 6.
  const data = new Float32Array(4000);
  const rand = seededRandom(9);
  for (let i = 0; i < data.length; i++) data[i] = rand() < 0.5 ? 0 : Math.min(6, -Math.log(Math.max(rand(), 1e-9)) * 0.2);
  data[17] = 6;
  const h = new TensorHistogram(512, 6);
  h.add(data, true);
  assert.equal(h.clipHits, 1);
  assert.equal(klRange(h, 1 / 4000 + 1e-9).hi < 6, true, 'share at or below saturatedShare: clipped');
  assert.ok(klRange(h, 1 / 4000 - 1e-9).hi === 6, 'share above saturatedShare: the spike is kept');
  assert.ok(klRange(h, 0.9).hi < 3, `${klRange(h, 0.9).hi}`);
  assert.deepEqual(klRange(h, 0.9), oracleKlRange(h, 0.9));
  // hits * share compared to the count: exactly equal is not above.
  assert.ok(klRange(h, 1 / h.count).hi < 6);
  // Without a clip bound the same data is searched the same way, and hits are not subtracted.
  const n = new TensorHistogram(512);
  n.add(data, true);
  assert.equal(n.clipHits, 0);
  assert.deepEqual(klRange(n), oracleKlRange(n));
});

// ---------------------------------------------------------------- mseRange

function oracleMse(h: TensorHistogram, levels = 255): { lo: number; hi: number } {
  const lo0 = Math.min(0, h.min);
  const hi0 = Math.max(0, h.max);
  if (lo0 === hi0) return { lo: 0, hi: 0 };
  const w = h.binWidth;
  const bins: [number, number][] = [];
  h.counts.forEach((n, k) => {
    if (n > 0) bins.push([-h.range + k * w + w / 2, n]);
  });
  let bestErr = Infinity;
  let bestAlpha = 1;
  for (let step = 1; step <= 200; step++) {
    const a = step / 200;
    const lo = a * lo0;
    const hi = a * hi0;
    let err = 0;
    for (const [x, n] of bins) {
      const d = x > hi ? x - hi : x < lo ? lo - x : 0;
      if (d > 0) err += n * d * d;
    }
    const scale = (hi - lo) / levels;
    err += ((h.count - h.zeros) * scale * scale) / 12;
    if (err < bestErr) {
      bestErr = err;
      bestAlpha = a;
    }
  }
  return { lo: bestAlpha * lo0, hi: bestAlpha * hi0 };
}

test('mseRange: equals the shrink search re-derived, on random tensors', () => {
  const rand = seededRandom(21);
  for (let trial = 0; trial < 30; trial++) {
    const kind = trial % 4;
    const h = new TensorHistogram(64, kind === 0 ? 6 : undefined);
    h.add(activation(400, rand, kind, 6), trial % 2 === 0);
    if (trial % 3 === 0) h.add(Float32Array.of(kind === 1 ? -20 : 20 + trial), trial % 2 === 0);
    assert.deepEqual(mseRange(h), oracleMse(h), `trial ${trial}`);
    assert.deepEqual(mseRange(h, 15), oracleMse(h, 15), `trial ${trial}, 15 levels`);
    const r = chooseRange(h, 'mse', 0.99999);
    const m = oracleMse(h);
    assert.deepEqual(r, { lo: Math.min(0, m.lo), hi: Math.max(0, m.hi) });
  }
});

test('mseRange: hand-computed cases', () => {
  // Every value at the extremes (the top bins' centres lie within 0.1% of them): any shrink clips them
  // all, so the full range wins (alpha = 1).
  const full = new TensorHistogram(512);
  full.add(Float32Array.of(-2, 2, -2, 2, 2));
  assert.deepEqual(mseRange(full), { lo: -2, hi: 2 });
  // Symmetric extremes around 0 are a range, not an empty one.
  const sym = new TensorHistogram(8);
  sym.add(Float32Array.of(-1, 1));
  assert.notDeepEqual(mseRange(sym), { lo: 0, hi: 0 });
  // Only exact zeros: the empty range.
  const z = new TensorHistogram(8);
  z.add(new Float32Array(4), true);
  assert.deepEqual(mseRange(z), { lo: 0, hi: 0 });
  const nz = new TensorHistogram(8);
  nz.add(Float32Array.of(-0, -0));
  assert.ok(Object.is(mseRange(nz).lo, 0) && Object.is(mseRange(nz).hi, 0));
  // No sampled values (extremes only): nothing to clip and no rounding noise; every alpha ties at 0
  // and the first (the smallest range) wins.
  const e = new TensorHistogram(8);
  e.observe(-4, 2);
  assert.deepEqual(mseRange(e), { lo: -4 / 200, hi: 2 / 200 });
  // Many exact zeros weigh nothing: a tensor of zeros and one value keeps that value in range.
  const a = new TensorHistogram(8);
  const data = new Float32Array(10001);
  data[0] = 3;
  a.add(data, true);
  assert.equal(a.zeros, 10000);
  assert.deepEqual(mseRange(a), oracleMse(a));
  const b = new TensorHistogram(8);
  b.add(data, false);
  assert.deepEqual(mseRange(b), oracleMse(b));
  assert.ok(mseRange(b).hi < mseRange(a).hi, `zeros counted as noise shrink the range: ${mseRange(b).hi} vs ${mseRange(a).hi}`);
});

// ---------------------------------------------------------------- chooseRange

test('chooseRange: refuses empty tensors, and sample-based modes without samples, by mode', () => {
  assert.throws(() => chooseRange(new TensorHistogram(8), 'max', 0.9), { message: 'no calibration values reached this tensor' });
  const e = new TensorHistogram(8);
  e.observe(-1, 3);
  assert.deepEqual(chooseRange(e, 'max', 0.9), { lo: -1, hi: 3 });
  for (const mode of ['percentile', 'mse', 'kl_divergence'] as const) {
    assert.throws(() => chooseRange(e, mode, 0.9), {
      message: `calibrate_mode ${mode} needs sampled values; this tensor has only its extremes`,
    });
  }
});

test('chooseRange: percentile takes the two tail quantiles, and every range contains 0', () => {
  const h = new TensorHistogram(64);
  const values = Float32Array.from({ length: 1000 }, (_, i) => -2 + (i * 7) / 999); // -2 .. 5
  h.add(values);
  const r = chooseRange(h, 'percentile', 0.9);
  assert.deepEqual(r, { lo: h.quantile(1 - 0.9), hi: h.quantile(0.9) });
  assert.ok(Math.abs(r.lo - -1.3) < 2 * h.binWidth && Math.abs(r.hi - 4.3) < 2 * h.binWidth, JSON.stringify(r));
  const pos = new TensorHistogram(64);
  pos.add(Float32Array.from({ length: 100 }, (_, i) => 1 + i / 10));
  const p = chooseRange(pos, 'percentile', 0.99);
  assert.equal(p.lo, 0);
  assert.equal(p.hi, pos.quantile(0.99));
  const neg = new TensorHistogram(64);
  neg.add(Float32Array.from({ length: 100 }, (_, i) => -1 - i / 10));
  assert.deepEqual(chooseRange(neg, 'max', 0.99), { lo: neg.min, hi: 0 });
  assert.deepEqual(chooseRange(neg, 'percentile', 0.99), { lo: neg.quantile(0.01), hi: 0 });
});

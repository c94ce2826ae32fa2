import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../plugins/modelzoo/src/lib/onnx/mobilenetv2';
import { TensorHistogram } from '../../plugins/modelzoo/src/lib/quant/histogram';
import { klRange, klThreshold } from '../../plugins/modelzoo/src/lib/quant/ranges';

// The entropy (KL) search of ranges.ts against a brute force written from its definition, starting from
// the raw values rather than from the histogram's counts: the |x| histogram is rebuilt value by value
// with the atoms (exact zeros, exact clip hits) left out, where klRange subtracts them from the counts.
// Each case is chosen so that one step of the search decides the answer: the non-zero values in the
// first |x| bin, the non-hit values in the clip bound's bin, and where the search stops when the
// histogram's range has doubled past the largest |x|.

/** The |x| histogram of `data` over [0, range] in B bins, atoms left out (TensorHistogram's binning). */
function absHistogram(data: Float32Array, h: TensorHistogram): number[] {
  const B = h.binsPerSide;
  const s = B / h.range;
  const abs = new Array<number>(B).fill(0);
  for (const v of data) {
    if (v === 0 || v === h.clipHigh) continue;
    const signed = Math.min(2 * B - 1, Math.max(0, Math.floor(v * s + B)));
    abs[signed >= B ? signed - B : B - 1 - signed]!++;
  }
  return abs;
}

/** KL(P || Q) for a threshold of t bins; NaN when Q is empty (nothing below the threshold). */
function klAt(abs: number[], t: number, levels: number): number {
  const p = abs.slice(0, t);
  let clipped = 0;
  for (const v of abs.slice(t)) clipped += v;
  p[t - 1]! += clipped;
  const q = new Array<number>(t).fill(0);
  for (let j = 0; j < levels; j++) {
    const chunk = [];
    for (let k = Math.floor((j * t) / levels); k < Math.floor(((j + 1) * t) / levels); k++) chunk.push(k);
    let mass = 0;
    for (const k of chunk) mass += abs[k]!;
    const filled = chunk.filter((k) => abs[k]! > 0);
    for (const k of filled) q[k] = mass / filled.length;
  }
  let pSum = 0;
  let qSum = 0;
  for (let k = 0; k < t; k++) {
    pSum += p[k]!;
    qSum += q[k]!;
  }
  if (qSum === 0) return NaN;
  let kl = 0;
  for (let k = 0; k < t; k++) {
    if (p[k]! > 0) kl += (p[k]! / pSum) * Math.log(p[k]! / pSum / Math.max(q[k]! / qSum, 1e-12));
  }
  return kl;
}

/** The candidates levels, levels + stride, ... and lastBin; the first smallest KL wins. */
function searchBins(abs: number[], lastBin: number, levels: number): number {
  if (lastBin <= levels) return Math.max(1, lastBin);
  const stride = Math.max(1, Math.floor((lastBin - levels) / 256));
  let best = lastBin;
  let bestKl = Infinity;
  for (let t = levels; t <= lastBin; t = t < lastBin ? Math.min(lastBin, t + stride) : t + 1) {
    const kl = klAt(abs, t, levels);
    if (kl < bestKl) {
      bestKl = kl;
      best = t;
    }
  }
  return best;
}

function oracleRange(data: Float32Array, h: TensorHistogram, saturatedShare = 1e-5): { lo: number; hi: number } {
  const B = h.binsPerSide;
  const absMax = Math.max(-h.min, h.max);
  const lastBin = Math.min(B, Math.ceil((absMax / h.range) * B));
  const oneSided = h.min >= 0;
  const t = searchBins(absHistogram(data, h), lastBin, oneSided ? 255 : 128) * (h.range / B);
  let hi = oneSided ? t : Math.min(h.max, t);
  const lo = oneSided ? 0 : Math.max(h.min, -t);
  if (h.clipHigh !== undefined && h.clipHits > saturatedShare * h.count) hi = Math.max(hi, h.clipHigh);
  return { lo, hi: Math.min(hi, h.max) };
}

const expo = (rand: () => number) => -Math.log(Math.max(rand(), 1e-9));
const sign = (rand: () => number) => (rand() < 0.5 ? -1 : 1);

test('klRange: non-zero values in the first |x| bin are searched (only exact zeros are left out)', () => {
  const rand = seededRandom(31);
  for (let trial = 0; trial < 3; trial++) {
    // A third of the values are tiny (inside |x| bin 0, width ~0.009), a tenth exact zeros.
    const data = new Float32Array(4000);
    for (let i = 0; i < data.length; i++) {
      const u = rand();
      data[i] = u < 0.1 ? 0 : u < 0.4 ? sign(rand) * rand() * 0.004 : sign(rand) * expo(rand) * 0.5;
    }
    data[0] = 4;
    data[1] = -4;
    const h = new TensorHistogram(512);
    h.add(data, true);
    assert.ok(h.zeros > 300 && h.counts[512]! + h.counts[511]! > h.zeros + 1000, 'bin 0 holds more than the zeros');
    const r = klRange(h);
    assert.deepEqual(r, oracleRange(data, h), `trial ${trial}`);
    // The tiny values pull the threshold in: the search clips well inside the extremes.
    assert.ok(r.hi < 3 && r.lo === -r.hi, JSON.stringify(r));
  }
});

test('klRange: the clip hits come out of the clip bound\'s own bin, not the last one, and only they do', () => {
  // Clip bound 6 under a range grown to 9 by one value at -9: the bound falls in |x| bin
  // floor(6 / 9 * 512) = 341 of 512. A fifth of the values sit exactly at 6 (left out), more just under
  // it, in the same bin (kept). saturatedShare 1 keeps the spike out of the constraint, so the search
  // alone sets both ends.
  const rand = seededRandom(32);
  for (let trial = 0; trial < 3; trial++) {
    const data = new Float32Array(4000);
    const near = 0.02 + trial * 0.04;
    for (let i = 0; i < data.length; i++) {
      const u = rand();
      data[i] = u < 0.2 ? 6 : u < 0.2 + near ? 5.9999 - rand() * 0.004 : sign(rand) * expo(rand) * 0.7;
    }
    data[0] = -9;
    const h = new TensorHistogram(512, 6);
    h.add(data, true);
    assert.equal(h.range, 9);
    const bin = Math.floor((6 / 9) * 512);
    assert.equal(bin, 341);
    assert.ok(h.clipHits > 700, `${h.clipHits}`);
    const r = klRange(h, 1);
    assert.deepEqual(r, oracleRange(data, h, 1), `trial ${trial}`);
    assert.ok(r.lo < -6 && r.lo > -9, `the near-6 values keep the threshold at 6 and above: ${JSON.stringify(r)}`);
    // With the default share the spike is kept: hi reaches the bound.
    assert.deepEqual(klRange(h), oracleRange(data, h));
    assert.equal(klRange(h).hi, 6);
  }
});

test('klRange: when the range doubled past the largest |x|, the search stops at its bin, with that stride', () => {
  // Range primed to 1, then values up to ~7 double it to 8: the largest |x| lies in bin
  // ceil(absMax / 8 * 2048) < 2048, and the candidates step by floor((lastBin - 128) / 256), not by the
  // stride the full 2048 bins would give.
  const rand = seededRandom(33);
  let decided = 0;
  for (let trial = 0; trial < 6; trial++) {
    const data = new Float32Array(6000);
    for (let i = 0; i < data.length; i++) data[i] = sign(rand) * expo(rand) * 0.6;
    const h = new TensorHistogram(2048);
    h.observe(-1, 1);
    h.add(data, true);
    assert.equal(h.range, 8);
    const absMax = Math.max(-h.min, h.max);
    assert.ok(absMax > 4 && absMax < 8);
    const r = klRange(h);
    assert.deepEqual(r, oracleRange(data, h), `trial ${trial}`);
    // Searching all 2048 bins instead (stride 7, not floor((lastBin - 128) / 256)) picks another threshold.
    if (searchBins(absHistogram(data, h), 2048, 128) !== searchBins(absHistogram(data, h), Math.ceil((absMax / 8) * 2048), 128)) decided++;
  }
  assert.ok(decided >= 3, `the stop bin decided ${decided} of 6 trials`);
});

test('klThreshold: a threshold is never 0 bins, even with levels 0', () => {
  assert.equal(klThreshold(Float64Array.of(1, 2, 3), 0, 0), 1);
  assert.equal(klThreshold(Float64Array.of(1, 2, 3), 0, 4), 1);
  // An empty histogram: every candidate's Q is empty and none is scored (P too is empty, KL would be 0).
  assert.equal(klThreshold(new Float64Array(600), 400, 128), 400);
  // lastBin equal to levels: no search, lastBin itself.
  assert.equal(klThreshold(Float64Array.of(5, 1, 0, 9), 2, 2), 2);
});

test('klThreshold: the clipped tail beyond lastBin and the bins at or above each candidate fold into P', () => {
  const rand = seededRandom(34);
  for (let trial = 0; trial < 40; trial++) {
    const levels = 2 + (trial % 5);
    const len = levels + 3 + Math.floor(rand() * 30);
    const hist = Array.from({ length: len }, (_, k) => (rand() < 0.25 ? 0 : Math.floor(rand() * 40 * Math.exp(-k / (3 + trial % 7)))));
    hist[len - 1] = 1 + Math.floor(rand() * 20); // a tail spike beyond lastBin
    const lastBin = Math.max(levels + 1, len - 1 - Math.floor(rand() * 3));
    assert.equal(klThreshold(Float64Array.from(hist), lastBin, levels), searchBins(hist, lastBin, levels), `trial ${trial}: ${hist.join(',')} lastBin ${lastBin} levels ${levels}`);
  }
  // Hand-checked: hist [1, 3, 0, 6], levels 2, lastBin 3 (bin 3 is the tail).
  //  t = 2: P = [1, 9], Q = [1, 3] -> KL = .1 ln(.1 / .25) + .9 ln(.9 / .75) ~ 0.0725
  //  t = 3: P = [1, 3, 6], Q chunks [0, 1) and [1, 3): [1, 3, 0] -> P's last bin has Q 0: KL ~ 16
  assert.equal(klThreshold(Float64Array.of(1, 3, 0, 6), 3, 2), 2);
  assert.ok(Math.abs(klAt([1, 3, 0, 6], 2, 2) - (0.1 * Math.log(0.1 / 0.25) + 0.9 * Math.log(0.9 / 0.75))) < 1e-15);
  // Without the tail fold, t = 2 would see P = [1, 3] = Q (KL 0) and t = 3 P = [1, 3, 0]: same answer, so
  // a tail at levels must decide: hist [4, 0, 0, 1], levels 2, lastBin 4:
  //  t = 2: P = [4, 1], Q = [4, 0] -> Q misses P's last bin (KL ~ 4.3); t = 3: P = [4, 0, 1], Q = [4, 0, 0]
  //  (chunk [1, 3) empty) -> as bad; t = 4: P = [4, 0, 0, 1], Q = [4, 0, 0, 1] -> KL 0.
  assert.equal(klThreshold(Float64Array.of(4, 0, 0, 1), 4, 2), 4);
});

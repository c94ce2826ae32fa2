import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromFp16Bits, roundFp16, toFp16Bits } from '../../plugins/modelzoo/src/lib/vastai/fp16';
import { decodeNpy, decodeNpz, encodeNpy, encodeNpz, float32Npy, npyToFloat64 } from '../../plugins/modelzoo/src/lib/vastai/npy';
import { TensorHistogram } from '../../plugins/modelzoo/src/lib/quant/histogram';
import { chooseRange, klRange, klThreshold, mseRange } from '../../plugins/modelzoo/src/lib/quant/ranges';
import { centerCropOffset, planCrop, resizedSize, roundHalfEven } from '../../plugins/modelzoo/src/lib/preprocess/geometry';
import { selectCalibration } from '../../plugins/modelzoo/src/lib/dataset/calibration';

test('fp16 special values: signed zeros, infinities, NaN, overflow, subnormals, the smallest tie', () => {
  assert.equal(toFp16Bits(0), 0);
  assert.equal(toFp16Bits(-0), 0x8000);
  assert.equal(toFp16Bits(Infinity), 0x7c00);
  assert.equal(toFp16Bits(-Infinity), 0xfc00);
  assert.equal(toFp16Bits(NaN), 0x7e00);
  assert.equal(toFp16Bits(65504), 0x7bff);
  assert.equal(toFp16Bits(65519), 0x7bff);
  assert.equal(toFp16Bits(65520), 0x7c00);
  assert.equal(toFp16Bits(1e6), 0x7c00);
  assert.equal(toFp16Bits(-1e6), 0xfc00);
  assert.equal(toFp16Bits(2 ** -24), 1);
  assert.equal(toFp16Bits(2 ** -25), 0, 'exactly half the smallest subnormal ties to even (0)');
  assert.equal(toFp16Bits(2 ** -25 * 1.0001), 1);
  assert.equal(toFp16Bits(3 * 2 ** -25), 2, '1.5 subnormal units tie to even (2)');
  assert.equal(toFp16Bits(2 ** -26), 0);
  assert.equal(toFp16Bits(-(2 ** -30)), 0x8000);
  assert.equal(toFp16Bits(2 ** -14), 0x0400);
  assert.equal(toFp16Bits(2 ** -14 - 2 ** -25), 0x0400, 'rounds up from the largest subnormal into the normals');
  assert.equal(toFp16Bits(1 + 2 ** -11), 0x3c00, 'tie at 1 + half an ulp goes to even');
  assert.equal(toFp16Bits(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(toFp16Bits(2047.9), 0x6800, 'mantissa overflow carries into the exponent');
  assert.equal(fromFp16Bits(0x7c00), Infinity);
  assert.equal(fromFp16Bits(0xfc00), -Infinity);
  assert.ok(Number.isNaN(fromFp16Bits(0x7c01)));
  assert.ok(Object.is(fromFp16Bits(0x8000), -0));
  assert.equal(fromFp16Bits(0x3555), 0.333251953125);
  assert.equal(roundFp16(0.1), 0.0999755859375);
});

test('npy: header text, version 2 headers, dtype aliases and every refusal', () => {
  const a = float32Npy(Float32Array.from([1, 2]), [2]);
  const bytes = encodeNpy(a);
  assert.equal(Buffer.from(bytes.subarray(10, 10 + 60)).toString('latin1').trimEnd(), "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }");
  assert.equal(bytes[6], 1);
  assert.equal(bytes[7], 0);
  assert.equal(bytes[8]! | (bytes[9]! << 8), bytes.length - 8 - 10);
  const two = encodeNpy({ dtype: '|u1', shape: [2, 3], data: new Uint8Array(6) });
  assert.match(Buffer.from(two).toString('latin1'), /'shape': \(2, 3\), \}/);
  assert.deepEqual(decodeNpy(encodeNpy({ dtype: '<f8', shape: [], data: new Uint8Array(8) }), 's').shape, []);
  // numpy's version 2.0 header: 4-byte length
  const header = "{'descr': '<u1', 'fortran_order': False, 'shape': (3,), }".padEnd(115, ' ') + '\n';
  const v2 = Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]), Buffer.from([header.length, 0, 0, 0]), Buffer.from(header, 'latin1'), Buffer.from([7, 8, 9])]);
  const d2 = decodeNpy(v2, 'v2');
  assert.deepEqual({ ...d2, data: [...d2.data] }, { dtype: '|u1', shape: [3], data: [7, 8, 9] });
  for (const [descr, dtype] of [['<u1', '|u1'], ['>u1', '|u1'], ['<i1', '|i1']]) {
    const h = `{'descr': '${descr}', 'fortran_order': False, 'shape': (1,), }`.padEnd(53, ' ') + '\n';
    const b = Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length, 0]), Buffer.from(h, 'latin1'), Buffer.from([5])]);
    assert.equal(decodeNpy(b, 'x').dtype, dtype);
  }
  const withHeader = (h: string, data: number[] = []) =>
    Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length, 0]), Buffer.from(h, 'latin1'), Buffer.from(data)]);
  assert.throws(() => decodeNpy(withHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }\n"), 'x.npy'), (e: Error) => e.message === "x.npy: unsupported dtype '>f4'");
  assert.throws(() => decodeNpy(withHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }\n"), 'x.npy'), (e: Error) => e.message === 'x.npy: Fortran-order arrays are not supported');
  assert.throws(() => decodeNpy(withHeader("{'descr': '<f4', 'shape': (1,), }\n"), 'x.npy'), /x\.npy: unreadable \.npy header/);
  assert.throws(() => decodeNpy(withHeader("{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }\n", [1, 2, 3]), 'x.npy'), (e: Error) => e.message === 'x.npy: truncated (3 of 4 data bytes)');
  assert.throws(() => decodeNpy(Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50]), 'x.npy'), (e: Error) => e.message === 'x.npy: not an .npy array');
  assert.throws(() => decodeNpy(Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x58, 1, 0, 0, 0]), 'x.npy'), /not an \.npy array/);
  assert.throws(() => encodeNpy({ dtype: '<f4', shape: [3], data: new Uint8Array(8) }), (e: Error) => e.message === 'npy: shape [3] of <f4 needs 12 bytes, got 8');
  // extra bytes after the data are not part of the array
  assert.deepEqual([...decodeNpy(withHeader("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }\n", [4, 5]), 'x').data], [4]);
});

test('npz: members are <name>.npy, other members ignored, unreadable zips refused naming the file', () => {
  const z = encodeNpz({ input_0: { dtype: '|u1', shape: [1], data: Uint8Array.from([3]) } });
  assert.deepEqual(Object.keys(decodeNpz(z, 'a.npz')), ['input_0']);
  assert.throws(() => decodeNpz(Uint8Array.from([1, 2, 3]), 'bad.npz'), /^Error: bad\.npz: not a readable \.npz \(zip\) file: /);
  assert.deepEqual(npyToFloat64(float32Npy(Float32Array.from([1.5, -2]), [2])), Float64Array.from([1.5, -2]));
});

test('histogram: constructor and input checks, exact extremes, counts, zeros and clip hits', () => {
  assert.throws(() => new TensorHistogram(3), (e: Error) => e.message === 'histogram bins per side must be even, got 3');
  const h = new TensorHistogram(4, 6);
  assert.equal(h.counts.length, 8);
  assert.equal(h.quantile(0.5), 0, 'empty histogram');
  h.add(new Float32Array(0));
  assert.equal(h.count, 0);
  h.add(Float32Array.from([0, 0]), true);
  assert.deepEqual([h.count, h.zeros, h.range, h.counts[4]], [2, 2, 0, 2]);
  assert.equal(h.quantile(0.9), 0, 'all zeros');
  h.add(Float32Array.from([6, 6, 3, -1.5, 0]), true);
  assert.deepEqual([h.count, h.zeros, h.clipHits, h.min, h.max], [7, 3, 2, -1.5, 6]);
  assert.equal(h.range, 6);
  assert.equal(h.binWidth, 1.5);
  assert.equal(h.edge(0), -6);
  assert.equal(h.edge(5), 1.5);
  // 6 lands in the last bin (clamped), 3 in bin 6, -1.5 in bin 3, zeros in bin 4
  assert.deepEqual([...h.counts], [0, 0, 0, 1, 3, 0, 1, 2]);
  h.add(Float32Array.from([12]));
  assert.equal(h.range, 12, 'range doubles to cover 12');
  // old bins pair up into the centre half: (2,3) -> 3, (4,5) -> 4, (6,7) -> 5; 12 goes to the last bin
  assert.deepEqual([...h.counts], [0, 0, 0, 1, 3, 3, 0, 1]);
  assert.equal(h.zeros, 3, 'atoms counted only when asked');
  assert.throws(() => h.add(Float32Array.from([NaN])), /calibration tensor holds NaN or infinite values/);
  assert.throws(() => h.add(Float32Array.from([Infinity])), /NaN or infinite/);
  assert.throws(() => h.observe(0, Infinity), (e: Error) => e.message === 'calibration tensor holds NaN or infinite values');
  assert.throws(() => h.observe(NaN, 1), /NaN or infinite/);
  assert.equal(h.quantile(0), -1.5);
  assert.equal(h.quantile(1), 12);
});

test('histogram: observe() sets exact extremes and the range; add(within) trusts them', () => {
  const h = new TensorHistogram(4);
  h.observe(-2, 8);
  assert.deepEqual([h.min, h.max, h.range], [-2, 8, 8]);
  h.observe(-1, 1);
  assert.deepEqual([h.min, h.max, h.range], [-2, 8, 8]);
  h.add(Float32Array.from([7.9, -2]), false, true);
  assert.deepEqual([h.min, h.max, h.count], [-2, 8, 2]);
  assert.deepEqual([...h.counts], [0, 0, 0, 1, 0, 0, 0, 1]);
  h.observe(-20, 3);
  assert.equal(h.range, 32);
  assert.equal(h.min, -20);
});

test('ranges: max, percentile, mse and kl on small known histograms; errors name the problem', () => {
  const empty = new TensorHistogram(4);
  assert.throws(() => chooseRange(empty, 'max', 0.9), (e: Error) => e.message === 'no calibration values reached this tensor');
  const extremesOnly = new TensorHistogram(4);
  extremesOnly.observe(-1, 2);
  assert.deepEqual(chooseRange(extremesOnly, 'max', 0.9), { lo: -1, hi: 2 });
  assert.throws(() => chooseRange(extremesOnly, 'percentile', 0.9), (e: Error) => e.message === 'calibrate_mode percentile needs sampled values; this tensor has only its extremes');
  const pos = new TensorHistogram(64);
  const data = Float32Array.from({ length: 1000 }, (_, i) => (i < 990 ? (i % 100) / 100 : 50));
  pos.add(data);
  assert.deepEqual(chooseRange(pos, 'max', 0.99), { lo: 0, hi: 50 });
  const p = chooseRange(pos, 'percentile', 0.98);
  assert.equal(p.lo, 0);
  assert.ok(p.hi < 1.6 && p.hi > 0.9, `percentile hi ${p.hi}`);
  const m = chooseRange(pos, 'mse', 0.99);
  assert.equal(m.lo, 0);
  assert.ok(m.hi < 50 && m.hi > 0.5, `mse hi ${m.hi}`);
  assert.deepEqual(mseRange(new TensorHistogram(4)), { lo: 0, hi: 0 }, 'an empty range stays empty');
  const k = chooseRange(pos, 'kl_divergence', 0.99);
  assert.ok(k.hi <= 50 && k.hi > 0.5);
  const flat = new TensorHistogram(4);
  flat.add(Float32Array.from([2, 2]));
  assert.deepEqual(klRange(flat), { lo: 2, hi: 2 });
  assert.deepEqual(chooseRange(flat, 'kl_divergence', 0.9), { lo: 0, hi: 2 });
  assert.equal(klThreshold(new Float64Array(10), 10, 4), 10);
  assert.equal(klThreshold(Float64Array.from([1, 1]), 2, 4), 2);
  assert.equal(klThreshold(new Float64Array(0), 0, 4), 1);
  const neg = new TensorHistogram(64);
  neg.add(Float32Array.from({ length: 500 }, (_, i) => -(i % 50) / 10));
  const nr = chooseRange(neg, 'percentile', 0.99);
  assert.equal(nr.hi, 0);
  assert.ok(nr.lo < -4.5 && nr.lo >= -4.9);
});

test('geometry: invalid sizes are refused naming the value; planCrop composes resize and offsets', () => {
  for (const [w, h] of [[0, 5], [5, 0], [-1, 5], [NaN, 5]]) {
    assert.throws(() => resizedSize(w!, h!, { resize: 'shorter', resizeSize: 8 }), (e: Error) => e.message === `resizedSize: invalid image size ${w}x${h}`);
  }
  const g = { resize: 'shorter' as const, resizeSize: 256, cropSize: 224 } as never;
  assert.deepEqual(planCrop(500, 375, g), { resizedWidth: 341, resizedHeight: 256, left: 58, top: 16, crop: 224 });
  for (const bad of [0, 1.5, -3]) {
    assert.throws(() => planCrop(10, 10, { resize: 'shorter', resizeSize: bad, cropSize: 1 } as never), (e: Error) => e.message === `geometry: invalid resizeSize ${bad}`);
    assert.throws(() => planCrop(10, 10, { resize: 'shorter', resizeSize: 4, cropSize: bad } as never), (e: Error) => e.message === `geometry: invalid cropSize ${bad}`);
  }
  assert.deepEqual(planCrop(10, 10, { resize: 'shorter', resizeSize: 1, cropSize: 1 } as never).crop, 1);
  assert.ok(roundHalfEven(-0.5) === 0);
  assert.equal(roundHalfEven(-1.5), -2);
  assert.equal(roundHalfEven(3), 3);
  assert.equal(centerCropOffset(10, 7), 2, '1.5 -> 2');
  assert.equal(centerCropOffset(7, 10), -1);
  assert.equal(centerCropOffset(6, 10), -2);
});

test('calibration subset: size checks, whole list, one class, exact picks for a fixed seed', () => {
  const entries = Array.from({ length: 12 }, (_, i) => ({ file: `f${i}`, label: i % 3 }));
  for (const bad of [-1, 1.5, NaN]) assert.throws(() => selectCalibration(entries, bad), (e: Error) => e.message === `calibration: invalid size ${bad}`);
  assert.deepEqual(selectCalibration(entries, 12), [...entries.keys()]);
  assert.deepEqual(selectCalibration(entries, 40), [...entries.keys()]);
  assert.deepEqual(selectCalibration(entries, 0), []);
  const three = selectCalibration(entries, 3);
  assert.deepEqual(three.map((i) => entries[i]!.label).sort(), [0, 1, 2]);
  const five = selectCalibration(entries, 5);
  assert.equal(five.length, 5);
  assert.deepEqual([...five].sort((a, b) => a - b), five, 'ascending');
  assert.ok(three.every((i) => five.includes(i)), 'a larger subset extends the smaller one');
  const counts = [0, 0, 0];
  for (const i of five) counts[entries[i]!.label]!++;
  assert.deepEqual(counts.sort(), [1, 2, 2]);
  assert.notDeepEqual(selectCalibration(entries, 5, 'other-seed'), undefined);
  const same = Array.from({ length: 4 }, (_, i) => ({ file: 'same', label: 0 }));
  assert.deepEqual(selectCalibration(same, 2), [0, 1], 'equal keys fall back to the datalist index');
});

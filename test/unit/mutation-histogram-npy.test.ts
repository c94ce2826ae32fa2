import { test } from 'node:test';
import assert from 'node:assert/strict';
import { zipSync } from 'fflate';
import { TensorHistogram } from '../../plugins/modelzoo/src/lib/quant/histogram';
import { decodeNpy, decodeNpz, encodeNpy, encodeNpz, float32Npy } from '../../plugins/modelzoo/src/lib/vastai/npy';

test('histogram add(): atoms are counted only when asked, extremes found unless `within`', () => {
  const h = new TensorHistogram(4, 2);
  h.add(Float32Array.from([0, 2, -1]));
  assert.deepEqual([h.zeros, h.clipHits, h.min, h.max, h.count], [0, 0, -1, 2, 3]);
  h.add(Float32Array.from([0, 0, 2]), true);
  assert.deepEqual([h.zeros, h.clipHits, h.count], [2, 1, 6]);
  const z = new TensorHistogram(4);
  z.add(Float32Array.from([0, 0, 0]));
  assert.deepEqual([z.zeros, z.count, z.range, z.counts[4]], [0, 3, 0, 3], 'zeros before any range: centre bin, atoms not asked');
  assert.equal(z.quantile(0.5), 0);
  z.add(Float32Array.from([1]));
  assert.equal(z.quantile(1), 1);
  // within: the caller's observe() already saw the extremes; add() does not look for them
  const w = new TensorHistogram(4);
  w.observe(-1, 1);
  w.add(Float32Array.from([0.5, 3]), false, true);
  assert.deepEqual([w.min, w.max, w.range], [-1, 1, 1], 'values beyond observe() clamp into the edge bins');
  assert.deepEqual([...w.counts], [0, 0, 0, 0, 0, 0, 1, 1]);
  // a batch whose extremes are both inside the current range changes no extreme
  const e = new TensorHistogram(4);
  e.add(Float32Array.from([-4, 4]));
  e.add(Float32Array.from([-1, 1]));
  assert.deepEqual([e.min, e.max, e.range], [-4, 4, 4]);
  e.add(Float32Array.from([-4]));
  assert.equal(e.min, -4);
  // quantile: the first non-empty bin reaching the target
  const q = new TensorHistogram(4);
  q.add(Float32Array.from([-3.9, 3.9]));
  // target 1 of 2 is reached at the end of bin 0, [-range, -range + width]
  assert.equal(q.quantile(0.5), -q.range + q.binWidth);
  assert.equal(q.quantile(0.75), q.max - q.binWidth / 2);
});

test('npy decode: header fields read from the header only; extra npz members and directories ignored', () => {
  const h = "{'descr': '<u2', 'fortran_order': False, 'shape': (1, 2), }".padEnd(117, ' ') + '\n';
  const bytes = Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length, 0]), Buffer.from(h, 'latin1'), Buffer.from([1, 0, 2, 0])]);
  assert.deepEqual(decodeNpy(bytes, 'x').shape, [1, 2]);
  const spaced = "{'descr':'|u1','fortran_order':False,'shape':( 2 , ),}".padEnd(53, ' ') + '\n';
  const b2 = Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, spaced.length, 0]), Buffer.from(spaced, 'latin1'), Buffer.from([1, 2])]);
  assert.deepEqual(decodeNpy(b2, 'x').shape, [2]);
  assert.throws(() => decodeNpy(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 4, 0, 0x7b, 0x7d, 0x20, 0x0a]), 'h.npy'), (e: Error) => e.message === 'h.npy: unreadable .npy header "{} \\n"');
  assert.throws(() => decodeNpy(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0]), 'short.npy'), /short\.npy: not an \.npy array/);
  const z = zipSync({ 'a.npy': encodeNpy({ dtype: '<i8', shape: [1], data: Uint8Array.from([5, 0, 0, 0, 0, 0, 0, 0]) }), 'notes.txt': Uint8Array.from([1]), 'b.npy': Uint8Array.from([1, 2]) });
  assert.throws(() => decodeNpz(z, 'z.npz'), (e: Error) => e.message === 'z.npz:b.npy: not an .npy array');
  const ok = decodeNpz(zipSync({ 'x.npy': encodeNpy(float32Npy(Float32Array.from([2]), [1])), 'readme.txt': Uint8Array.from([1]) }), 'ok.npz');
  assert.deepEqual(Object.keys(ok), ['x']);
  const zip = encodeNpz({ a: { dtype: '|u1', shape: [1], data: Uint8Array.from([1]) } });
  // member timestamps are fixed (1980-01-01), so the bytes never depend on the clock
  const dosDate = zip[12]! | (zip[13]! << 8);
  assert.equal(dosDate, (0 << 9) | (1 << 5) | 1, 'local header date is 1980-01-01');
  const sub = new Float32Array([9, 1.5, 7]).subarray(1, 2);
  assert.deepEqual([...float32Npy(sub, [1]).data], [...new Uint8Array(Float32Array.from([1.5]).buffer)]);
});

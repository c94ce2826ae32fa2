import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runs } from '../helpers/property';
import { fromFp16Bits, roundFp16, toFp16Bits } from '../../plugins/modelzoo/src/lib/vastai/fp16';
import { type NpyArray, type NpyDtype, decodeNpy, decodeNpz, encodeNpy, encodeNpz, npyToFloat64 } from '../../plugins/modelzoo/src/lib/vastai/npy';

const ITEM: Record<NpyDtype, number> = { '|u1': 1, '|i1': 1, '<u2': 2, '<i2': 2, '<i4': 4, '<i8': 8, '<f2': 2, '<f4': 4, '<f8': 8 };

const npyArray: fc.Arbitrary<NpyArray> = fc
  .tuple(fc.constantFrom(...(Object.keys(ITEM) as NpyDtype[])), fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 4 }))
  .chain(([dtype, shape]) => {
    const bytes = shape.reduce((a, d) => a * d, 1) * ITEM[dtype];
    return fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((data) => ({ dtype, shape, data }));
  });

test('property: npy encode -> decode returns the same dtype, shape and bytes, 64-byte aligned', () => {
  fc.assert(
    fc.property(npyArray, (arr) => {
      const bytes = encodeNpy(arr);
      const headerEnd = bytes.length - arr.data.length;
      assert.equal(headerEnd % 64, 0, 'data starts 64-byte aligned, as numpy writes it');
      assert.equal(bytes[headerEnd - 1], 0x0a);
      assert.deepEqual(decodeNpy(bytes, 'a.npy'), { dtype: arr.dtype, shape: arr.shape, data: Uint8Array.from(arr.data) });
      // a truncated file is refused, never read short
      if (arr.data.length > 0) assert.throws(() => decodeNpy(bytes.subarray(0, bytes.length - 1), 'a.npy'), /a\.npy: truncated/);
    }),
    { numRuns: runs(300) },
  );
});

test('property: npz encode -> decode returns every member; bytes are identical across runs', () => {
  fc.assert(
    fc.property(fc.dictionary(fc.stringMatching(/^[a-z_][a-z0-9_]{0,7}$/), npyArray, { maxKeys: 4 }), (arrays) => {
      const bytes = encodeNpz(arrays);
      assert.deepEqual(bytes, encodeNpz(arrays));
      const back = decodeNpz(bytes, 'x.npz');
      assert.deepEqual(Object.keys(back).sort(), Object.keys(arrays).sort());
      for (const [k, a] of Object.entries(arrays)) assert.deepEqual(back[k], { dtype: a.dtype, shape: a.shape, data: Uint8Array.from(a.data) });
    }),
    { numRuns: runs(100) },
  );
});

test('property: npyToFloat64 reads each dtype as a little-endian DataView does', () => {
  fc.assert(
    fc.property(npyArray, (arr) => {
      const v = new DataView(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
      const n = arr.data.length / ITEM[arr.dtype];
      const read = (i: number): number => {
        switch (arr.dtype) {
          case '|u1': return v.getUint8(i);
          case '|i1': return v.getInt8(i);
          case '<u2': return v.getUint16(2 * i, true);
          case '<i2': return v.getInt16(2 * i, true);
          case '<i4': return v.getInt32(4 * i, true);
          case '<i8': return Number(v.getBigInt64(8 * i, true));
          case '<f2': return fromFp16Bits(v.getUint16(2 * i, true));
          case '<f4': return v.getFloat32(4 * i, true);
          case '<f8': return v.getFloat64(8 * i, true);
        }
      };
      assert.deepEqual(Array.from(npyToFloat64(arr)), Array.from({ length: n }, (_, i) => read(i)));
    }),
    { numRuns: runs(200) },
  );
});

// Oracle for fp16 rounding: every finite positive fp16 value, ascending (bit patterns 0..0x7bff are
// monotonic), searched for the nearest to fround(x) with ties to the even bit pattern.
const POSITIVE = Array.from({ length: 0x7c00 }, (_, b) => {
  const e = b >> 10;
  const m = b & 0x3ff;
  return e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
});
function oracleBits(x: number): number {
  const f = Math.fround(x); // the conversion starts from float32, like numpy's float32 -> float16
  if (Number.isNaN(f)) return 0x7e00;
  const sign = f < 0 || Object.is(f, -0) ? 0x8000 : 0;
  const a = Math.abs(f);
  if (a >= 65520) return sign | 0x7c00; // half-way to 2^16 and beyond round to infinity
  let lo = 0;
  let hi = POSITIVE.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (POSITIVE[mid]! <= a) lo = mid;
    else hi = mid;
  }
  const dLo = a - POSITIVE[lo]!;
  const dHi = POSITIVE[hi]! - a;
  const b = dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi;
  return sign | b;
}

test('fp16: every bit pattern survives bits -> value -> bits (NaNs stay NaN)', () => {
  for (let b = 0; b < 0x10000; b++) {
    const v = fromFp16Bits(b);
    const isNaN = (b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0;
    if (isNaN) {
      assert.ok(Number.isNaN(v));
      assert.ok(Number.isNaN(fromFp16Bits(toFp16Bits(v))));
    } else {
      assert.equal(toFp16Bits(v), b, `bits 0x${b.toString(16)}`);
    }
  }
});

test('property: toFp16Bits rounds to the nearest fp16, ties to even, as the sort-based oracle says', () => {
  const anyScale = fc.oneof(
    fc.double({ noNaN: true }),
    fc.double({ min: -70000, max: 70000, noNaN: true }),
    fc.double({ min: -1e-4, max: 1e-4, noNaN: true }), // subnormals and the underflow edge
    fc.integer({ min: 0, max: 0x7bff }).map((b) => (POSITIVE[b]! + POSITIVE[Math.min(b + 1, 0x7bff)]!) / 2), // exact ties
  );
  fc.assert(
    fc.property(anyScale, (x) => {
      assert.equal(toFp16Bits(x), oracleBits(x), `x = ${x}`);
      const r = roundFp16(x);
      if (Math.abs(Math.fround(x)) < 65520) assert.equal(r, Math.sign(r) * POSITIVE[oracleBits(x) & 0x7fff]!);
    }),
    { numRuns: runs(3000) },
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DTYPE_BYTES, type DType, NdArray, contiguousStrides, viewBytes } from '../../plugins/modelzoo/src/lib/checkpoints/ndarray';
import { assertSameFloats } from '../helpers/mutation-checkpoints-pickle-fixtures';

// Oracles: Node's Buffer writers (IEEE and two's complement, either byte order) and a direct index
// formula (offset + sum of index * stride) for strided views.
const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
const arr = (dtype: DType, bytes: Uint8Array | undefined, shape: number[], strides = contiguousStrides(shape), offset = 0, le = true) =>
  new NdArray({ dtype, bytes, name: 'ck.pth:data/0' }, shape, strides, offset, le);

test('element widths of every dtype', () => {
  assert.deepEqual(DTYPE_BYTES, { float16: 2, bfloat16: 2, float32: 4, float64: 8, int8: 1, uint8: 1, int16: 2, int32: 4, int64: 8, bool: 1 });
});

test('dtype, size and default byte order of a view', () => {
  const a = new NdArray({ dtype: 'int16', name: 'x' }, [2, 3, 4], [12, 4, 1], 0);
  assert.equal(a.dtype, 'int16');
  assert.equal(a.size, 24);
  assert.equal(a.littleEndian, true);
  assert.equal(arr('float32', undefined, []).size, 1);
  assert.equal(arr('float32', undefined, [5, 0]).size, 0);
});

test('contiguous (row-major) strides', () => {
  assert.deepEqual(contiguousStrides([]), []);
  assert.deepEqual(contiguousStrides([7]), [1]);
  assert.deepEqual(contiguousStrides([2, 3, 4]), [12, 4, 1]);
  assert.deepEqual(contiguousStrides([3, 0, 2]), [0, 2, 1]);
  assert.deepEqual(contiguousStrides([5, 1, 6]), [6, 6, 1]);
});

test('viewBytes: bytes up to the last element a view reaches; 0 for an empty view whatever its offset', () => {
  assert.equal(viewBytes([2, 3], [3, 1], 0, 4), 24);
  assert.equal(viewBytes([2, 3], [3, 1], 2, 4), 32);
  assert.equal(viewBytes([2, 3], [1, 2], 0, 2), 12);
  assert.equal(viewBytes([3, 2], [4, 1], 1, 8), (1 + 2 * 4 + 1 + 1) * 8);
  assert.equal(viewBytes([4], [0], 3, 4), 16);
  assert.equal(viewBytes([], [], 5, 4), 24);
  assert.equal(viewBytes([0], [1], 5, 4), 0);
  assert.equal(viewBytes([3, 0], [0, 1], 9, 2), 0);
  assert.equal(viewBytes([0, 3], [3, 1], 9, 2), 0);
});

test('toFloat32: data never loaded, or shorter than the view, is an error naming the storage', () => {
  assert.throws(() => arr('float32', undefined, [2]).toFloat32(), (e: Error) => e.message === 'ck.pth:data/0: tensor data was never loaded');
  assert.throws(() => arr('float32', new Uint8Array(20), [2, 3]).toFloat32(), (e: Error) => e.message === 'ck.pth:data/0: tensor of shape [2,3] needs 24 bytes, storage has 20');
  assert.throws(() => arr('float32', new Uint8Array(24), [2, 3], [3, 1], 1).toFloat32(), (e: Error) => e.message === 'ck.pth:data/0: tensor of shape [2,3] needs 28 bytes, storage has 24');
  assert.throws(() => arr('int64', new Uint8Array(7), []).toFloat32(), (e: Error) => e.message === 'ck.pth:data/0: tensor of shape [] needs 8 bytes, storage has 7');
  // exactly enough is fine; an empty view needs nothing, even past the end
  assert.deepEqual([...arr('float32', f32(1, 2, 3, 4, 5, 6), [2, 3]).toFloat32()], [1, 2, 3, 4, 5, 6]);
  assert.equal(arr('float32', new Uint8Array(0), [0, 3], [3, 1], 10).toFloat32().length, 0);
  assert.equal(arr('float32', new Uint8Array(0), [4, 0]).toFloat32().length, 0);
});

test('strided views read in row-major order of the view: offsets, transposes, broadcasts, 3-d', () => {
  const base = Float32Array.from({ length: 40 }, (_, i) => i * 1.5 - 7);
  const bytes = new Uint8Array(base.buffer);
  const oracle = (shape: number[], strides: number[], offset: number) => {
    const out: number[] = [];
    const rec = (d: number, pos: number) => {
      if (d === shape.length) return void out.push(base[pos]!);
      for (let i = 0; i < shape[d]!; i++) rec(d + 1, pos + i * strides[d]!);
    };
    rec(0, offset);
    return out;
  };
  const views: [number[], number[], number][] = [
    [[2, 3], [3, 1], 0],
    [[3, 2], [1, 3], 0], // transpose of the above
    [[2, 3], [3, 1], 5],
    [[2, 2, 3], [12, 3, 1], 1],
    [[3, 2, 2], [1, 3, 12], 2], // fully reversed 3-d
    [[2, 3, 2], [20, 1, 7], 0],
    [[4, 3], [0, 2], 3], // broadcast rows
    [[3], [13], 0],
    [[1, 1, 5], [0, 0, 2], 4],
    [[], [], 17], // 0-d
  ];
  for (const [shape, strides, offset] of views) {
    const got = arr('float32', bytes, shape, strides, offset).toFloat32();
    assert.ok(got instanceof Float32Array);
    assert.deepEqual([...got], oracle(shape, strides, offset), `${shape} / ${strides} @ ${offset}`);
  }
});

test('storage bytes may be a window into a larger buffer', () => {
  const big = new Uint8Array(64);
  const dv = new DataView(big.buffer);
  dv.setFloat32(12, 2.5, true);
  dv.setFloat32(16, -4, true);
  const window = big.subarray(12, 20);
  assert.deepEqual([...arr('float32', window, [2]).toFloat32()], [2.5, -4]);
  assert.throws(() => arr('float32', window, [3]).toFloat32(), /needs 12 bytes, storage has 8/);
});

function encode(dtype: DType, values: number[], le: boolean): Uint8Array {
  const w = DTYPE_BYTES[dtype];
  const buf = Buffer.alloc(values.length * w);
  values.forEach((v, i) => {
    const o = i * w;
    const E = le ? 'LE' : 'BE';
    if (dtype === 'float32') buf[`writeFloat${E}`](v, o);
    else if (dtype === 'float64') buf[`writeDouble${E}`](v, o);
    else if (dtype === 'int8') buf.writeInt8(v, o);
    else if (dtype === 'uint8' || dtype === 'bool') buf.writeUInt8(v, o);
    else if (dtype === 'int16') buf[`writeInt16${E}`](v, o);
    else if (dtype === 'int32') buf[`writeInt32${E}`](v, o);
    else if (dtype === 'int64') buf[`writeBigInt64${E}`](BigInt(v), o);
    else if (dtype === 'bfloat16') {
      // bfloat16 is the top half of the float32 (the values below are exact in bfloat16)
      const b = Buffer.alloc(4);
      b.writeFloatBE(v);
      buf[`writeUInt16${E}`](b.readUInt16BE(0), o);
    } else throw new Error(dtype);
  });
  return new Uint8Array(buf);
}

test('every dtype in both byte orders converts to float32 as IEEE / two\'s complement say', () => {
  const cases: [DType, number[]][] = [
    ['float32', [1.5, -3.25e10, 1e-40, -0, Infinity]],
    ['float64', [1 / 3, -1e300, 2.5e-310, 7, -0.1]],
    ['int8', [-128, -1, 0, 1, 127]],
    ['uint8', [0, 1, 127, 128, 255]],
    ['bool', [0, 1, 1, 0]],
    ['int16', [-32768, -2, 0, 300, 32767]],
    ['int32', [-(2 ** 31), -70000, 0, 70000, 2 ** 31 - 1]],
    ['int64', [-(2 ** 52), -(2 ** 40) - 1, -5, 0, 2 ** 40 + 3]],
    ['bfloat16', [1.5, -2, 3.140625, -0, Infinity, -Infinity, 2 ** -130, 1.1754943508222875e-38, 65280, -1.984375]],
  ];
  for (const [dtype, values] of cases) {
    for (const le of [true, false]) {
      const got = arr(dtype, encode(dtype, values, le), [values.length], [1], 0, le).toFloat32();
      assertSameFloats(got, values, `${dtype} ${le ? 'LE' : 'BE'}`);
    }
  }
  const nan = arr('bfloat16', Uint8Array.from([0xc0, 0x7f]), [1]).toFloat32();
  assert.ok(Number.isNaN(nan[0]));
  // byte order matters for multi-byte types: the same bytes read the other way round
  assert.deepEqual([...arr('int16', Uint8Array.from([1, 2]), [1], [1], 0, false).toFloat32()], [258]);
  assert.deepEqual([...arr('int16', Uint8Array.from([1, 2]), [1], [1], 0, true).toFloat32()], [513]);
  assert.deepEqual([...arr('bfloat16', Uint8Array.from([0x3f, 0xc0]), [1], [1], 0, false).toFloat32()], [1.5]);
  assert.deepEqual([...arr('float16', Uint8Array.from([0x3c, 0x00]), [1], [1], 0, false).toFloat32()], [1]);
  assert.deepEqual([...arr('float16', Uint8Array.from([0x00, 0x3c]), [1], [1], 0, true).toFloat32()], [1]);
});

test('float16: every bit pattern class (zero, subnormal, normal, max, inf, NaN) against its formula', () => {
  const half = (bits: number) => arr('float16', Uint8Array.from([bits & 0xff, bits >> 8]), [1]).toFloat32()[0]!;
  assert.ok(Object.is(half(0x0000), 0));
  assert.ok(Object.is(half(0x8000), -0));
  assert.equal(half(0x0001), 2 ** -24);
  assert.equal(half(0x8001), -(2 ** -24));
  assert.equal(half(0x03ff), Math.fround(1023 * 2 ** -24));
  assert.equal(half(0x0400), 2 ** -14);
  assert.equal(half(0x3c00), 1);
  assert.equal(half(0x3c01), 1 + 2 ** -10);
  assert.equal(half(0xc000), -2);
  assert.equal(half(0x7bff), 65504);
  assert.equal(half(0xfbff), -65504);
  assert.equal(half(0x7c00), Infinity);
  assert.equal(half(0xfc00), -Infinity);
  assert.ok(Number.isNaN(half(0x7c01)));
  assert.ok(Number.isNaN(half(0xfe00)));
  assert.equal(half(0x5640), 100);
  assert.equal(half(0x4248), 3.140625);
});

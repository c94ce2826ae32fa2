import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NdArray } from '../../plugins/modelzoo/src/lib/checkpoints/ndarray';
import { NUMPY_GLOBALS, NpArray, NpDtype, asNdArray } from '../../plugins/modelzoo/src/lib/checkpoints/numpy-globals';
import { BASE_GLOBALS, type GlobalTable, SETSTATE, UnpicklingError, unpickle } from '../../plugins/modelzoo/src/lib/checkpoints/pickle';
import { arraysFixture, assertSameFloats, decodeValue, hexBytes, pk } from '../helpers/mutation-checkpoints-pickle-fixtures';

// Oracle: numpy 1.24's own pickle.dumps of each array (protocol 2: _reconstruct + BUILD; protocol 5:
// _frombuffer over an in-band buffer) and its astype(float32) values (test/fixtures/mutation-checkpoints-pickle).
const GLOBALS: GlobalTable = { ...BASE_GLOBALS, ...NUMPY_GLOBALS };
const load = (data: Uint8Array, globals: GlobalTable = GLOBALS, where = 'w.pdparams') => {
  const r = unpickle(data, { globals, where });
  assert.equal(r.end, data.length);
  return r.value;
};
const DTYPES: Record<string, string> = {
  f2: 'float16', f4: 'float32', f8: 'float64', i1: 'int8', u1: 'uint8', i2: 'int16', i4: 'int32', i8: 'int64', b1: 'bool',
};
const cStrides = (shape: number[]) => shape.map((_, i) => shape.slice(i + 1).reduce((a, d) => a * d, 1));
const fStrides = (shape: number[]) => shape.map((_, i) => shape.slice(0, i).reduce((a, d) => a * d, 1));
const isUnpickling = (message: string) => (e: unknown) => {
  assert.ok(e instanceof UnpicklingError, `not an UnpicklingError: ${String(e)}`);
  assert.equal(e.message, message);
  return true;
};

test('numpy pickles of every numeric dtype, both byte orders, C/Fortran order, 0-d and empty: values as numpy gives them', () => {
  assert.ok(arraysFixture.cases.length > 30);
  for (const c of arraysFixture.cases.filter((x) => x.values)) {
    // Empty arrays at protocol 2 included: their data is py2's __builtin__.bytes() (allowlisted for exactly that call).
    const v = load(hexBytes(c.hex));
    assert.ok(v instanceof NpArray, c.name);
    const a = asNdArray(v)!;
    assert.ok(a instanceof NdArray, c.name);
    assert.deepEqual(a.shape, c.shape, c.name);
    assert.equal(a.dtype, DTYPES[c.code], c.name);
    assert.equal(a.littleEndian, !c.bigEndian, c.name);
    assert.deepEqual(a.strides, c.fortran ? fStrides(c.shape!) : cStrides(c.shape!), c.name);
    assert.equal(a.offset, 0, c.name);
    assert.equal(a.storage.name, `numpy ${c.code} array`, c.name);
    assertSameFloats(a.toFloat32(), c.values!.map(decodeValue), c.name);
  }
});

test('numpy scalars (multiarray.scalar) load as plain numbers, as numpy converts them to float32', () => {
  const scalars = arraysFixture.cases.filter((x) => x.value !== undefined);
  assert.equal(scalars.length, 6);
  for (const c of scalars) {
    const v = load(hexBytes(c.hex));
    assert.equal(typeof v, 'number', c.name);
    assertSameFloats([v as number], [decodeValue(c.value!)], c.name);
  }
});

test('numpy >= 2 spells the same globals numpy._core.*: those load without any numpy.core entry', () => {
  const only2: GlobalTable = Object.fromEntries(Object.entries(GLOBALS).filter(([k]) => !k.startsWith('numpy.core.')));
  const byName = (n: string) => arraysFixture.cases.find((c) => c.name === n)!;
  // Protocol 2 names globals as text lines; protocol 5 as a length-prefixed string (the frame length is not checked).
  const p2 = (hex: string) => new Uint8Array(Buffer.from(Buffer.from(hex, 'hex').toString('latin1').replaceAll('numpy.core.', 'numpy._core.'), 'latin1'));
  const oldName = Buffer.from([0x8c, 18, ...Buffer.from('numpy.core.numeric')]).toString('hex');
  const newName = Buffer.from([0x8c, 19, ...Buffer.from('numpy._core.numeric')]).toString('hex');
  for (const n of ['f4_c_2x3/p2', 'f8_be_fortran_3x4/p2', 'f4_c_2x3/p5', 'f8_be_fortran_3x4/p5']) {
    const c = byName(n);
    assert.throws(() => load(hexBytes(c.hex), only2), /refusing to load global 'numpy\.core\./, n);
    const data = n.endsWith('p2') ? p2(c.hex) : hexBytes(c.hex.replace(oldName, newName));
    const a = asNdArray(load(data, only2))!;
    assert.deepEqual(a.shape, c.shape, n);
    assertSameFloats(a.toFloat32(), c.values!.map(decodeValue), n);
  }
  assert.equal(load(p2(byName('scalar_f4').hex), only2), 1.5);
});

test('a Paddle-style dict of arrays keeps its order, its arrays and its non-tensor name table', () => {
  const v = load(hexBytes(arraysFixture.paddleLike)) as Map<string, unknown>;
  assert.deepEqual([...v.keys()], ['conv.w', 'conv.b', 'StructuredToParameterName@@']);
  assert.deepEqual([...asNdArray(v.get('conv.b'))!.toFloat32()], [0.5, -1]);
  assert.deepEqual([...asNdArray(v.get('conv.w'))!.toFloat32()], [-2, -0.75, 0.5, 1.75, 3, 4.25]);
  assert.equal(asNdArray(v.get('StructuredToParameterName@@')), undefined);
});

test('every numpy global names itself: REDUCE with a non-tuple argument says which global', () => {
  const keys = Object.keys(NUMPY_GLOBALS);
  assert.equal(keys.length, 8);
  for (const k of keys) {
    const dot = k.lastIndexOf('.');
    const data = pk(`c${k.slice(0, dot)}\n${k.slice(dot + 1)}\nK\x01R.`);
    assert.equal(NUMPY_GLOBALS[k]!.qualname, k);
    assert.throws(() => load(data), isUnpickling(`w.pdparams: REDUCE ${k}: arguments are not a tuple (pickle offset ${data.length - 1})`), k);
  }
});

test('numpy object and string arrays are refused by their dtype, naming it', () => {
  assert.throws(() => load(hexBytes(arraysFixture.objectArray)), isUnpickling("numpy dtype 'O8' is not supported in checkpoints (numeric arrays only)"));
  assert.throws(() => load(hexBytes(arraysFixture.unicodeArray)), isUnpickling("numpy dtype 'U2' is not supported in checkpoints (numeric arrays only)"));
});

const dtypeCall = (code: string) => NUMPY_GLOBALS['numpy.dtype']!.call([code, false, true]) as NpDtype;

test('numpy.dtype: one leading byte-order character is dropped; b1 and ? are bool; anything else is refused', () => {
  for (const [code, want] of [['f4', 'float32'], ['<f4', 'float32'], ['>f8', 'float64'], ['=i2', 'int16'], ['|u1', 'uint8'], ['|i1', 'int8'], ['<i8', 'int64'], ['<i4', 'int32'], ['<f2', 'float16'], ['|b1', 'bool'], ['?', 'bool']] as const) {
    const d = dtypeCall(code);
    assert.ok(d instanceof NpDtype, code);
    assert.equal(d.code, code);
    assert.equal(d.dtype, want, code);
  }
  for (const bad of ['f4>', '<<f4', 'f', 'f16', 'c8', 'u2', 'u4', 'u8', 'M8', 'V4', '', 'F4', '<b2']) {
    assert.throws(() => dtypeCall(bad), isUnpickling(`numpy dtype '${bad}' is not supported in checkpoints (numeric arrays only)`), bad);
  }
  for (const args of [[], [4], [null], [['f4']]]) {
    assert.throws(() => NUMPY_GLOBALS['numpy.dtype']!.call(args), isUnpickling('numpy.dtype needs a type code'), JSON.stringify(args));
  }
});

test('dtype byte order: native until BUILD says otherwise; only > is big-endian', () => {
  const d = new NpDtype('f4');
  assert.equal(d.byteorder, '=');
  assert.equal(d.littleEndian, true);
  for (const [order, le] of [['<', true], ['|', true], ['=', true], ['>', false]] as const) {
    d[SETSTATE]([3, order, null, null, null, -1, -1, 0]);
    assert.equal(d.byteorder, order);
    assert.equal(d.littleEndian, le, order);
  }
  // states that carry no byte order leave it as it was
  for (const state of [null, '>>', 'x>', [3], [3, 1], new Map([[1, '>']])]) {
    const e = new NpDtype('f4');
    e[SETSTATE](state);
    assert.equal(e.byteorder, '=', JSON.stringify(state));
  }
});

const f4 = () => dtypeCall('<f4');
const f4bytes = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
const build = (state: unknown) => {
  const a = new NpArray();
  a[SETSTATE](state);
  return a;
};

test('numpy array BUILD: the state must be a 5-tuple with a dtype and raw bytes', () => {
  assert.equal(new NpArray().array, undefined);
  for (const s of [null, 5, 'abcde', new Map(), [1, [1], f4(), false]]) {
    assert.throws(() => build(s), isUnpickling('numpy array state is not a 5-tuple'), String(s));
  }
  assert.throws(() => build([1, [1], '<f4', false, f4bytes(1)]), isUnpickling('numpy array state has no dtype'));
  assert.throws(() => build([1, [1], null, false, f4bytes(1)]), isUnpickling('numpy array state has no dtype'));
  assert.throws(() => build([1, [2], f4(), false, [1, 2]]), isUnpickling('numpy array of dtype <f4 holds Python objects; only numeric arrays are read'));
  assert.throws(() => build([1, [1], dtypeCall('|u1'), false, 'x']), isUnpickling('numpy array of dtype |u1 holds Python objects; only numeric arrays are read'));
  // extra items after the fifth are ignored
  const a = build([1, [2], f4(), false, f4bytes(7, 8), 'extra']).array!;
  assert.deepEqual([...a.toFloat32()], [7, 8]);
});

test('numpy array shape: a tuple of non-negative integers, and exactly as many bytes as it needs', () => {
  for (const shape of [null, 2, '2', [2, -1], [-2], [1.5], ['2'], [2n], [NaN], [Infinity], [2, null]]) {
    assert.throws(() => build([1, shape, f4(), false, f4bytes(1, 2)]), isUnpickling('numpy array shape is not a tuple of integers'), String(shape));
  }
  assert.throws(() => build([1, [2, 3], f4(), false, new Uint8Array(20)]), isUnpickling('numpy array [2,3] <f4: expected 24 bytes, got 20'));
  assert.throws(() => build([1, [2, 3], f4(), false, new Uint8Array(28)]), isUnpickling('numpy array [2,3] <f4: expected 24 bytes, got 28'));
  assert.throws(() => build([1, [], dtypeCall('>f8'), false, new Uint8Array(4)]), isUnpickling('numpy array [] >f8: expected 8 bytes, got 4'));
  const empty = build([1, [0, 4], f4(), false, new Uint8Array(0)]).array!;
  assert.deepEqual(empty.shape, [0, 4]);
  assert.equal(empty.toFloat32().length, 0);
  const zeroD = build([1, [], f4(), false, f4bytes(2.5)]).array!;
  assert.deepEqual([zeroD.shape, zeroD.strides, [...zeroD.toFloat32()]], [[], [], [2.5]]);
});

test('numpy array order: only a fortran flag of exactly True means column-major', () => {
  const raw = f4bytes(1, 2, 3, 4, 5, 6);
  const f = build([1, [2, 3], f4(), true, raw]).array!;
  assert.deepEqual(f.strides, [1, 2]);
  assert.deepEqual([...f.toFloat32()], [1, 3, 5, 2, 4, 6]);
  for (const notTrue of [false, 1, 'F', null]) {
    const c = build([1, [2, 3], f4(), notTrue, raw]).array!;
    assert.deepEqual(c.strides, [3, 1], String(notTrue));
    assert.deepEqual([...c.toFloat32()], [1, 2, 3, 4, 5, 6]);
  }
  const f3 = build([1, [2, 3, 4], f4(), true, new Uint8Array(96)]).array!;
  assert.deepEqual(f3.strides, [1, 2, 6]);
});

test('a BUILD that fails inside a pickle stops the load with the emulation\'s message', () => {
  const data = pk('cnumpy\nndarray\n)R(K\x01K\x02\x85cnumpy\ndtype\nX\x02\x00\x00\x00f4\x89\x88\x87R\x89C\x04\x00\x00\x80?tb.');
  assert.throws(() => load(data), isUnpickling('numpy array [2] f4: expected 8 bytes, got 4'));
  // numpy.ndarray itself makes the empty array BUILD fills
  const ok = load(pk('cnumpy\nndarray\n)R(K\x01K\x01\x85cnumpy\ndtype\nX\x02\x00\x00\x00f4\x89\x88\x87R\x89C\x04\x00\x00\x80?tb.'));
  assert.ok(ok instanceof NpArray);
  assert.deepEqual([...asNdArray(ok)!.toFloat32()], [1]);
  assert.ok(NUMPY_GLOBALS['numpy.ndarray']!.call([]) instanceof NpArray);
  assert.ok(NUMPY_GLOBALS['numpy.core.multiarray._reconstruct']!.call([]) instanceof NpArray);
  assert.ok(NUMPY_GLOBALS['numpy._core.multiarray._reconstruct']!.call([]) instanceof NpArray);
});

test('numpy scalar: needs a dtype and its bytes, exactly one element of them', () => {
  for (const prefix of ['numpy.core', 'numpy._core']) {
    const scalar = NUMPY_GLOBALS[`${prefix}.multiarray.scalar`]!;
    assert.equal(scalar.call([f4(), f4bytes(-0.5)]), -0.5);
    assert.equal(scalar.call([dtypeCall('<i8'), new Uint8Array([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]), -2);
    const be = dtypeCall('>i2');
    be[SETSTATE]([3, '>', null, null, null, -1, -1, 0]);
    assert.equal(scalar.call([be, new Uint8Array([1, 2])]), 258);
    assert.throws(() => scalar.call(['f4', f4bytes(1)]), isUnpickling('numpy scalar needs a dtype and bytes'));
    assert.throws(() => scalar.call([f4(), [0, 0, 128, 63]]), isUnpickling('numpy scalar needs a dtype and bytes'));
    assert.throws(() => scalar.call([]), isUnpickling('numpy scalar needs a dtype and bytes'));
    assert.throws(() => scalar.call([f4(), new Uint8Array(2)]), isUnpickling('numpy array [] <f4: expected 4 bytes, got 2'));
  }
});

test('numpy _frombuffer: bytes, dtype, shape and order (F is column-major, anything else row-major)', () => {
  for (const prefix of ['numpy.core', 'numpy._core']) {
    const fb = NUMPY_GLOBALS[`${prefix}.numeric._frombuffer`]!;
    const raw = f4bytes(1, 2, 3, 4, 5, 6);
    const f = fb.call([raw, f4(), [2, 3], 'F']) as NpArray;
    assert.ok(f instanceof NpArray);
    assert.deepEqual([f.array!.strides, [...f.array!.toFloat32()]], [[1, 2], [1, 3, 5, 2, 4, 6]]);
    for (const order of ['C', 'A', 'f', null]) {
      const c = (fb.call([raw, f4(), [2, 3], order]) as NpArray).array!;
      assert.deepEqual([c.strides, [...c.toFloat32()]], [[3, 1], [1, 2, 3, 4, 5, 6]], String(order));
    }
    assert.throws(() => fb.call([[1, 2, 3, 4], f4(), [1], 'C']), isUnpickling('_frombuffer needs bytes and a dtype'));
    assert.throws(() => fb.call([f4bytes(1), '<f4', [1], 'C']), isUnpickling('_frombuffer needs bytes and a dtype'));
    assert.throws(() => fb.call([f4bytes(1), f4(), 1, 'C']), isUnpickling('numpy array shape is not a tuple of integers'));
    assert.throws(() => fb.call([f4bytes(1), f4(), [2], 'C']), isUnpickling('numpy array [2] <f4: expected 8 bytes, got 4'));
  }
});

test('asNdArray: an NdArray as is, a built numpy array\'s array, nothing else', () => {
  const nd = new NdArray({ dtype: 'float32', bytes: f4bytes(1), name: 't' }, [1], [1], 0);
  assert.equal(asNdArray(nd), nd);
  const built = build([1, [1], f4(), false, f4bytes(1)]);
  assert.equal(asNdArray(built), built.array);
  assert.ok(built.array instanceof NdArray);
  for (const other of [new NpArray(), null, undefined, 1, 'x', [nd], new Map([['a', nd]]), { array: nd }]) {
    assert.equal(asNdArray(other), undefined);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NUMPY_GLOBALS, asNdArray } from '../../plugins/modelzoo/src/lib/checkpoints/numpy-globals';
import { BASE_GLOBALS, UnpicklingError, unpickle } from '../../plugins/modelzoo/src/lib/checkpoints/pickle';
import { TORCH_GLOBALS, parseTorch } from '../../plugins/modelzoo/src/lib/checkpoints/torch-file';

const b = (...parts: (string | number[])[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : p)));
const load = (data: Uint8Array) => unpickle(data, { globals: TORCH_GLOBALS, where: 'test.pkl' }).value;

test('decodes protocol-2 containers, ints, floats, strings and memo references', () => {
  // {'a': [1, -2, 300, 70000], 'b': ('x', 1.5, None, True), 'c': <memo of the list>}
  const data = b(
    [0x80, 2], '}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01J', [0xfe, 0xff, 0xff, 0xff], 'M', [0x2c, 0x01],
    'J', [0x70, 0x11, 0x01, 0x00], 'eX\x01\x00\x00\x00b(X\x01\x00\x00\x00xG', [0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
    'N', [0x88], 'tX\x01\x00\x00\x00ch\x02u.',
  );
  const v = load(data) as Map<string, unknown>;
  assert.deepEqual(v.get('a'), [1, -2, 300, 70000]);
  assert.deepEqual(v.get('b'), ['x', 1.5, null, true]);
  assert.equal(v.get('c'), v.get('a'));
});

test('refuses os.system via GLOBAL + REDUCE, naming the global', () => {
  const data = b([0x80, 2], 'cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03.');
  assert.throws(() => load(data), (e: Error) => e instanceof UnpicklingError && /refusing to load global 'os\.system'/.test(e.message) && /test\.pkl/.test(e.message));
});

test('refuses builtins.eval via STACK_GLOBAL (protocol 4)', () => {
  const data = b([0x80, 4, 0x95], [30, 0, 0, 0, 0, 0, 0, 0], [0x8c, 8], 'builtins', [0x94, 0x8c, 4], 'eval', [0x94, 0x93, 0x94],
    [0x8c, 9], '1+1;bad()', [0x94, 0x85, 0x94], 'R', [0x94], '.');
  assert.throws(() => load(data), /refusing to load global 'builtins\.eval'/);
});

test('refuses a hostile reduce nested inside allowlisted calls (OrderedDict of a tensor rebuild)', () => {
  // collections.OrderedDict([( 'w', posix.system('id') )]) -- the inner REDUCE is reached first.
  const data = b([0x80, 2], 'ccollections\nOrderedDict\n]((X\x01\x00\x00\x00wcposix\nsystem\nX\x02\x00\x00\x00id\x85Rtla\x85R.');
  assert.throws(() => load(data), /refusing to load global 'posix\.system'/);
});

test('refuses INST, EXT and REDUCE on a non-callable', () => {
  assert.throws(() => load(b('(X\x02\x00\x00\x00idisubprocess\ncheck_output\n.')), /refusing to load global 'subprocess\.check_output'/);
  assert.throws(() => load(b([0x80, 2, 0x82, 1], '.')), /extension-registry/);
  assert.throws(() => load(b([0x80, 2], 'K\x01)R.')), /REDUCE on a value that is not an allowlisted global/);
});

test('a hostile pickle inside a torch zip never reaches the storage loader', () => {
  assert.throws(() => parseTorch(b([0x80, 2], 'cos\nsystem\n.'), 'evil.pth'), /evil\.pth.*refusing to load global 'os\.system'/s);
});

test('numpy arrays: _reconstruct + BUILD, big-endian dtypes and Fortran order', () => {
  // numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b') then BUILD (1, (2, 2), dtype('>f4'), True, raw)
  const raw = Buffer.alloc(16);
  [1, 2, 3, 4].forEach((v, i) => raw.writeFloatBE(v, i * 4)); // Fortran order: column-major
  const data = b(
    [0x80, 2], 'cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R',
    '(K\x01K\x02K\x02\x86cnumpy\ndtype\nX\x02\x00\x00\x00f4\x89\x88\x87R(K\x03X\x01\x00\x00\x00>NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb',
    '\x88C\x10', [...raw], 'tb.',
  );
  const a = asNdArray(unpickle(data, { globals: { ...BASE_GLOBALS, ...NUMPY_GLOBALS }, where: 'np.pkl' }).value)!;
  assert.deepEqual(a.shape, [2, 2]);
  assert.deepEqual([...a.toFloat32()], [1, 3, 2, 4]);
});

test('numpy object arrays are refused', () => {
  const data = b(
    [0x80, 2], 'cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R',
    '(K\x01K\x01\x85cnumpy\ndtype\nX\x02\x00\x00\x00O8\x89\x88\x87R', 'tb.',
  );
  assert.throws(() => unpickle(data, { globals: NUMPY_GLOBALS, where: 'obj.pkl' }), /numpy dtype 'O8' is not supported/);
});

// Empty bytes at pickle protocols 0..2: CPython 3 writes b'' (and so the data of an empty numpy array) as py2's
// __builtin__.bytes called with an empty tuple. The unpickler accepts exactly that call; bytes(n) would allocate
// n bytes, and every other argument is refused naming the file, the global and the offset.
// Oracle: test/fixtures/mutation-checkpoints-pickle-empty/empty.json, written once by make.py there (CPython 3.11,
// numpy 1.24); the tests never call Python.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NUMPY_GLOBALS, NpArray, asNdArray } from '../../plugins/modelzoo/src/lib/checkpoints/numpy-globals';
import { BASE_GLOBALS, type GlobalTable, UnpicklingError, unpickle } from '../../plugins/modelzoo/src/lib/checkpoints/pickle';
import { TORCH_GLOBALS } from '../../plugins/modelzoo/src/lib/checkpoints/torch-file';
import { assertSameFloats, hexBytes, pk } from '../helpers/mutation-checkpoints-pickle-fixtures';

interface EmptyCase {
  name: string;
  protocol: number;
  hex: string;
  opcodes: string[];
  shape?: number[];
  dtype?: string;
}
const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/mutation-checkpoints-pickle-empty/empty.json'), 'utf8')) as {
  cases: EmptyCase[];
};
const byName = (name: string): EmptyCase => {
  const c = fixture.cases.find((x) => x.name === name);
  assert.ok(c, name);
  return c;
};

const PADDLE: GlobalTable = { ...BASE_GLOBALS, ...NUMPY_GLOBALS };
const load = (data: Uint8Array, globals: GlobalTable = PADDLE, where = 'w.pdparams') => {
  const r = unpickle(data, { globals, where });
  assert.equal(r.end, data.length);
  return r.value;
};
const refused = (message: string) => (e: unknown) => {
  assert.ok(e instanceof UnpicklingError, `not an UnpicklingError: ${String(e)}`);
  assert.equal(e.message, message);
  return true;
};
const NO_ARGS = "only bytes() with no arguments is allowed (Python's b'' at protocol <= 2)";

test('the fixture spells b"" as __builtin__.bytes called with an empty tuple at protocols 0, 1 and 2', () => {
  for (const p of [0, 1, 2]) {
    const c = byName(`empty_bytes/p${p}`);
    assert.equal(c.protocol, p);
    assert.ok(Buffer.from(c.hex, 'hex').toString('latin1').includes('c__builtin__\nbytes\n'), c.name);
    // Protocol 0 builds the empty tuple with MARK TUPLE, 1 and 2 with EMPTY_TUPLE.
    assert.deepEqual(c.opcodes.filter((o) => o !== 'PUT' && o !== 'BINPUT' && o !== 'PROTO'), p === 0 ? ['GLOBAL', 'MARK', 'TUPLE', 'REDUCE', 'STOP'] : ['GLOBAL', 'EMPTY_TUPLE', 'REDUCE', 'STOP']);
    const v = load(hexBytes(c.hex));
    assert.ok(v instanceof Uint8Array, c.name);
    assert.equal(v.length, 0, c.name);
  }
});

test('an empty float32 (0, 3) numpy array pickled at protocol 2 loads as a (0, 3) float32 array', () => {
  const c = byName('empty_f4_0x3/p2');
  for (const globals of [PADDLE, TORCH_GLOBALS]) {
    const v = load(hexBytes(c.hex), globals);
    assert.ok(v instanceof NpArray);
    const a = asNdArray(v)!;
    assert.deepEqual(a.shape, [0, 3]);
    assert.equal(a.dtype, 'float32');
    assert.deepEqual(a.strides, [3, 1]);
    assert.equal(a.storage.bytes?.byteLength, 0);
    assert.equal(a.toFloat32().length, 0);
  }
});

test('every empty array of the fixture (protocols 0..2, float32 and big-endian float64) loads with its shape and dtype', () => {
  const arrays = fixture.cases.filter((c) => c.shape);
  assert.equal(arrays.length, 6);
  for (const c of arrays) {
    const a = asNdArray(load(hexBytes(c.hex)))!;
    assert.ok(a, c.name);
    assert.deepEqual([a.shape, a.dtype, a.toFloat32().length], [c.shape, c.dtype, 0], c.name);
  }
  assert.equal(asNdArray(load(hexBytes(byName('empty_f8_be_2x0/p1').hex)))!.littleEndian, false);
});

test('a Paddle-style protocol-2 state dict with an empty and a non-empty entry loads both', () => {
  const v = load(hexBytes(byName('paddle_dict/p2').hex));
  assert.ok(v instanceof Map);
  assert.deepEqual([...v.keys()], ['w', 'b']);
  const w = asNdArray(v.get('w'))!;
  assert.deepEqual([w.shape, w.dtype], [[0, 3], 'float32']);
  const b = asNdArray(v.get('b'))!;
  assert.deepEqual(b.shape, [3]);
  assertSameFloats(b.toFloat32(), [1.5, -2, 0.25], 'b');
});

test('__builtin__.bytes with an argument is refused naming the file, the global, the argument count and the offset', () => {
  const head = 'c__builtin__\nbytes\n';
  const cases: [string, Uint8Array, string][] = [
    // bytes(10**9): a 1 GB allocation from an 8-byte argument.
    ['bytes(10**9)', pk('\x80\x02', head, 'J', [0x00, 0xca, 0x9a, 0x3b], '\x85R.'), 'got 1 argument(s)'],
    // bytes(2**70) (LONG1, a bigint) and bytes(-1).
    ['bytes(2**70)', pk('\x80\x02', head, '\x8a\x09', [0, 0, 0, 0, 0, 0, 0, 0, 0x40], '\x85R.'), 'got 1 argument(s)'],
    ['bytes(-1)', pk(head, 'J', [0xff, 0xff, 0xff, 0xff], '\x85R.'), 'got 1 argument(s)'],
    // bytes([1, 2]) and bytes(b'') / bytes('ab', 'latin1'): arguments pickle never writes for bytes.
    ['bytes([1, 2])', pk(head, '](K\x01K\x02e\x85R.'), 'got 1 argument(s)'],
    ['bytes(b"")', pk(head, 'C\x00\x85R.'), 'got 1 argument(s)'],
    ['bytes("ab", "latin1")', pk(head, 'X\x02\x00\x00\x00abX\x06\x00\x00\x00latin1\x86R.'), 'got 2 argument(s)'],
    ['bytes(None)', pk(head, 'N\x85R.'), 'got 1 argument(s)'],
    // The other call opcodes: NEWOBJ with an argument, NEWOBJ_EX with keywords (even none), OBJ and INST.
    ['NEWOBJ bytes(5)', pk(head, 'K\x05\x85\x81.'), 'got 1 argument(s)'],
    ['NEWOBJ_EX bytes(**{})', pk(head, ')}\x92.'), 'got 0 argument(s) and keywords'],
    ['NEWOBJ_EX bytes(7, **{})', pk(head, 'K\x07\x85}\x92.'), 'got 1 argument(s) and keywords'],
    ['OBJ bytes(5, 6)', pk('(', head, 'K\x05K\x06o.'), 'got 2 argument(s)'],
    ['INST bytes(5)', pk('(K\x05i__builtin__\nbytes\n.'), 'got 1 argument(s)'],
  ];
  for (const [what, data, got] of cases) {
    // The offset is just past the calling opcode, the last before STOP.
    assert.throws(() => load(data), refused(`w.pdparams: __builtin__.bytes: ${NO_ARGS}, ${got} (pickle offset ${data.length - 1})`), what);
  }
  // The same refusal inside a numpy array's BUILD state.
  const c = byName('empty_f4_0x3/p2');
  const hostile = Buffer.from(c.hex, 'hex').toString('latin1').replace('c__builtin__\nbytes\nq\x11)R', 'c__builtin__\nbytes\nq\x11J\x00\xca\x9a\x3b\x85R');
  assert.notEqual(hostile, Buffer.from(c.hex, 'hex').toString('latin1'));
  assert.throws(() => load(pk(hostile), PADDLE, 'm.pdparams'), (e: unknown) => e instanceof UnpicklingError && e.message.startsWith(`m.pdparams: __builtin__.bytes: ${NO_ARGS}, got 1 argument(s) (pickle offset`));
});

test('the call opcodes without arguments all give empty bytes; builtins.bytes(n) stays refused too, naming the file', () => {
  const head = 'c__builtin__\nbytes\n';
  for (const data of [pk(head, ')\x81.'), pk('(', head, 'o.'), pk('(i__builtin__\nbytes\n.'), pk(head, '(tR.')]) {
    const v = load(data);
    assert.ok(v instanceof Uint8Array && v.length === 0);
  }
  // Each call makes a new object.
  const two = load(pk(']', '(', head, ')R', head, ')Re.')) as Uint8Array[];
  assert.equal(two.length, 2);
  assert.notEqual(two[0], two[1]);
  const big = pk('cbuiltins\nbytes\nJ', [0x00, 0xca, 0x9a, 0x3b], '\x85R.');
  assert.throws(() => load(big, TORCH_GLOBALS, 'model.pt'), refused(`model.pt: builtins.bytes: cannot make bytes from number (pickle offset ${big.length - 1})`));
  const bigint = pk('cbuiltins\nbytearray\n\x8a\x09', [0, 0, 0, 0, 0, 0, 0, 0, 0x40], '\x85R.');
  assert.throws(() => load(bigint, TORCH_GLOBALS, 'model.pt'), refused(`model.pt: builtins.bytearray: cannot make bytes from bigint (pickle offset ${bigint.length - 1})`));
});

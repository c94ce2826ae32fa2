import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BASE_GLOBALS, OrderedDict, PyObject, UnpicklingError, unpickle } from '../../plugins/modelzoo/src/lib/checkpoints/pickle';
import { TORCH_GLOBALS } from '../../plugins/modelzoo/src/lib/checkpoints/torch-file';

// test/fixtures/pickle-protocols.json: CPython 3's pickle.dumps of one value at protocols 0..5 (hex).
// Protocols <= 2 spell bytes and sets through py2's __builtin__ (not allowlisted), so those lines
// hold only what they can; 0 writes text opcodes (INT, LONG, FLOAT, UNICODE, PUT/GET, DICT/LIST/TUPLE).
const fixtures = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/pickle-protocols.json'), 'utf8')) as Record<string, string>;
const load = (data: Uint8Array, where = 'f.pkl') => unpickle(data, { globals: TORCH_GLOBALS, where }).value;
const b = (...parts: (string | number[])[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : p)));

function expected(p: number): Map<string, unknown> {
  const m = new Map<string, unknown>();
  m.set('ints', [0, 1, 255, 256, 65535, 65536, -1, -129, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2n ** 53n, 2n ** 70n, -(2n ** 70n)]);
  m.set('floats', [1.5, -0, 1e300, -2.25]);
  m.set('strs', ['', 'abc', 'é€', 'line\nbreak \\ back', ...(p >= 3 ? ['𝄞'] : [])]);
  const all = new Uint8Array(259);
  for (let i = 0; i < 256; i++) all[i] = i;
  all.set([0x78, 0x79, 0x7a], 256);
  m.set('bytes', [Uint8Array.from([0, 255]), all, ...(p >= 3 ? [new Uint8Array(0)] : [])]);
  m.set('consts', [true, false, null]);
  m.set('tuples', [[], [1], [1, 2], [1, 2, 3], [1, 2, 3, 4]]);
  if (p >= 3) m.set('sets', [new Set([1, 2]), new Set([3])]);
  const od = new OrderedDict();
  od.set('b', 1);
  od.set('a', 2);
  m.set('od', od);
  const shared = [7, 8];
  m.set('shared', [shared, shared]);
  return m;
}

for (const p of ['0', '1', '2', '3', '4', '5']) {
  test(`CPython protocol ${p}: every value decodes as Python wrote it; end is the byte after STOP`, () => {
    const data = Buffer.from(fixtures[p]!, 'hex');
    const { value, end } = unpickle(data, { globals: TORCH_GLOBALS, where: 'f.pkl' });
    assert.equal(end, data.length);
    const v = value as Map<string, unknown>;
    const want = expected(Number(p));
    assert.deepEqual([...v.keys()], [...want.keys()]);
    for (const [k, w] of want) {
      const got = v.get(k);
      if (k === 'bytes') assert.deepEqual((got as Uint8Array[]).map((x) => Buffer.from(x).toString('hex')), (w as Uint8Array[]).map((x) => Buffer.from(x).toString('hex')), k);
      else assert.deepEqual(got, w, k);
    }
    assert.ok(Object.is((v.get('floats') as number[])[1], -0));
    const shared = v.get('shared') as unknown[][];
    assert.equal(shared[0], shared[1], 'a memoized object is the same object');
  });
}

test('two pickles back to back: the second starts where the first ended', () => {
  const one = Buffer.from(fixtures['2']!, 'hex');
  const data = Buffer.concat([one, Buffer.from([0x80, 2, 0x4b, 7, 0x2e])]);
  const first = unpickle(data, { globals: TORCH_GLOBALS, where: 'f' });
  assert.equal(first.end, one.length);
  assert.deepEqual(unpickle(data, { globals: TORCH_GLOBALS, where: 'f' }, first.end), { value: 7, end: data.length });
});

test('py2 strings: STRING with escapes, BINSTRING, SHORT_BINSTRING read as latin1 text', () => {
  assert.equal(load(b("S'a\\x41\\n\\t\\\\\\'q'\n.")), "aA\n\t\\'q");
  assert.equal(load(b('S"dq"\n.')), 'dq');
  assert.throws(() => load(b("S'open\n.")), /malformed STRING/);
  assert.throws(() => load(b('Sxx\n.')), /malformed STRING/);
  assert.equal(load(b('T', [3, 0, 0, 0], 'h\xe9y.')), 'h\xe9y');
  assert.equal(load(b('U', [2], '\xff!.')), '\xff!');
  assert.equal(load(b('V\\u00e9\\u20AC\n.')), 'é€');
});

test('text ints: INT, LONG, bools, out-of-safe-range values become bigint, malformed ones are refused naming the offset', () => {
  assert.deepEqual(load(b('(I-5\nI01\nI00\nL9007199254740993L\nL-3\nI+4\nl.')), [-5, true, false, 9007199254740993n, -3, 4]);
  assert.throws(() => load(b('I1x\n.'), 'bad.pkl'), (e: Error) => e instanceof UnpicklingError && e.message === "bad.pkl: malformed integer '1x' (pickle offset 4)");
  assert.throws(() => load(b('I12')), /unterminated text line/);
});

test('binary ints and longs: BININT2, LONG1 sign and width, LONG4, empty LONG1 is 0', () => {
  assert.deepEqual(
    load(b('(', [0x4d, 0x34, 0x12, 0x8a, 0, 0x8a, 1, 0xff, 0x8a, 2, 0x00, 0x80, 0x8a, 8, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x8b, 1, 0, 0, 0, 0x7f], 'l.')),
    [0x1234, 0, -1, -32768, -(2n ** 63n), 127],
  );
  assert.throws(() => load(b([0x8b, 0xff, 0xff, 0xff, 0xff], '.')), /negative LONG4 length/);
  assert.deepEqual(load(b([0x8a, 3, 1, 0, 0x80], '.')), -(2 ** 23) + 1);
});

test('floats: BINFLOAT big-endian and text FLOAT', () => {
  assert.deepEqual(load(b('(', [0x47, 0xc0, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18], 'F2.5e-3\nl.')), [-3.141592653589793, 0.0025]);
});

test('bytes opcodes: BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8; out-of-band buffers refused', () => {
  const v = load(b('(', [0x42, 2, 0, 0, 0, 1, 2, 0x43, 1, 9, 0x8e, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0x96, 0, 0, 0, 0, 0, 0, 0, 0], 'l.')) as Uint8Array[];
  assert.deepEqual(v.map((x) => [...x]), [[1, 2], [9], [5], []]);
  assert.throws(() => load(b([0x97], '.')), /out-of-band pickle buffers/);
  assert.throws(() => load(b([0x98], '.')), /out-of-band pickle buffers/);
  assert.throws(() => load(b([0x8e, 0, 0, 0, 0, 0, 0, 0x20, 0], '.')), /length too large/);
});

test('unicode opcodes: BINUNICODE8 and SHORT_BINUNICODE decode UTF-8', () => {
  assert.deepEqual(load(b('(', [0x8d, 2, 0, 0, 0, 0, 0, 0, 0, 0xc3, 0xa9, 0x8c, 1], 'z', 'l.')), ['é', 'z']);
});

test('memo: PUT/GET text, LONG_BINPUT/LONG_BINGET, MEMOIZE, a missing key is refused', () => {
  assert.deepEqual(load(b('K\x05p7\n0g7\n.')), 5);
  assert.deepEqual(load(b('K\x06r', [0, 1, 0, 0], '0j', [0, 1, 0, 0], '.')), 6);
  assert.deepEqual(load(b('(K\x01\x94K\x02\x94h\x00h\x01l.')), [1, 2, 1, 2]);
  assert.throws(() => load(b('h\x03.')), /memo key 3 missing/);
});

test('stack ops: DUP, POP, POP_MARK, underflow and mark errors', () => {
  assert.deepEqual(load(b('K\x012\x86.')), [1, 1]);
  assert.deepEqual(load(b('K\x01K\x020.')), 1);
  assert.deepEqual(load(b('K\x01(K\x02K\x031.')), 1);
  assert.throws(() => load(b('0.')), /stack underflow/);
  assert.throws(() => load(b('.')), /stack underflow/);
  assert.throws(() => load(b('2.')), /stack underflow/);
  assert.throws(() => load(b('(.')), /unexpected mark/);
  assert.throws(() => load(b('1.')), /mark not found/);
  assert.throws(() => load(b('')), /truncated pickle/);
  assert.throws(() => load(b([0x80, 6], '.')), /unsupported pickle protocol/);
  assert.throws(() => load(b([0xff])), /unknown pickle opcode 0xff/);
});

test('containers: SETITEM(S) on a non-dict, APPEND(S) on a non-list, ADDITEMS on a set, odd SETITEMS', () => {
  assert.throws(() => load(b('K\x01K\x02K\x03s.')), /SETITEM\(S\) on a value that is not a dict/);
  assert.throws(() => load(b('K\x01K\x02a.')), /APPEND\(S\) on a value that is not a list/);
  assert.deepEqual(load(b([0x8f], '(K\x01K\x02', [0x90], '.')), new Set([1, 2]));
  assert.deepEqual(load(b('}(K\x01K\x02K\x03u.')), new Map([[1, 2]]));
  assert.deepEqual(load(b('(K\x01K\x02d.')), new Map([[1, 2]]));
  assert.deepEqual(load(b('(K\x01K\x01', [0x91], '.')), new Set([1]));
});

test('calls: NEWOBJ, NEWOBJ_EX, OBJ, INST and BUILD reach only allowlisted emulations', () => {
  const ns = load(b('cargparse\nNamespace\n)', [0x81], '}X\x01\x00\x00\x00aK\x01sb.')) as PyObject;
  assert.ok(ns instanceof PyObject);
  assert.equal(ns.qualname, 'argparse.Namespace');
  assert.deepEqual(ns.state, new Map([['a', 1]]));
  const ex = load(b('cbuiltins\nslice\n(K\x01K\x02t}', [0x92], '.')) as PyObject;
  assert.deepEqual(ex.args, [1, 2]);
  const obj = load(b('(cbuiltins\nslice\nK\x03o.')) as PyObject;
  assert.deepEqual(obj.args, [3]);
  const inst = load(b('(K\x04ibuiltins\nslice\n.')) as PyObject;
  assert.deepEqual(inst.args, [4]);
  assert.throws(() => load(b('K\x01K\x02b.')), /BUILD on an object that takes no state/);
  assert.throws(() => load(b('K\x01)', [0x81], '.')), /NEWOBJ on a value that is not an allowlisted global/);
  assert.throws(() => load(b('cbuiltins\nslice\nK\x01R.')), /REDUCE builtins\.slice: arguments are not a tuple/);
  assert.throws(() => load(b('K\x01K\x02', [0x93], '.')), /STACK_GLOBAL needs two strings/);
  const od = load(b('ccollections\nOrderedDict\n)R}X\x01\x00\x00\x00mK\x01sb.')) as OrderedDict;
  assert.deepEqual([...od], []);
  assert.deepEqual(od.attributes, new Map([['m', 1]]));
});

test('allowlisted emulations: OrderedDict items, sets, bytes/bytearray, _codecs.encode latin1 only', () => {
  const call = (k: string, args: unknown[]) => BASE_GLOBALS[k]!.call(args);
  assert.deepEqual([...(call('collections.OrderedDict', [[['x', 1], 'skip', ['y', 2]]]) as Map<unknown, unknown>)], [['x', 1], ['y', 2]]);
  assert.deepEqual([...(call('collections.OrderedDict', []) as Map<unknown, unknown>)], []);
  assert.deepEqual(call('builtins.set', [[1, 1, 2]]), new Set([1, 2]));
  assert.deepEqual(call('builtins.set', []), new Set());
  assert.deepEqual(call('builtins.frozenset', [7]), new Set());
  assert.deepEqual([...(call('builtins.bytes', ['\u0141A']) as Uint8Array)], [0x41, 0x41]);
  assert.deepEqual([...(call('builtins.bytearray', [[1, 300]]) as Uint8Array)], [1, 44]);
  assert.deepEqual([...(call('builtins.bytes', [null]) as Uint8Array)], []);
  const u = Uint8Array.from([3]);
  assert.equal(call('builtins.bytes', [u]), u);
  assert.throws(() => call('builtins.bytes', [5]), /cannot make bytes from number/);
  assert.deepEqual([...(call('_codecs.encode', ['\xff\x01', 'latin-1']) as Uint8Array)], [255, 1]);
  assert.deepEqual([...(call('_codecs.encode', ['\xff', 'latin1']) as Uint8Array)], [255]);
  assert.throws(() => call('_codecs.encode', ['x', 'utf8']), /only allowed for latin1 strings \(got encoding utf8\)/);
  assert.throws(() => call('_codecs.encode', [1, 'latin1']), /only allowed for latin1/);
});

test('persistent ids: refused without a loader, passed to it with one', () => {
  assert.throws(() => load(b('K\x01Q.')), /persistent id in a pickle that should have none/);
  assert.throws(() => load(b('P7\n.')), /persistent id in a pickle that should have none/);
  const seen: unknown[] = [];
  const r = unpickle(b('(K\x01QP7\nl.'), { globals: {}, where: 'p', persistentLoad: (pid) => (seen.push(pid), `pid:${String(pid)}`) });
  assert.deepEqual(r.value, ['pid:1', 'pid:7']);
  assert.deepEqual(seen, [1, '7']);
});

test('an emulation that throws a plain error is reported as an UnpicklingError naming the file and global', () => {
  const globals = { 'm.f': { qualname: 'm.f', call: () => { throw new TypeError('boom'); } } };
  assert.throws(
    () => unpickle(b('cm\nf\n)R.'), { globals, where: 'w.pkl' }),
    (e: Error) => e instanceof UnpicklingError && e.name === 'UnpicklingError' && /^w\.pkl: m\.f: boom \(pickle offset \d+\)$/.test(e.message),
  );
});

test('boundaries: lengths and ints at the safe-integer edge, LONG4 of length 0, text ints with spaces or junk', () => {
  assert.throws(() => load(b([0x8e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0], '.')), /truncated pickle/, 'a length of exactly 2^53-1 is allowed, then truncated');
  const max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0];
  const min = [0x01, 0, 0, 0, 0, 0, 0xe0, 0xff];
  assert.deepEqual(load(b('(', [0x8a, 8, ...max, 0x8a, 8, ...min], 'l.')), [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);
  assert.deepEqual(load(b('(I9007199254740991\nI-9007199254740991\nl.')), [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);
  assert.deepEqual(load(b([0x8b, 0, 0, 0, 0], '.')), 0);
  assert.deepEqual(load(b('I 12 \n.')), 12);
  assert.throws(() => load(b('Ix12\n.')), (e: Error) => e instanceof UnpicklingError && /malformed integer 'x12'/.test(e.message));
  assert.throws(() => load(b('L5L7\n.')), /malformed integer/);
  assert.throws(() => load(b('LL5\n.')), /malformed integer/);
  assert.throws(() => load(b('L x5\n.')), /malformed integer/);
});

test('callables: only allowlisted globals may be called; every call opcode says which one refused', () => {
  // a PyObject (argparse.Namespace instance) has a qualname but is not callable
  assert.throws(() => load(b('cargparse\nNamespace\n)', [0x81], ')R.')), (e: Error) => e instanceof UnpicklingError && /REDUCE on a value that is not an allowlisted global/.test(e.message));
  assert.throws(() => load(b('K\x01)}', [0x92], '.')), /NEWOBJ_EX on a value that is not an allowlisted global/);
  assert.throws(() => load(b('(K\x01o.')), /OBJ on a value that is not an allowlisted global/);
  assert.throws(() => load(b([0x8c, 2], 'os', 'K\x01', [0x93], '.')), /STACK_GLOBAL needs two strings/);
  assert.throws(() => load(b('K\x01', [0x8c, 6], 'system', [0x93], '.')), /STACK_GLOBAL needs two strings/);
  assert.throws(() => load(b('cos\nsystem\n.'), 'x.pkl'), (e: Error) => e.message === "x.pkl: refusing to load global 'os.system': a checkpoint may only reference allowlisted globals (tensor/storage rebuild, OrderedDict, numpy array reconstruction and dtypes); this file could run code (pickle offset 11)");
  // NEWOBJ / NEWOBJ_EX with arguments that are not a tuple call with none
  assert.deepEqual((load(b('cbuiltins\nslice\nK\x01', [0x81], '.')) as PyObject).args, []);
  assert.deepEqual((load(b('cbuiltins\nslice\nK\x01N', [0x92], '.')) as PyObject).args, []);
  const s = load(b('cbuiltins\nslice\nK\x01K\x02\x86R.')) as PyObject;
  assert.equal(s.qualname, 'builtins.slice');
  assert.deepEqual(new PyObject('q').args, []);
  // an emulation's own UnpicklingError passes through unchanged
  assert.throws(() => load(b('c_codecs\nencode\nX\x01\x00\x00\x00xX\x04\x00\x00\x00utf8\x86R.')), (e: Error) => e instanceof UnpicklingError && e.message === '_codecs.encode is only allowed for latin1 strings (got encoding utf8)');
});

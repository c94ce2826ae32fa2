import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NdArray } from '../../plugins/modelzoo/src/lib/checkpoints/ndarray';
import { asNdArray } from '../../plugins/modelzoo/src/lib/checkpoints/numpy-globals';
import { UnpicklingError } from '../../plugins/modelzoo/src/lib/checkpoints/pickle';
import { parseTorch } from '../../plugins/modelzoo/src/lib/checkpoints/torch-file';
import { type Bytes, LEGACY_MAGIC, P, f32, legacyStorage, legacyStream, tensor } from '../helpers/mutation-checkpoints-files-builders';

// torch.save's legacy stream (torch < 1.6, or _use_new_zipfile_serialization=False): a real one from
// torch 1.13, then hand-built streams for views, key lists, declared sizes and truncation.
const FIX = path.join(__dirname, '../fixtures/mutation-checkpoints-files');
const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'expected.json'), 'utf8')) as Record<
  string,
  Record<string, { dtype?: string; shape: number[]; strides?: number[]; offset?: number; values: number[] }>
>;

const vals = (t: unknown) => {
  assert.ok(t instanceof NdArray);
  return [...t.toFloat32()];
};

test('legacy.pth from torch 1.13: two tensors share a storage, an int64 one has its own', () => {
  const file = path.join(FIX, 'legacy.pth');
  const { value, container } = parseTorch(fs.readFileSync(file), file);
  assert.equal(container, 'torch-legacy');
  const top = value as Map<string, unknown>;
  assert.deepEqual([...top.keys()], ['state_dict', 'epoch']);
  assert.equal(top.get('epoch'), 3);
  const sd = top.get('state_dict') as Map<string, NdArray>;
  assert.deepEqual([...sd.keys()], ['w', 'w_t', 'n']);
  for (const [k, w] of Object.entries(expected['legacy']!)) {
    const t = sd.get(k)!;
    assert.equal(t.dtype, w.dtype, k);
    assert.deepEqual(t.shape, w.shape, k);
    assert.deepEqual(t.strides, w.strides, k);
    assert.deepEqual(vals(t), w.values, k);
  }
  assert.equal(sd.get('w')!.storage, sd.get('w_t')!.storage);
  assert.match(sd.get('w')!.storage.name, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:storage \\d+$`));
});

test('a plain pickle (Paddle .pdparams: numpy arrays) is returned as is, container pickle', () => {
  const file = path.join(FIX, 'plain.pdparams');
  const { value, container } = parseTorch(fs.readFileSync(file), file);
  assert.equal(container, 'pickle');
  const m = value as Map<string, unknown>;
  for (const [k, w] of Object.entries(expected['plain']!)) {
    const a = asNdArray(m.get(k))!;
    assert.deepEqual(a.shape, w.shape, k);
    assert.deepEqual([...a.toFloat32()], w.values, k);
  }
  // Any first pickle that is not the magic number, even a number next to it.
  assert.deepEqual(parseTorch(P.pickle(P.long(LEGACY_MAGIC - 1n)), 'x'), { value: LEGACY_MAGIC - 1n, container: 'pickle' });
  assert.deepEqual(parseTorch(P.pickle(P.int(1001)), 'x'), { value: 1001, container: 'pickle' });
});

const w2 = (key = '0', numel = 4) => tensor(legacyStorage(key, numel), 0, [numel], [1]);

test('the protocol pickle must be 1001; the storage key list must be a list', () => {
  for (const proto of [1000, 1002, 0]) {
    assert.throws(
      () => parseTorch(legacyStream(w2(), [['0', f32(1, 2, 3, 4)]], { protocol: proto }), 'v.pth'),
      (e: Error) => !(e instanceof UnpicklingError) && e.message === `v.pth: unsupported legacy torch protocol ${proto}`,
    );
  }
  for (const keys of [P.str('0'), P.none, P.dict([])]) {
    assert.throws(() => parseTorch(legacyStream(w2(), [['0', f32(1, 2, 3, 4)]], { keys }), 'k.pth'), (e: Error) => e.message === 'k.pth: legacy storage key list missing');
  }
  // A tuple is not a list either, but the list may be empty (no storages follow).
  const empty = parseTorch(legacyStream(P.dict([['a', P.int(1)]]), [], { keys: P.list() }), 'e.pth');
  assert.deepEqual(empty, { value: new Map([['a', 1]]), container: 'torch-legacy' });
});

test('storages are filled in key-list order from the bytes after it, each with its own width', () => {
  const main = P.tuple(
    tensor(legacyStorage('b', 2, P.none, 'LongStorage'), 0, [2], [1]),
    tensor(legacyStorage('a', 3), 1, [2], [1]),
    tensor(legacyStorage('c', 1, P.none, 'ShortStorage'), 0, [1], [1]),
  );
  const i64 = Buffer.alloc(16);
  i64.writeBigInt64LE(-7n, 0);
  i64.writeBigInt64LE(9n, 8);
  const data = legacyStream(main, [
    ['a', f32(1, 2, 3)],
    ['b', i64, 2],
    ['c', Uint8Array.from([0xff, 0x7f]), 1],
  ]);
  const [b, a, c] = parseTorch(data, 'o.pth').value as NdArray[];
  assert.deepEqual(vals(a), [2, 3]);
  assert.deepEqual(vals(b), [-7, 9]);
  assert.deepEqual(vals(c), [32767]);
  assert.equal(a!.storage.name, 'o.pth:storage a');
  assert.equal(a!.storage.bytes!.byteLength, 12);
  assert.equal(c!.storage.bytes!.byteLength, 2);

  // A key no tensor names is skipped as bytes (width 1), and the next storage still lines up.
  const skip = legacyStream(w2('a', 2), [
    ['z', Uint8Array.from([9, 9, 9]), 3],
    ['a', f32(5, 6), 2],
  ]);
  assert.deepEqual(vals(parseTorch(skip, 's.pth').value), [5, 6]);

  // A storage the tensors name but the key list leaves out is never loaded.
  const missing = parseTorch(legacyStream(w2('q', 1), [], { keys: P.list() }), 'm.pth').value as NdArray;
  assert.throws(() => missing.toFloat32(), /m\.pth:storage q: tensor data was never loaded/);
});

test('declared element counts are trusted only as far as the file goes', () => {
  const tail = (storages: [string, Uint8Array, number?][]) => () => parseTorch(legacyStream(w2('0', 2), storages), 'd.pth');
  // Exactly the bytes left: fine; one element more: refused, naming the count and the bytes left.
  assert.deepEqual(vals(tail([['0', f32(1, 2), 2]])().value), [1, 2]);
  assert.throws(tail([['0', f32(1, 2), 3]]), (e: Error) => e.message === 'd.pth: storage 0 declares 3 elements, more than the 8 bytes left in the file hold');
  assert.throws(tail([['0', f32(1, 2), -1]]), (e: Error) => e.message === 'd.pth: storage 0 declares -1 elements, more than the 8 bytes left in the file hold');
  assert.throws(tail([['0', f32(1, 2), 2 ** 40]]), /declares 1099511627776 elements, more than the 8 bytes left/);
  // Fewer elements than bytes: the storage holds what was declared.
  const short = parseTorch(legacyStream(tensor(legacyStorage('0', 1), 0, [1], [1]), [['0', f32(4, 5), 1]]), 'f.pth').value as NdArray;
  assert.deepEqual(vals(short), [4]);
  assert.equal(short.storage.bytes!.byteLength, 4);
  // A zero-length storage.
  const none = parseTorch(legacyStream(tensor(legacyStorage('0', 0), 0, [0], [1]), [['0', new Uint8Array(0), 0]]), 'z.pth').value as NdArray;
  assert.deepEqual(vals(none), []);
});

test('a stream cut before a storage count is refused naming the storage', () => {
  const full = legacyStream(w2('0', 1), [['0', f32(1), 1]]);
  // Cut inside the 8-byte count: 7 of 8 bytes present.
  const cut = full.subarray(0, full.length - 4 - 1);
  assert.throws(() => parseTorch(cut, 't.pth'), (e: Error) => e.message === 't.pth: truncated before storage 0');
  // The count present, no bytes after it: the count says how many are missing.
  assert.throws(() => parseTorch(full.subarray(0, full.length - 4), 't.pth'), (e: Error) => e.message === 't.pth: storage 0 declares 1 elements, more than the 0 bytes left in the file hold');
  // Two storages, the second's count missing entirely.
  const two = legacyStream(P.tuple(w2('a', 1), w2('b', 1)), [['a', f32(1), 1], ['b', f32(2), 1]]);
  assert.throws(() => parseTorch(two.subarray(0, two.length - 12), 't.pth'), (e: Error) => e.message === 't.pth: truncated before storage b');
});

const view = (key: string, offset: Bytes, size: Bytes) => P.tuple(P.str(key), offset, size);

test('storage views: a slice of the root storage, checked against the root once it is read', () => {
  const t = (v: Bytes, n: number) => tensor(legacyStorage('r', 6, v), 0, [n], [1]);
  const data = legacyStream(P.tuple(t(view('v1', P.int(2), P.int(3)), 3), t(view('v2', P.int(0), P.int(6)), 6), tensor(legacyStorage('r', 6), 4, [2], [1])), [
    ['r', f32(10, 11, 12, 13, 14, 15)],
  ]);
  const [a, b, root] = parseTorch(data, 'w.pth').value as NdArray[];
  assert.deepEqual(vals(a), [12, 13, 14]);
  assert.equal(a!.storage.name, 'w.pth:view v1');
  assert.equal(a!.storage.dtype, 'float32');
  assert.deepEqual(vals(b), [10, 11, 12, 13, 14, 15]);
  assert.deepEqual(vals(root), [14, 15]);
  assert.equal(root!.storage.name, 'w.pth:storage r');

  // Views take the root's dtype, whatever type their own id names.
  const typed = legacyStream(
    P.tuple(tensor(legacyStorage('r', 2, P.none, 'IntStorage'), 0, [1], [1]), tensor(legacyStorage('r', 2, view('v', P.int(1), P.int(1))), 0, [1], [1])),
    [['r', Uint8Array.from([1, 0, 0, 0, 2, 0, 0, 0]), 2]],
  );
  const [, iv] = parseTorch(typed, 'i.pth').value as NdArray[];
  assert.equal(iv!.dtype, 'int32');
  assert.deepEqual(vals(iv), [2]);

  // Reaching one element past the root is refused; ending exactly at it is not.
  const past = legacyStream(t(view('v', P.int(4), P.int(3)), 3), [['r', f32(1, 2, 3, 4, 5, 6)]]);
  assert.throws(() => parseTorch(past, 'p.pth'), (e: Error) => e.message === 'p.pth: p.pth:view v reaches past the end of its storage (24 bytes)');
  const atEnd = legacyStream(t(view('v', P.int(3), P.int(3)), 3), [['r', f32(1, 2, 3, 4, 5, 6)]]);
  assert.deepEqual(vals(parseTorch(atEnd, 'a.pth').value), [4, 5, 6]);

  // A view of a root that is never loaded has no bytes either.
  const unloaded = parseTorch(legacyStream(t(view('v', P.int(0), P.int(1)), 1), [], { keys: P.list() }), 'u.pth').value as NdArray;
  assert.throws(() => unloaded.toFloat32(), /u\.pth:view v: tensor data was never loaded/);
});

test('storage views with a bad offset or size are refused by name', () => {
  for (const [off, size] of [
    [P.int(-1), P.int(1)],
    [P.int(0), P.int(-1)],
    [P.float(0.5), P.int(1)],
    [P.int(0), P.str('1')],
    [P.none, P.int(1)],
  ] as [Bytes, Bytes][]) {
    const data = legacyStream(tensor(legacyStorage('r', 2, view('bad', off, size)), 0, [1], [1]), [['r', f32(1, 2)]]);
    assert.throws(() => parseTorch(data, 'b.pth'), (e: Error) => e instanceof UnpicklingError && e.message === 'b.pth: storage view bad has a bad offset or size');
  }
  // Persistent ids that are not storage tuples, and unknown storage types.
  for (const pid of [P.str('storage'), P.tuple(P.str('other'), P.global('torch', 'FloatStorage'), P.str('0'))]) {
    assert.throws(() => parseTorch(legacyStream(P.persid(pid), []), 'q.pth'), (e: Error) => e instanceof UnpicklingError && e.message === 'q.pth: unsupported persistent id');
  }
  assert.throws(
    () => parseTorch(legacyStream(P.persid(P.tuple(P.str('storage'), P.str('x'), P.str('0'), P.str('cpu'), P.int(1), P.none)), []), 'q.pth'),
    (e: Error) => e instanceof UnpicklingError && e.message === 'q.pth: persistent id names an unknown storage type',
  );
  // A tensor view checked at rebuild time only when its bytes exist: legacy storages are filled later,
  // so an oversized view is caught when converted.
  const big = parseTorch(legacyStream(tensor(legacyStorage('0', 1), 0, [4], [1]), [['0', f32(1), 1]]), 'g.pth').value as NdArray;
  assert.throws(() => big.toFloat32(), /g\.pth:storage 0: tensor of shape \[4\] needs 16 bytes, storage has 4/);
});

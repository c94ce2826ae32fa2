import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NdArray } from '../../plugins/modelzoo/src/lib/checkpoints/ndarray';
import { UnpicklingError } from '../../plugins/modelzoo/src/lib/checkpoints/pickle';
import { TORCH_GLOBALS, isZip, parseTorch, readTorchFile } from '../../plugins/modelzoo/src/lib/checkpoints/torch-file';
import { P, f32, tensor, torchZip, zipStorage } from '../helpers/mutation-checkpoints-files-builders';

// Real torch.save output (torch 1.13, test/fixtures/mutation-checkpoints-files/make_fixtures.py) checked
// against what torch itself reported (expected.json), then hand-built zips for each refusal.
const FIX = path.join(__dirname, '../fixtures/mutation-checkpoints-files');
const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'expected.json'), 'utf8')) as Record<
  string,
  Record<string, { dtype?: string; shape: number[]; strides?: number[]; offset?: number; values: number[] }>
>;

const asMap = (v: unknown): Map<string, unknown> => {
  assert.ok(v instanceof Map, `expected a dict, got ${typeof v}`);
  return v as Map<string, unknown>;
};

test('dtypes.pth (zip): every storage type, view, offset, Parameter and 0-d tensor reads as torch wrote it', async () => {
  const file = path.join(FIX, 'dtypes.pth');
  const { value, container } = await readTorchFile(file);
  assert.equal(container, 'torch-zip');
  const top = asMap(value);
  assert.deepEqual([...top.keys()], ['state_dict', 'size']);
  assert.deepEqual(top.get('size'), [4, 5], 'torch.Size((4, 5)) is its tuple');
  const sd = asMap(top.get('state_dict'));
  const want = expected['dtypes']!;
  assert.deepEqual([...sd.keys()], Object.keys(want).sort((a, b) => [...sd.keys()].indexOf(a) - [...sd.keys()].indexOf(b)));
  assert.equal(sd.size, Object.keys(want).length);
  for (const [k, w] of Object.entries(want)) {
    const t = sd.get(k);
    assert.ok(t instanceof NdArray, k);
    assert.equal(t.dtype, w.dtype, k);
    assert.deepEqual(t.shape, w.shape, k);
    assert.deepEqual(t.strides, w.strides, k);
    assert.equal(t.offset, w.offset, k);
    assert.deepEqual([...t.toFloat32()], w.values.map(Math.fround), k);
  }
  // A transpose is a second view of the same storage object (the persistent id is cached by key).
  const a = sd.get('f32') as NdArray;
  const b = sd.get('f32_t') as NdArray;
  assert.equal(a.storage, b.storage);
  assert.equal(a.storage.name, `${file}:data/0`);
  assert.equal(a.storage.bytes!.byteLength, 24);
  assert.notEqual((sd.get('f64') as NdArray).storage, a.storage);
});

test('a zip whose data.pkl sits at the archive root, or under any folder, is read; other names are not', () => {
  const pkl = P.pickle(P.dict([['w', tensor(zipStorage('0', 2), 0, [2], [1])]]));
  for (const root of ['', 'x/', 'deep/er/']) {
    const v = asMap(parseTorch(torchZip(pkl, { '0': f32(1, -2) }, root), 'r.pth').value);
    assert.deepEqual([...(v.get('w') as NdArray).toFloat32()], [1, -2], root);
    assert.equal((v.get('w') as NdArray).storage.name, 'r.pth:data/0');
  }
  // 'data.pkl' must be the whole last path part: 'mydata.pkl' is not torch's.
  assert.throws(
    () => parseTorch(torchZip(pkl, {}, 'a/my'), 'n.pth'),
    (e: Error) => !(e instanceof UnpicklingError) && e.message === 'n.pth: zip archive has no data.pkl (not a torch.save file)',
  );
  // A storage is found under the same root as data.pkl, not under another.
  const zip = torchZip(pkl, {}, 'a/', { 'b/data/0': f32(1, 2) });
  assert.throws(() => parseTorch(zip, 'm.pth'), (e: Error) => e instanceof UnpicklingError && e.message === 'm.pth: storage 0 missing from the archive');
});

test('byteorder record: little (any spacing) or absent reads; big is refused before unpickling', () => {
  const pkl = P.pickle(P.dict([['w', tensor(zipStorage('0', 1), 0, [1], [1])]]));
  for (const order of ['little', 'little\n', ' little ']) {
    const v = asMap(parseTorch(torchZip(pkl, { '0': f32(3) }, 'archive/', { 'archive/byteorder': Buffer.from(order) }), 'l.pth').value);
    assert.deepEqual([...(v.get('w') as NdArray).toFloat32()], [3]);
  }
  for (const order of ['big', 'big\n', '  big']) {
    assert.throws(
      () => parseTorch(torchZip(pkl, { '0': f32(3) }, 'archive/', { 'archive/byteorder': Buffer.from(order) }), 'b.pth'),
      (e: Error) => e.message === 'b.pth: big-endian torch archives are not supported',
    );
  }
  // Another folder's byteorder does not count.
  const other = torchZip(pkl, { '0': f32(3) }, 'archive/', { 'other/byteorder': Buffer.from('big') });
  assert.ok(asMap(parseTorch(other, 'o.pth').value).has('w'));
});

test('persistent ids: only storage tuples; unknown storage types and missing members are named', () => {
  const run = (pid: number[], storages: Record<string, Uint8Array> = { '0': f32(1) }) =>
    parseTorch(torchZip(P.pickle(P.tuple(pid)), storages), 'p.pth');
  const refused = (pid: number[], msg: string, storages?: Record<string, Uint8Array>) =>
    assert.throws(() => run(pid, storages), (e: Error) => e instanceof UnpicklingError && e.message === msg);
  refused(P.persid(P.str('storage')), 'p.pth: unsupported persistent id');
  refused(P.persid(P.tuple(P.str('module'), P.global('torch', 'FloatStorage'), P.str('0'), P.str('cpu'), P.int(1))), 'p.pth: unsupported persistent id');
  refused(P.persid(P.tuple(P.str('storage'), P.str('FloatStorage'), P.str('0'), P.str('cpu'), P.int(1))), 'p.pth: persistent id names an unknown storage type');
  refused(P.persid(P.tuple(P.str('storage'), P.global('torch', 'Size'), P.str('0'), P.str('cpu'), P.int(1))), 'p.pth: persistent id names an unknown storage type');
  refused(P.persid(P.tuple(P.str('storage'), P.none, P.str('0'), P.str('cpu'), P.int(1))), 'p.pth: persistent id names an unknown storage type');
  refused(zipStorage('7', 1), 'p.pth: storage 7 missing from the archive');
  // A numeric key names the same member as its string.
  const v = run(P.persid(P.tuple(P.str('storage'), P.global('torch', 'IntStorage'), P.int(0), P.str('cpu'), P.int(1))), { '0': Uint8Array.from([5, 0, 0, 0]) });
  const s = (v.value as unknown[])[0] as { dtype: string; bytes: Uint8Array; name: string };
  assert.equal(s.dtype, 'int32');
  assert.equal(s.name, 'p.pth:data/0');
  assert.deepEqual([...s.bytes], [5, 0, 0, 0]);
});

test('storage type names map to their dtypes, and a storage type called as a function is refused by name', () => {
  const types: Record<string, string> = {
    FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16', LongStorage: 'int64',
    IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8', BoolStorage: 'bool',
  };
  for (const [t, dtype] of Object.entries(types)) {
    const g = TORCH_GLOBALS[`torch.${t}`] as unknown as { qualname: string; storageDtype: string };
    assert.equal(g.qualname, `torch.${t}`);
    assert.equal(g.storageDtype, dtype, t);
    const v = parseTorch(torchZip(P.pickle(P.tuple(zipStorage('0', 1, t))), { '0': new Uint8Array(8) }), 't.pth').value as { dtype: string }[];
    assert.equal(v[0]!.dtype, dtype, t);
    assert.throws(
      () => parseTorch(torchZip(P.pickle(P.reduce(P.global('torch', t), P.tuple())), {}), 'c.pth'),
      (e: Error) => e instanceof UnpicklingError && e.message.startsWith(`c.pth:archive/data.pkl: torch.${t}: torch.${t} may only appear as a storage type (pickle offset `),
    );
  }
  assert.equal(TORCH_GLOBALS['torch.ComplexFloatStorage'], undefined);
  // The table also holds the base and numpy globals.
  assert.ok(TORCH_GLOBALS['collections.OrderedDict']);
  assert.ok(TORCH_GLOBALS['numpy.core.multiarray._reconstruct']);
});

test('rebuild helpers: v1 and v2 tensors, Parameters are their tensor, torch.Size of a non-tuple is empty', () => {
  const t = (fn: string) => tensor(zipStorage('0', 3), 1, [2], [1], fn);
  const param = (fn: string) => P.reduce(P.global('torch._utils', fn), P.tuple(t('_rebuild_tensor_v2'), P.false));
  const v = parseTorch(
    torchZip(
      P.pickle(
        P.tuple(
          t('_rebuild_tensor'),
          t('_rebuild_tensor_v2'),
          param('_rebuild_parameter'),
          param('_rebuild_parameter_with_state'),
          P.reduce(P.global('torch', 'Size'), P.tuple(P.tuple(P.int(2), P.int(3)))),
          P.reduce(P.global('torch', 'Size'), P.tuple(P.int(2))),
          P.reduce(P.global('torch', 'Size'), P.tuple()),
        ),
      ),
      { '0': f32(9, 8, 7) },
    ),
    'h.pth',
  ).value as unknown[];
  for (const i of [0, 1, 2, 3]) {
    assert.ok(v[i] instanceof NdArray, String(i));
    assert.deepEqual([...(v[i] as NdArray).toFloat32()], [8, 7], String(i));
  }
  assert.deepEqual(v.slice(4), [[2, 3], [], []]);
});

test('tensor rebuild arguments are checked; errors name the file, the callable and the pickle offset', () => {
  const st = zipStorage('0', 4);
  const run = (args: number[]) => parseTorch(torchZip(P.pickle(P.reduce(P.global('torch._utils', '_rebuild_tensor_v2'), args)), { '0': f32(1, 2, 3, 4) }), 'a.pth');
  const ints = (...xs: number[]) => P.tuple(...xs.map(P.int));
  const refused = (args: number[], msg: string | RegExp) =>
    assert.throws(
      () => run(args),
      (e: Error) => {
        assert.ok(e instanceof UnpicklingError, e.message);
        const m = /^a\.pth:archive\/data\.pkl: torch\._utils\._rebuild_tensor_v2: (.*) \(pickle offset \d+\)$/.exec(e.message);
        assert.ok(m, e.message);
        if (typeof msg === 'string') assert.equal(m[1], msg);
        else assert.match(m[1]!, msg);
        return true;
      },
    );
  refused(P.tuple(P.none, P.int(0), ints(1), ints(1)), 'tensor rebuild without a storage');
  refused(P.tuple(P.int(3), P.int(0), ints(1), ints(1)), 'tensor rebuild without a storage');
  refused(P.tuple(P.tuple(P.int(1)), P.int(0), ints(1), ints(1)), 'tensor rebuild without a storage');
  refused(P.tuple(P.dict([['x', P.int(1)]]), P.int(0), ints(1), ints(1)), 'tensor rebuild without a storage');
  for (const off of [P.int(-1), P.float(0.5), P.str('0'), P.none, P.long(2n ** 60n)]) {
    refused(P.tuple(st, off, ints(1), ints(1)), 'tensor storage offset is not a non-negative int');
  }
  refused(P.tuple(st, P.int(0), P.int(2), ints(1)), 'tensor size is not a tuple of ints');
  refused(P.tuple(st, P.int(0), P.tuple(P.int(1), P.str('2')), ints(1, 1)), 'tensor size is not a tuple of ints');
  refused(P.tuple(st, P.int(0), ints(2), P.none), 'tensor stride is not a tuple of ints');
  refused(P.tuple(st, P.int(0), ints(2), P.tuple(P.float(0.5))), 'tensor size [2] / stride [0.5] are not non-negative ints of equal rank');
  refused(P.tuple(st, P.int(0), P.tuple(P.float(1.5)), ints(1)), 'tensor size [1.5] / stride [1] are not non-negative ints of equal rank');
  refused(P.tuple(st, P.int(0), ints(2, 2), ints(2)), 'tensor size [2,2] / stride [2] are not non-negative ints of equal rank');
  refused(P.tuple(st, P.int(0), ints(2), ints(-1)), 'tensor size [2] / stride [-1] are not non-negative ints of equal rank');
  refused(P.tuple(st, P.int(0), ints(-2), ints(1)), 'tensor size [-2] / stride [1] are not non-negative ints of equal rank');
  // The view must fit the bytes present: 4 floats = 16 bytes.
  refused(P.tuple(st, P.int(0), ints(5), ints(1)), 'a.pth:data/0: tensor of size [5] needs 20 bytes, its storage has 16');
  refused(P.tuple(st, P.int(1), ints(4), ints(1)), 'a.pth:data/0: tensor of size [4] needs 20 bytes, its storage has 16');
  refused(P.tuple(st, P.int(0), ints(2, 2), ints(3, 1)), 'a.pth:data/0: tensor of size [2,2] needs 20 bytes, its storage has 16');
  // Exactly filling the storage, and views that reach no bytes at all, are fine.
  const ok = (args: number[]) => (run(args).value as NdArray).toFloat32();
  assert.deepEqual([...ok(P.tuple(st, P.int(0), ints(4), ints(1)))], [1, 2, 3, 4]);
  assert.deepEqual([...ok(P.tuple(st, P.int(3), ints(1), ints(1)))], [4]);
  assert.deepEqual([...ok(P.tuple(st, P.int(0), ints(2, 2), ints(1, 2)))], [1, 3, 2, 4]);
  assert.deepEqual([...ok(P.tuple(st, P.int(9), ints(0), ints(1)))], []);
  assert.deepEqual([...ok(P.tuple(st, P.int(0), ints(3), ints(0)))], [1, 1, 1]);
});

test('isZip: exactly PK\\x03\\x04 at the start', () => {
  assert.equal(isZip(Uint8Array.from([0x50, 0x4b, 3, 4])), true);
  for (const head of [[0x51, 0x4b, 3, 4], [0x50, 0x4c, 3, 4], [0x50, 0x4b, 5, 4], [0x50, 0x4b, 5, 6], [0x50, 0x4b, 3, 5], [0x50, 0x4b, 3], []]) {
    assert.equal(isZip(Uint8Array.from(head)), false, JSON.stringify(head));
  }
  // 'PK\x05\x06' (an empty zip's end record) is not a torch zip: parsed as neither.
  assert.throws(() => parseTorch(Uint8Array.from([0x50, 0x4b, 5, 6, 0, 0]), 'e.pth'), /e\.pth: not a torch checkpoint/);
});

test('not a zip, not a pickle: the message says what the extension promised; old tar files are named', () => {
  const noise = Uint8Array.from([0x12, 0x34, 0x56, 0x78, 0x9a]);
  const said = (where: string) => {
    try {
      parseTorch(noise, where);
    } catch (e) {
      assert.ok(!(e instanceof UnpicklingError));
      return (e as Error).message;
    }
    return 'parsed';
  };
  assert.equal(said('w.h5'), 'w.h5: not an HDF5 file (no HDF5 signature at its start)');
  assert.equal(said('d/W.HDF5'), 'd/W.HDF5: not an HDF5 file (no HDF5 signature at its start)');
  assert.equal(said('m.Keras'), 'm.Keras: not an HDF5 file (no HDF5 signature at its start)');
  assert.equal(said('p.PDPARAMS'), 'p.PDPARAMS: not a Paddle .pdparams file (not a pickle)');
  assert.equal(said('w.pth'), 'w.pth: not a torch checkpoint (neither a zip archive nor a pickle)');
  assert.equal(said('h5'), 'h5: not a torch checkpoint (neither a zip archive nor a pickle)');
  assert.equal(said('w.h5.pth'), 'w.h5.pth: not a torch checkpoint (neither a zip archive nor a pickle)');
  assert.equal(said('x.pdparams.bak'), 'x.pdparams.bak: not a torch checkpoint (neither a zip archive nor a pickle)');

  // A POSIX tar: 'ustar' at offset 257 (the pre-0.4 torch.save layout).
  const tar = new Uint8Array(263);
  tar.set(Buffer.from('ustar'), 257);
  assert.throws(() => parseTorch(tar, 'old.pth'), (e: Error) => e.message === 'old.pth: the pre-0.4 tar torch format is not supported; re-save it with torch.save');
  // 'ustar' must be exactly there, and the file longer than its header's 262 bytes.
  assert.throws(() => parseTorch(tar.subarray(0, 262), 'short.pth'), /short\.pth: not a torch checkpoint/);
  const shifted = new Uint8Array(300);
  shifted.set(Buffer.from('ustar'), 256);
  assert.throws(() => parseTorch(shifted, 's.pth'), /s\.pth: not a torch checkpoint/);
  const partial = new Uint8Array(300);
  partial.set(Buffer.from('ustaX'), 257);
  assert.throws(() => parseTorch(partial, 'p.pth'), /p\.pth: not a torch checkpoint/);
  const longer = new Uint8Array(300);
  longer.set(Buffer.from('ustar'), 257);
  assert.throws(() => parseTorch(longer, 'l.pth'), /l\.pth: the pre-0\.4 tar torch format/);
});

test('readTorchFile: the size cap applies before reading; a missing file is named', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-ckfl-torch-'));
  const saved = process.env['MODELZOO_MAX_FILE_BYTES'];
  try {
    const f = path.join(dir, 'w.pth');
    fs.copyFileSync(path.join(FIX, 'legacy.pth'), f);
    const size = fs.statSync(f).size;
    process.env['MODELZOO_MAX_FILE_BYTES'] = String(size - 1);
    await assert.rejects(readTorchFile(f), (e: Error) => e.message.startsWith(`checkpoint ${f} is ${size} B, more than ${size - 1} B; refused`));
    process.env['MODELZOO_MAX_FILE_BYTES'] = String(size);
    assert.equal((await readTorchFile(f)).container, 'torch-legacy');
    await assert.rejects(readTorchFile(path.join(dir, 'none.pth')), /cannot read checkpoint .*none\.pth/);
  } finally {
    if (saved === undefined) delete process.env['MODELZOO_MAX_FILE_BYTES'];
    else process.env['MODELZOO_MAX_FILE_BYTES'] = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

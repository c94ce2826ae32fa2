import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { zipSync } from 'fflate';
import onnxExport from '../../plugins/modelzoo/src/executors/onnx-export/executor';
import { encodeModel, onnx } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { decodeNpz } from '../../plugins/modelzoo/src/lib/vastai/npy';
import { npzBomb, runExecutorChild, torchZipBomb } from '../helpers/bombs';
import { captureStderr, executorContext } from '../helpers/executor-context';

/**
 * Hostile checkpoints, archives and models, made at test time: each must fail through the executor
 * with a clear message (no stack), write nothing, and the bombs must stay within bounded memory.
 */
const GiB = 1024 ** 3;
const EXPORT = 'plugins/modelzoo/src/executors/onnx-export/executor.ts';
const PY = '/usr/bin/python3';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bounds-ckpt-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const exportOptions = (weights: string, format = 'torchvision') => ({
  source: 'checkpoint',
  variant: 'hostile',
  preprocess: 'torchvision',
  weights,
  format,
  outputPath: `dist/${path.basename(weights)}`,
});

/** The onnx-export executor in-process: its result, what it printed, and whether it wrote its output. */
async function exportInProcess(options: Record<string, unknown>): Promise<{ success: boolean; stderr: string; wrote: boolean }> {
  let success = true;
  const stderr = await captureStderr(async () => {
    success = (await onnxExport(options as never, executorContext(root, 'onnx-export'))).success;
  });
  return { success, stderr, wrote: fs.existsSync(path.join(root, String(options['outputPath']))) };
}

function assertRefused(r: { success: boolean; stderr: string; wrote?: boolean }, message: RegExp): void {
  assert.equal(r.success, false, r.stderr);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(r.wrote ?? false, false, 'nothing written');
}

function randomBytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    b[i] = s >>> 24;
  }
  b[0] = 0x17; // neither a zip, a pickle nor HDF5 by its first byte
  return b;
}

test('a 2.3 MB .pth that inflates to 2.4 GB is refused from its headers, in bounded memory', async () => {
  await torchZipBomb(path.join(root, 'bomb.pth'), 2_400_000_000, 'truth');
  assert.ok(fs.statSync(path.join(root, 'bomb.pth')).size < 3e6);
  const r = runExecutorChild(EXPORT, root, 'onnx-export', exportOptions('bomb.pth'));
  assertRefused(r, /bomb\.pth: zip member archive\/data\/0 declares 2\.24 GiB, past the cap of 1\.00 GiB in all; refused as a possible zip bomb \(set MODELZOO_MAX_ARCHIVE_BYTES/);
  assert.equal(fs.existsSync(path.join(root, 'dist/bomb.pth')), false);
  assert.ok(r.maxRssBytes < GiB, `peak RSS ${(r.maxRssBytes / 2 ** 20).toFixed(0)} MiB`);
});

test('a .pth whose headers understate a member is refused as soon as it inflates past them, in bounded memory', async () => {
  await torchZipBomb(path.join(root, 'liar.pth'), 300_000_000, 'lie');
  const r = runExecutorChild(EXPORT, root, 'onnx-export', exportOptions('liar.pth'));
  assertRefused(r, /liar\.pth: zip member archive\/data\/0 inflates past its declared 1000 bytes; refused/);
  assert.ok(r.maxRssBytes < GiB / 2, `peak RSS ${(r.maxRssBytes / 2 ** 20).toFixed(0)} MiB`);
});

test('pickles claiming more than their storage holds: a huge tensor view, a legacy storage with a huge declared size', async (t) => {
  if (spawnSync(PY, ['-c', 'import pickle, zipfile'], { stdio: 'ignore' }).status !== 0) return t.skip(`${PY} is not available`);
  const made = spawnSync(PY, ['-c', MAKE_PICKLES, root], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  assertRefused(
    await exportInProcess(exportOptions('huge-view.pth')),
    /huge-view\.pth:data\/0: tensor of size \[100000,100000\] needs 40000000000 bytes, its storage has 16/,
  );
  assertRefused(
    await exportInProcess(exportOptions('legacy-huge.pth')),
    /legacy-huge\.pth: storage 0 declares 1099511627776 elements, more than the 16 bytes left in the file hold/,
  );
});

test('a pickle of 8 M empty dicts (8 MB, ~1.7 GB of heap) is refused by the opcode budget, in bounded memory', () => {
  // protocol 2, then EMPTY_DICT x 8M: each pushes a new object onto the stack.
  const bomb = Buffer.alloc(8_000_002, 0x7d);
  bomb[0] = 0x80;
  bomb[1] = 0x02;
  fs.writeFileSync(path.join(root, 'dicts.pdparams'), bomb);
  const r = runExecutorChild(EXPORT, root, 'onnx-export', exportOptions('dicts.pdparams', 'paddle'));
  assertRefused(r, /dicts\.pdparams: more than 1000000 pickle operations; refused \(set MODELZOO_MAX_PICKLE_OPS/);
  assert.ok(r.maxRssBytes < GiB / 2, `peak RSS ${(r.maxRssBytes / 2 ** 20).toFixed(0)} MiB`);
});

test('random bytes are named by what their extension promised: .h5, .pdparams, .pth', async () => {
  for (const [name, format, message] of [
    ['noise.h5', 'keras', /noise\.h5: not an HDF5 file \(no HDF5 signature at its start\)/],
    ['noise.pdparams', 'paddle', /noise\.pdparams: not a Paddle \.pdparams file \(not a pickle\)/],
    ['noise.pth', 'torchvision', /noise\.pth: not a torch checkpoint \(neither a zip archive nor a pickle\)/],
  ] as const) {
    fs.writeFileSync(path.join(root, name), randomBytes(4096, name.length));
    const r = await exportInProcess(exportOptions(name, format));
    assertRefused(r, message);
    assert.doesNotMatch(r.stderr, name.endsWith('.h5') ? /torch/ : /HDF5/);
  }
});

test('npz: random bytes and a zip bomb are refused with the file named, the cap from MODELZOO_MAX_ARCHIVE_BYTES', async () => {
  assert.throws(() => decodeNpz(randomBytes(2048, 3), 'noise.npz'), /noise\.npz: not a readable \.npz \(zip\) file/);
  await npzBomb(path.join(root, 'bomb.npz'), 200_000_000);
  const before = process.memoryUsage().arrayBuffers;
  process.env['MODELZOO_MAX_ARCHIVE_BYTES'] = String(64 * 2 ** 20);
  try {
    assert.throws(() => decodeNpz(fs.readFileSync(path.join(root, 'bomb.npz')), 'bomb.npz'), /bomb\.npz: zip member input_0\.npy declares 190\.7 MiB, past the cap of 64\.0 MiB/);
  } finally {
    delete process.env['MODELZOO_MAX_ARCHIVE_BYTES'];
  }
  assert.ok(process.memoryUsage().arrayBuffers - before < 100 * 2 ** 20);
});

test('Keras .h5: a compressed dataset declaring 1.6 GB in a small file is refused from its shape', async (t) => {
  if (spawnSync(PY, ['-c', 'import h5py'], { stdio: 'ignore' }).status !== 0) return t.skip(`${PY} lacks h5py`);
  const file = path.join(root, 'bomb.h5');
  // Unwritten chunks of a chunked, gzip'd dataset are not stored at all: the file stays tiny.
  const made = spawnSync(
    PY,
    ['-c', `import h5py, sys
with h5py.File(sys.argv[1], 'w') as f:
    f.attrs['layer_names'] = [b'Conv1']
    g = f.create_group('Conv1')
    g.attrs['weight_names'] = [b'Conv1/kernel:0']
    g.create_dataset('Conv1/kernel:0', shape=(20000, 20000), dtype='float32', chunks=(1000, 1000), compression='gzip')
`, file],
    { encoding: 'utf8' },
  );
  assert.equal(made.status, 0, made.stderr);
  assert.ok(fs.statSync(file).size < 1e6);
  assertRefused(
    await exportInProcess(exportOptions('bomb.h5', 'keras')),
    /bomb\.h5: weights up to 'Conv1\/Conv1\/kernel:0' declare more than 1\.00 GiB; refused \(set MODELZOO_MAX_ARCHIVE_BYTES/,
  );
});

test('archives with more members than MODELZOO_MAX_ARCHIVE_ENTRIES are refused', () => {
  const members: Record<string, Uint8Array> = {};
  for (let i = 0; i < 10; i++) members[`m${i}.npy`] = new Uint8Array(8);
  const zip = zipSync(members);
  process.env['MODELZOO_MAX_ARCHIVE_ENTRIES'] = '5';
  try {
    assert.throws(() => decodeNpz(zip, 'many.npz'), /many\.npz: archive has more than 5 members; refused \(set MODELZOO_MAX_ARCHIVE_ENTRIES/);
  } finally {
    delete process.env['MODELZOO_MAX_ARCHIVE_ENTRIES'];
  }
});

/** A minimal one-initializer ONNX model; `tweak` makes it hostile. */
function onnxFile(name: string, tweak: (init: onnx.ITensorProto) => void): string {
  const init: onnx.ITensorProto = { name: 'w', dims: [4], dataType: 1, rawData: new Uint8Array(16) };
  tweak(init);
  const vi = (n: string): onnx.IValueInfoProto => ({
    name: n,
    type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: 3 }, { dimValue: 224 }, { dimValue: 224 }] } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'g', node: [{ opType: 'Identity', input: ['x'], output: ['y'] }], initializer: [init], input: [vi('x')], output: [vi('y')] },
  });
  const file = path.join(root, name);
  fs.writeFileSync(file, encodeModel(model));
  return file;
}

test('ONNX: random bytes, absurd declared dims, external data, and the file-size cap are refused before use', async () => {
  const onnxOptions = (file: string) => ({ source: 'onnx', variant: 'hostile', preprocess: 'torchvision', file, outputPath: `dist/${path.basename(file)}` });
  fs.writeFileSync(path.join(root, 'noise.onnx'), randomBytes(4096, 9));
  assertRefused(await exportInProcess(onnxOptions('noise.onnx')), /noise\.onnx is not a valid ONNX model/);
  onnxFile('absurd.onnx', (t) => (t.dims = [1_000_000, 1_000_000]));
  assertRefused(
    await exportInProcess(onnxOptions('absurd.onnx')),
    /absurd\.onnx: graph initializer 'w' declares dims \[1000000,1000000\] \(4000000000000 bytes\) but holds 16 bytes of data/,
  );
  onnxFile('negative.onnx', (t) => (t.dims = [-4]));
  assertRefused(await exportInProcess(onnxOptions('negative.onnx')), /negative\.onnx: graph initializer 'w' has invalid dims \[-4\]/);
  onnxFile('external.onnx', (t) => {
    t.rawData = null;
    t.dataLocation = 1;
    t.externalData = [{ key: 'location', value: '/etc/passwd' }];
  });
  assertRefused(await exportInProcess(onnxOptions('external.onnx')), /external\.onnx: graph initializer 'w' keeps its data in an external file/);
  onnxFile('fine.onnx', () => undefined);
  process.env['MODELZOO_MAX_FILE_BYTES'] = '100';
  try {
    assertRefused(await exportInProcess(onnxOptions('fine.onnx')), /fine\.onnx is \d+ B, more than 100 B; refused \(set MODELZOO_MAX_FILE_BYTES/);
  } finally {
    delete process.env['MODELZOO_MAX_FILE_BYTES'];
  }
});

/** Protobuf wire helpers for a model protobufjs would amplify: 9 M one-byte packed int64 values (9 MB). */
function varint(n: number): Buffer {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return Buffer.from(out);
}
const field = (tag: number, payload: Buffer) => Buffer.concat([varint(tag), varint(payload.length), payload]);

test('ONNX: a 9 MB model whose packed int64 data would decode to 9 M objects is refused before decoding, in bounded memory', () => {
  const n = 9_000_000;
  const tensor = Buffer.concat([field(0x0a, varint(n)), Buffer.from([0x10, 7]), field(0x3a, Buffer.alloc(n, 1)), field(0x42, Buffer.from('w'))]);
  const model = Buffer.concat([Buffer.from([0x08, 8]), field(0x3a, field(0x2a, tensor)), field(0x42, Buffer.from([0x10, 13]))]);
  fs.writeFileSync(path.join(root, 'longs.onnx'), model);
  const r = runExecutorChild(EXPORT, root, 'onnx-export', { source: 'onnx', variant: 'hostile', preprocess: 'torchvision', file: 'longs.onnx', outputPath: 'dist/longs' });
  assertRefused(r, /longs\.onnx: decoding would create more than 8000000 values .* \(set MODELZOO_MAX_ONNX_VALUES/);
  assert.equal(fs.existsSync(path.join(root, 'dist/longs')), false);
  assert.ok(r.maxRssBytes < GiB / 2, `peak RSS ${(r.maxRssBytes / 2 ** 20).toFixed(0)} MiB`);
});

/** torch.save-shaped pickles written with the standard library only (no torch needed). */
const MAKE_PICKLES = String.raw`
import collections, io, pickle, struct, sys, types, zipfile
out = sys.argv[1]
torch = types.ModuleType('torch'); sys.modules['torch'] = torch
utils = types.ModuleType('torch._utils'); sys.modules['torch._utils'] = utils
class FloatStorage: pass
FloatStorage.__module__ = 'torch'; torch.FloatStorage = FloatStorage
def _rebuild_tensor_v2(*a): pass
_rebuild_tensor_v2.__module__ = 'torch._utils'; utils._rebuild_tensor_v2 = _rebuild_tensor_v2
class Storage:
    def __init__(self, numel): self.numel = numel
class Tensor:
    def __init__(self, storage, size): self.storage, self.size = storage, size
    def __reduce__(self):
        acc, st = 1, []
        for d in reversed(self.size): st.insert(0, acc); acc *= d
        return (_rebuild_tensor_v2, (self.storage, 0, self.size, tuple(st), False, collections.OrderedDict()))
def pickler(f, pid):
    p = pickle.Pickler(f, protocol=2)
    p.persistent_id = lambda o: pid(o) if isinstance(o, Storage) else None
    return p
buf = io.BytesIO()
pickler(buf, lambda s: ('storage', FloatStorage, '0', 'cpu', s.numel)).dump({'features.0.0.weight': Tensor(Storage(4), (100000, 100000))})
with zipfile.ZipFile(out + '/huge-view.pth', 'w') as z:
    z.writestr('archive/data.pkl', buf.getvalue())
    z.writestr('archive/data/0', b'\0' * 16)
with open(out + '/legacy-huge.pth', 'wb') as f:
    for v in (0x1950a86a20f9469cfc6c, 1001, {'protocol_version': 1001, 'little_endian': True, 'type_sizes': {'short': 2, 'int': 4, 'long': 4}}):
        pickle.dump(v, f, protocol=2)
    pickler(f, lambda s: ('storage', FloatStorage, '0', 'cpu', s.numel, None)).dump({'features.0.0.weight': Tensor(Storage(2**40), (4,))})
    pickle.dump(['0'], f, protocol=2)
    f.write(struct.pack('<q', 2**40) + b'\0' * 16)
`;

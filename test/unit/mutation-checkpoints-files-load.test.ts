import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../../plugins/modelzoo/src/lib/common/errors';
import { detectFormat, loadCheckpoint } from '../../plugins/modelzoo/src/lib/checkpoints/load';
import type { CheckpointFormat } from '../../plugins/modelzoo/src/lib/checkpoints/mobilenetv2-keys';
import { NdArray } from '../../plugins/modelzoo/src/lib/checkpoints/ndarray';
import { HDF5_MAGIC } from '../../plugins/modelzoo/src/lib/checkpoints/keras-h5';
import { P, f32, kerasLayer, mobilenetTensors, mobilenetZip, tensor, torchZip, writeH5, zipStorage } from '../helpers/mutation-checkpoints-files-builders';

// loadCheckpoint end to end on whole MobileNetV2 state dicts built in a few KB (every tensor a stride-0
// view of one float), Keras ones written with h5wasm, and the refusals, each naming the file.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-ckfl-load-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const put = (name: string, data: Uint8Array) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, data);
  return f;
};
const FIX = path.join(__dirname, '../fixtures/mutation-checkpoints-files');

const userError = (msg: string | RegExp) => (e: Error) => {
  assert.ok(e instanceof UserError, `${e.constructor.name}: ${e.message}`);
  if (typeof msg === 'string') assert.equal(e.message, msg);
  else assert.match(e.message, msg);
  return true;
};

test('detectFormat: HDF5 is Keras; otherwise one marker key per framework, Paddle under either naming', () => {
  const sd = (...keys: string[]) => new Map(keys.map((k) => [k, undefined as unknown as NdArray]));
  assert.equal(detectFormat(sd(), 'hdf5'), 'keras');
  assert.equal(detectFormat(sd('features.0.0.weight'), 'hdf5'), 'keras');
  assert.equal(detectFormat(sd('x', 'features.0.0.weight'), 'torch-zip'), 'torchvision');
  assert.equal(detectFormat(sd('conv_stem.weight'), 'torch-legacy'), 'timm');
  assert.equal(detectFormat(sd('backbone.conv1.conv.weight'), 'torch-zip'), 'mmcls');
  assert.equal(detectFormat(sd('conv1._conv.weight'), 'pickle'), 'paddle');
  assert.equal(detectFormat(sd('conv1_1_weights'), 'pickle'), 'paddle');
  assert.equal(detectFormat(sd('features.0.0.weight', 'conv_stem.weight'), 'torch-zip'), 'torchvision', 'checked in order');
  assert.equal(detectFormat(sd('conv_stem.weight', 'backbone.conv1.conv.weight', 'conv1_1_weights'), 'torch-zip'), 'timm');
  assert.equal(detectFormat(sd('backbone.conv1.conv.weight', 'conv1_1_weights'), 'torch-zip'), 'mmcls');
  assert.equal(detectFormat(sd('features.0.0.bias', 'conv1.weight', 'module.features.0.0.weight'), 'torch-zip'), undefined);
  assert.equal(detectFormat(sd(), 'pickle'), undefined);
});

const SEMANTICS = {
  torchvision: { rounding: 'torchvision', padding: 'symmetric', bnEpsilon: 1e-5 },
  paddle: { rounding: 'paddle', padding: 'symmetric', bnEpsilon: 1e-5, expandT1: true },
  keras: { rounding: 'torchvision', padding: 'tf-same', bnEpsilon: 1e-3 },
} as const;

for (const [format, wrap, width, classes] of [
  ['torchvision', undefined, 1, 1000],
  ['timm', 'state_dict', 0.5, 10],
  ['mmcls', 'state_dict', 1, 7],
] as const) {
  test(`${format} (${wrap ?? 'bare'}): detected, bound at width ${width} / ${classes} classes, meta and builder say so`, async () => {
    const file = put(`${format}.pth`, mobilenetZip(format, width, classes, { wrap }));
    for (const fmt of [undefined, format] as (CheckpointFormat | undefined)[]) {
      const r = await loadCheckpoint(file, fmt);
      assert.deepEqual(
        { ...r.meta },
        { file, format, container: 'torch-zip', wrapper: wrap, keys: format, width, classes, tensors: mobilenetTensors(format, width, classes).length, notes: [] },
      );
      assert.deepEqual({ ...r.builder, weights: undefined }, { ...SEMANTICS.torchvision, width, classes, weights: undefined });
      assert.equal(r.builder.weights, r.weights);
      // Values come through the framework's key: every tensor is the one stored float.
      assert.deepEqual([...r.weights('fc', 'bias', [classes])], new Array(classes).fill(0.5));
    }
  });
}

test('paddle: both namings bind; the note says Linear weights are transposed; builder has paddle rounding and the t=1 expand', async () => {
  for (const variant of ['paddle-structured', 'paddle-params']) {
    const tensors = mobilenetTensors('paddle', 0.25, 3, variant);
    const entries = tensors.map(([k, shape]) => [k, tensor(zipStorage('0', 1), 0, shape, shape.map(() => 0))] as [string, number[]]);
    const file = put(`${variant}.pdparams`, torchZip(P.pickle(P.dict(entries)), { '0': f32(2) }));
    const r = await loadCheckpoint(file);
    assert.equal(r.meta.format, 'paddle');
    assert.equal(r.meta.keys, variant);
    assert.equal(r.meta.width, 0.25);
    assert.equal(r.meta.classes, 3);
    assert.equal(r.meta.wrapper, undefined);
    assert.deepEqual(r.meta.notes, ['PaddleClas Linear weights are stored [in, out] and transposed into Gemm [out, in]']);
    assert.deepEqual({ ...r.builder, weights: undefined }, { ...SEMANTICS.paddle, width: 0.25, classes: 3, weights: undefined });
  }
});

async function kerasFile(name: string, width: number, classes: number): Promise<string> {
  const file = path.join(dir, name);
  const tensors = mobilenetTensors('keras', width, classes);
  const layers = new Map<string, [string, Float32Array, number[]][]>();
  for (const [key, shape] of tensors) {
    const [layer, variable] = key.split('/') as [string, string];
    if (!layers.has(layer)) layers.set(layer, []);
    layers.get(layer)!.push([`${layer}/${variable}:0`, new Float32Array(shape.reduce((a, d) => a * d, 1)).fill(0.25), shape]);
  }
  await writeH5(file, (f) => {
    f.create_attribute('layer_names', ['input_1', ...layers.keys()]);
    kerasLayer(f, 'input_1', []);
    for (const [layer, ws] of layers) kerasLayer(f, layer, ws);
  });
  return file;
}

test('keras: an HDF5 file is read as Keras by content whatever its name; softmax note; tf-same padding, BN eps 1e-3', async () => {
  const file = await kerasFile('weights.bin', 0.35, 2);
  const r = await loadCheckpoint(file);
  assert.deepEqual(
    { ...r.meta },
    { file, format: 'keras', container: 'hdf5', wrapper: undefined, keys: 'keras', width: 0.35, classes: 2, tensors: mobilenetTensors('keras', 0.35, 2).length, notes: ['Keras applies softmax in its predictions layer; this graph outputs the logits before it'] },
  );
  assert.deepEqual({ ...r.builder, weights: undefined }, { ...SEMANTICS.keras, width: 0.35, classes: 2, weights: undefined });
  assert.deepEqual([...r.weights('fc', 'bias', [2])], [0.25, 0.25]);
  // The format and the container must agree.
  await assert.rejects(loadCheckpoint(file, 'torchvision'), userError(`${file}: an HDF5 file cannot be a torchvision checkpoint`));
  const tv = put('tv-as-keras.pth', mobilenetZip('torchvision', 1, 1000));
  await assert.rejects(loadCheckpoint(tv, 'keras'), userError(`${tv}: Keras weights must be an HDF5 (.h5) file`));
});

test('an explicit format overrides detection; binding errors are user errors naming the file and the keys', async () => {
  const tv = put('tv.pth', mobilenetZip('torchvision', 1, 1000));
  await assert.rejects(loadCheckpoint(tv, 'timm'), userError(new RegExp(`^${tv}: does not match timm MobileNetV2 .*\\n  missing keys: conv_stem\\.weight`, 's')));
  const odd = put('odd.pth', mobilenetZip('torchvision', 1, 1000, { drop: 'features.3.conv.1.0.weight', extra: 'features.19.extra.weight' }));
  await assert.rejects(loadCheckpoint(odd, 'torchvision', { width: 1 }), userError(/odd\.pth: does not match torchvision MobileNetV2 \(width 1\)\n  missing keys: features\.3\.conv\.1\.0\.weight\n  unknown keys: features\.19\.extra\.weight/));
  await assert.rejects(loadCheckpoint(odd), userError(/missing keys: features\.3\.conv\.1\.0\.weight/));
  // Options reach the binder: a width or class count the tensors do not have is refused.
  await assert.rejects(loadCheckpoint(tv, undefined, { classes: 10 }), userError(/tv\.pth: does not match torchvision MobileNetV2 .*\n  shape mismatches: classifier\.1\.weight: \[1000,1280\] \(expected \[10,1280\]\)/));
  await assert.rejects(loadCheckpoint(tv, undefined, { width: 0.5 }), userError(/tv\.pth: does not match torchvision MobileNetV2 \(width 0\.5\)/));
  assert.equal((await loadCheckpoint(tv, undefined, { width: 1, classes: 1000 })).meta.classes, 1000);
});

test('unknown framework: the first eight keys are listed; unknown format names are refused before reading', async () => {
  const keys = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9'];
  const file = put('unknown.pth', torchZip(P.pickle(P.dict(keys.map((k) => [k, tensor(zipStorage('0', 1), 0, [1], [1])]))), { '0': f32(1) }));
  await assert.rejects(loadCheckpoint(file), userError(`${file}: cannot tell which framework wrote this checkpoint (first keys: k1, k2, k3, k4, k5, k6, k7, k8); pass the format explicitly`));
  for (const bad of ['onnx', 'Torchvision', '']) {
    await assert.rejects(
      loadCheckpoint(path.join(dir, 'absent.pth'), bad as CheckpointFormat),
      userError(bad === '' ? /cannot read checkpoint/ : `unknown checkpoint format '${bad}' (expected one of torchvision, timm, mmcls, keras, paddle)`),
    );
  }
});

test('read failures: every message names the file once, whatever raised it', async () => {
  const absent = path.join(dir, 'absent.pth');
  await assert.rejects(loadCheckpoint(absent), userError(new RegExp(`^cannot read checkpoint ${absent}: ENOENT`)));
  // Shorter than the 8-byte signature: read as what it is, not an error of its own.
  const tiny = put('tiny.pth', Uint8Array.from([1, 2, 3]));
  await assert.rejects(loadCheckpoint(tiny), userError(`${tiny}: not a torch checkpoint (neither a zip archive nor a pickle)`));
  const empty = put('empty.h5', new Uint8Array(0));
  await assert.rejects(loadCheckpoint(empty), userError(`${empty}: not an HDF5 file (no HDF5 signature at its start)`));
  // HDF5 signature, damaged body.
  const fake = put('fake.h5', Uint8Array.from([...HDF5_MAGIC, ...new Array(64).fill(3)]));
  await assert.rejects(loadCheckpoint(fake), userError(`${fake}: not a readable HDF5 file (damaged, truncated, or not HDF5 past its signature)`));
  const f16 = path.join(FIX, 'float16.h5');
  await assert.rejects(loadCheckpoint(f16), userError(/^\S+float16\.h5: weight 'Conv1\/Conv1\/kernel:0': unsupported dataset type <e/));
  // Errors raised inside the unpickler carry the file once (not twice), whether or not the raiser named it.
  const noPkl = put('none.pth', torchZip(P.pickle(P.none), {}));
  await assert.rejects(loadCheckpoint(noPkl), userError(`${noPkl}: expected a dict of tensors at the top level, got None`));
  const npObj = put('np.pdparams', P.pickle(P.reduce(P.global('numpy', 'dtype'), P.tuple(P.str('O8'), P.false, [0x88]))));
  await assert.rejects(loadCheckpoint(npObj), userError(`${npObj}: numpy dtype 'O8' is not supported in checkpoints (numeric arrays only)`));
  const badTensor = put('bad.pth', torchZip(P.pickle(P.dict([['w', tensor(zipStorage('0', 1), 0, [9], [1])]])), { '0': f32(1) }));
  await assert.rejects(loadCheckpoint(badTensor), userError(new RegExp(`^${badTensor}:archive/data\\.pkl: torch\\._utils\\._rebuild_tensor_v2: ${badTensor}:data/0: tensor of size \\[9\\] needs 36 bytes, its storage has 4 \\(pickle offset \\d+\\)$`)));
  const legacyCut = fs.readFileSync(path.join(FIX, 'legacy.pth'));
  const cut = put('cut.pth', legacyCut.subarray(0, legacyCut.length - 3));
  await assert.rejects(loadCheckpoint(cut), userError(/^\S+cut\.pth: storage \d+ declares \d+ elements, more than the \d+ bytes left in the file hold$/));
  // A folder: opened, but unreadable.
  await assert.rejects(loadCheckpoint(dir), userError(new RegExp(`^cannot read checkpoint ${dir}: EISDIR`)));
  // The size cap is a user error of its own, passed through unchanged.
  const saved = process.env['MODELZOO_MAX_FILE_BYTES'];
  process.env['MODELZOO_MAX_FILE_BYTES'] = '2';
  try {
    await assert.rejects(loadCheckpoint(tiny), userError(`checkpoint ${tiny} is 3 B, more than 2 B; refused (set MODELZOO_MAX_FILE_BYTES to raise the cap)`));
  } finally {
    if (saved === undefined) delete process.env['MODELZOO_MAX_FILE_BYTES'];
    else process.env['MODELZOO_MAX_FILE_BYTES'] = saved;
  }
});

test('the signature probe closes its file handle, on success and on failure', { skip: fs.existsSync('/proc/self/fd') ? false : 'needs /proc/self/fd' }, async () => {
  const tv = put('fd.pth', mobilenetZip('torchvision', 0.5, 4));
  const noise = put('fd-noise.pth', Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]));
  // Open descriptors that point at either file (other descriptors may come and go meanwhile).
  const held = () =>
    fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return [tv, noise].includes(fs.readlinkSync(`/proc/self/fd/${fd}`));
      } catch {
        return false;
      }
    });
  for (let i = 0; i < 3; i++) {
    await loadCheckpoint(tv);
    await assert.rejects(loadCheckpoint(noise));
  }
  assert.deepEqual(held(), []);
});

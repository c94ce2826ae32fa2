import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { frameworkCounts, frameworkParamCount } from '../../plugins/modelzoo/src/lib/checkpoints/counts';
import { exportNative } from '../../plugins/modelzoo/src/lib/checkpoints/export-native';
import { loadCheckpoint } from '../../plugins/modelzoo/src/lib/checkpoints/load';
import { buildMobileNetV2 } from '../../plugins/modelzoo/src/lib/onnx/mobilenetv2';
import { type Model, encodeModel } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { graphStats } from '../../plugins/modelzoo/src/lib/onnx/stats';
import { REPO_ROOT } from '../helpers/shared';

const PY = '/usr/bin/python3';
const hasTorch =
  fs.existsSync(PY) && spawnSync(PY, ['-c', 'import torch, torchvision, h5py, numpy'], { stdio: 'ignore' }).status === 0;
const skipNoTorch: string | false = hasTorch ? false : `${PY} lacks torch/torchvision/h5py/numpy`;

const SIZE = 64;
const COUNT = 3;
interface Fixture { name: string; file: string; format: string; width: number; classes: number; logits: string }
let dir = '';
let fixtures: Fixture[] = [];
let input: Float32Array = new Float32Array(0);

before(() => {
  if (!hasTorch) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-ckpt-'));
  // Deterministic synthetic images: smooth gradients plus a per-image phase.
  input = new Float32Array(COUNT * 3 * SIZE * SIZE);
  for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 0.0137 + Math.floor(i / (3 * SIZE * SIZE))) * 1.5;
  fs.writeFileSync(path.join(dir, 'inputs.f32'), new Uint8Array(input.buffer));
  const r = spawnSync(PY, [path.join(REPO_ROOT, 'tools', 'fixtures', 'make_checkpoints.py'), '--out', dir,
    '--inputs', path.join(dir, 'inputs.f32'), '--count', String(COUNT), '--size', String(SIZE)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  fixtures = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Fixture[];
});

async function run(model: Model, x: Float32Array, n: number): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(encodeModel(model));
  const out = await s.run({ input: new ort.Tensor('float32', x, [n, 3, SIZE, SIZE]) });
  return out['logits']!.data as Float32Array;
}

const readF32 = (f: string) => {
  const b = fs.readFileSync(f);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
};
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

test('every framework layout loads natively and matches its reference forward (<= 1e-4)', { skip: skipNoTorch }, async () => {
  const names = fixtures.map((f) => f.name);
  for (const want of ['torchvision', 'torchvision-legacy', 'timm', 'mmcls', 'paddle-x0_25', 'paddle-x1_0-params', 'keras-full', 'keras-weights']) {
    assert.ok(names.includes(want), `fixture ${want} missing`);
  }
  for (const f of fixtures) {
    // Format auto-detection: no format passed.
    const r = await exportNative({ file: f.file, inputSize: SIZE });
    assert.equal(r.meta.format, f.format, f.name);
    assert.equal(r.meta.width, f.width, f.name);
    assert.equal(r.meta.classes, f.classes, f.name);
    const got = await run(r.model, input, COUNT);
    const ref = readF32(f.logits);
    assert.equal(got.length, ref.length);
    const d = maxDiff(got, ref);
    assert.ok(d <= 1e-4, `${f.name}: max |native - reference| = ${d}`);
  }
});

test('checkpoint metadata names the container and the wrapper', { skip: skipNoTorch }, async () => {
  const by = (n: string) => fixtures.find((f) => f.name === n)!.file;
  const legacy = await loadCheckpoint(by('torchvision-legacy'));
  assert.equal(legacy.meta.container, 'torch-legacy');
  assert.equal(legacy.meta.wrapper, 'state_dict');
  const mm = await loadCheckpoint(by('mmcls'));
  assert.equal(mm.meta.wrapper, 'state_dict');
  assert.equal(mm.meta.container, 'torch-zip');
  const pd = await loadCheckpoint(by('paddle-x1_0'));
  assert.equal(pd.meta.container, 'pickle');
  assert.equal(pd.meta.keys, 'paddle-structured');
  assert.equal(pd.builder.expandT1, true);
  const k = await loadCheckpoint(by('keras-weights'));
  assert.equal(k.builder.padding, 'tf-same');
  assert.equal(k.builder.bnEpsilon, 1e-3);
});

test('missing and unknown keys are listed in the error', { skip: skipNoTorch }, async () => {
  await assert.rejects(loadCheckpoint(path.join(dir, 'broken.pth'), 'torchvision', { width: 1 }), (e: Error) => {
    assert.match(e.message, /broken\.pth/);
    assert.match(e.message, /missing keys: features\.3\.conv\.1\.0\.weight/);
    assert.match(e.message, /unknown keys: features\.19\.extra\.weight/);
    return true;
  });
  // The wrong framework: every key is unknown to it.
  const tv = fixtures.find((f) => f.name === 'torchvision')!.file;
  await assert.rejects(loadCheckpoint(tv, 'timm'), /missing keys: conv_stem\.weight.*\n.*unknown keys: features\.0\.0\.weight/s);
  await assert.rejects(loadCheckpoint(tv, 'keras'), /Keras weights must be an HDF5/);
});

test('foldBatchNorm removes BN nodes and keeps the logits', { skip: skipNoTorch }, async () => {
  const f = fixtures.find((x) => x.name === 'keras-full')!;
  const plain = await exportNative({ file: f.file, inputSize: SIZE });
  const folded = await exportNative({ file: f.file, inputSize: SIZE, foldBatchNorm: true });
  assert.equal(folded.model.graph!.node!.filter((n) => n.opType === 'BatchNormalization').length, 0);
  const d = maxDiff(await run(plain.model, input, COUNT), await run(folded.model, input, COUNT));
  assert.ok(d <= 1e-4, `folded vs unfolded ${d}`);
});

test('each library\'s own parameter count convention', () => {
  assert.equal(frameworkCounts('torchvision', { width: 1 }).params, 3_504_872);
  assert.equal(frameworkCounts('timm', { width: 1 }).params, 3_504_872);
  assert.equal(frameworkCounts('keras', { width: 1 }).params, 3_538_984);
  // PaddleClas's table (M, two decimals): x0.25 ... x2.0.
  const table: [number, number][] = [[0.25, 1.53], [0.5, 1.98], [0.75, 2.65], [1.0, 3.54], [1.5, 6.9], [2.0, 11.33]];
  for (const [w, m] of table) assert.equal(Math.round(frameworkCounts('paddle', { width: w }).params / 1e4) / 100, m, `paddle x${w}`);
  assert.equal(frameworkCounts('torchvision', { width: 1 }).macs, graphStats(buildMobileNetV2({})).macs);
  // On a built graph: BN buffers added back for Keras/Paddle only.
  const g = buildMobileNetV2({ rounding: 'paddle', expandT1: true, width: 0.25 });
  assert.equal(frameworkParamCount(g, 'paddle'), frameworkCounts('paddle', { width: 0.25 }).params);
  assert.equal(frameworkParamCount(buildMobileNetV2({}), 'torchvision'), 3_504_872);
});

test("onnx-export source 'checkpoint': native and framework exporters, card identity and library counts", { skip: skipNoTorch }, async () => {
  const { exportModel } = await import('../../plugins/modelzoo/src/lib/export/export-model');
  const tv = fixtures.find((f) => f.name === 'torchvision')!;
  const base = { source: 'checkpoint', model: 'mobilenetv2', variant: 't', preprocess: 'torchvision', inputSize: 224, opset: 13, seed: 0, rounding: 'torchvision', padding: 'symmetric', bnEpsilon: 1e-5 } as const;
  const native = await exportModel({ ...base, weights: path.relative(dir, tv.file), baseDir: dir, outputPath: path.join(dir, 'exp-native') });
  assert.match(native.weights, /^torchvision\.pth sha256:[0-9a-f]{12}$/);
  assert.equal(native.params, 3_504_872);
  assert.equal(native.libraryParams, 3_504_872);
  assert.equal(native.details['exporter'], 'native');
  assert.ok(fs.existsSync(path.join(dir, 'exp-native', 'model.onnx')));
  const fw = await exportModel({ ...base, weights: tv.file, exporter: 'framework', python: PY, outputPath: path.join(dir, 'exp-fw') });
  assert.equal(fw.weights, native.weights);
  assert.equal(fw.details['exporter'], 'framework');
  // torch.onnx folds BN into Conv (a bias per conv instead of gamma+beta): the graph count drops, the
  // library's own count does not.
  assert.equal(fw.libraryParams, 3_504_872);
  assert.ok(fw.params < fw.libraryParams!);
  assert.equal(fw.macs, native.macs);
  assert.ok((fw.details['command'] as string[]).includes('<out>'), 'no temp paths on the card');
});

test('the framework exporter never sees a hostile pickle: it is refused natively first', async () => {
  const { exportModel } = await import('../../plugins/modelzoo/src/lib/export/export-model');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-evil-'));
  fs.writeFileSync(path.join(tmp, 'evil.pth'), Buffer.from('\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03.', 'latin1'));
  await assert.rejects(
    exportModel({ source: 'checkpoint', model: 'm', variant: 'v', preprocess: 'torchvision', inputSize: 224, opset: 13, seed: 0, rounding: 'torchvision', padding: 'symmetric', bnEpsilon: 1e-5,
      weights: 'evil.pth', baseDir: tmp, exporter: 'framework', python: '/nonexistent/python', outputPath: path.join(tmp, 'out') }),
    /option 'weights'.*evil\.pth.*refusing to load global 'os\.system'/s,
  );
  assert.ok(!fs.existsSync(path.join(tmp, 'out')));
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('a missing framework exporter names what to install and points at the native exporter', async () => {
  const { runFrameworkExporter } = await import('../../plugins/modelzoo/src/lib/checkpoints/frameworks');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-fw-'));
  const native = /exporter: 'native'/;
  try {
    // paddle2onnx is not installed here: a clear "not found".
    await assert.rejects(
      runFrameworkExporter({ library: 'paddle', outDir: path.join(tmp, 'p'), paddleModelDir: tmp, paddle2onnx: path.join(tmp, 'no-paddle2onnx') }),
      (e: Error) => /paddle2onnx.*not found/.test(e.message) && /Paddle2ONNX/.test(e.message) && native.test(e.message),
    );
    // mmcls: a directory that is not an mmclassification checkout.
    await assert.rejects(
      runFrameworkExporter({ library: 'mmcls', outDir: path.join(tmp, 'm'), mmclsRoot: tmp, mmclsConfig: 'c.py', weights: 'w.pth' }),
      (e: Error) => /option 'mmclsRoot'.*pytorch2onnx\.py/.test(e.message) && /pip install mmcls/.test(e.message) && native.test(e.message),
    );
    // keras: a real interpreter without tf2onnx reports the missing module by name.
    await assert.rejects(
      runFrameworkExporter({ library: 'keras', outDir: path.join(tmp, 'k'), python: process.env['MODELZOO_PYTHON'] ?? '/usr/bin/python3', weights: path.join(tmp, 'm.h5') }),
      (e: Error) => /missing Python package 'tf2onnx'|not found/.test(e.message) && /tf2onnx/.test(e.message) && native.test(e.message),
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

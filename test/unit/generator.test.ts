import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readJson } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import variantGenerator from '../../plugins/modelzoo/src/generators/variant/generator';
import { declarationToSpec } from '../../plugins/modelzoo/src/lib/nx/declaration';
import { inferVariantProject } from '../../plugins/modelzoo/src/lib/nx/inferred';
import { buildMobileNetV2 } from '../../plugins/modelzoo/src/lib/onnx/mobilenetv2';
import { encodeModel } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { REPO_ROOT } from '../helpers/shared';

const PY = '/usr/bin/python3';
const hasTorch = fs.existsSync(PY) && spawnSync(PY, ['-c', 'import torch, torchvision, h5py, numpy'], { stdio: 'ignore' }).status === 0;
const skipNoTorch: string | false = hasTorch ? false : `${PY} lacks torch/torchvision/h5py/numpy (fixture checkpoints cannot be made)`;

let dir = '';
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-gen-'));
  // Misleading names on purpose: detection reads content, never the extension.
  fs.writeFileSync(path.join(dir, 'model.pth'), encodeModel(buildMobileNetV2({ width: 0.25, classes: 10 })));
  if (!hasTorch) return;
  fs.writeFileSync(path.join(dir, 'in.f32'), Buffer.alloc(3 * 32 * 32 * 4));
  const r = spawnSync(PY, [path.join(REPO_ROOT, 'tools', 'fixtures', 'make_checkpoints.py'), '--out', dir, '--inputs', path.join(dir, 'in.f32'), '--count', '1', '--size', '32'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  fs.renameSync(path.join(dir, 'keras-weights.h5'), path.join(dir, 'keras.onnx'));
  fs.renameSync(path.join(dir, 'paddle-x0_25.pdparams'), path.join(dir, 'paddle.h5'));
  fs.renameSync(path.join(dir, 'timm.pth'), path.join(dir, 'timm.pdparams'));
});

/** The generated project.json, and the targets the plugin infers from it. */
function generated(tree: ReturnType<typeof createTreeWithEmptyWorkspace>, row: string) {
  const file = `models/mobilenetv2/${row}/project.json`;
  const json = readJson(tree, file);
  return { json, lines: tree.read(file, 'utf8')!.split('\n').length, project: inferVariantProject(declarationToSpec(json.metadata.modelzoo.variant, file), `models/mobilenetv2/${row}`) };
}

test('the variant generator writes a short declaration whose inferred targets are wired to the dataset of its geometry', async () => {
  const tree = createTreeWithEmptyWorkspace();
  await variantGenerator(tree, { model: 'mobilenetv2', row: 'my-timm', preprocess: 'timm', width: 1.4, zooTop1: 75.1, zooTop5: 92.3 });
  const { json, lines, project: p } = generated(tree, 'my-timm');
  assert.equal(json.name, 'mobilenetv2-my-timm');
  assert.equal(json.targets, undefined);
  assert.ok(lines <= 25, `${lines} lines`);
  assert.deepEqual(json.metadata.modelzoo.variant.zoo, { top1: 75.1, top5: 92.3 });
  assert.deepEqual(p.metadata, { zoo: { top1: 75.1, top5: 92.3 } });
  assert.equal((p.targets!['onnx-export']!.options as any).width, 1.4);
  assert.deepEqual(p.targets!['vamc-build']!.dependsOn![1], { projects: ['imagenet-val'], target: 'dataset-prep-pil-bicubic' });
  for (const t of ['vamc-build', 'vamp-bench', 'vamp-eval', 'vamc-build-int8', 'vamp-eval-int8']) assert.ok(p.targets![t], t);
  assert.equal(p.targets!['vamp-bench-int8'], undefined, 'fp32 and int8 are benchmarked by one paired target');
  assert.deepEqual(p.targets!['vamp-bench']!.dependsOn, ['vamc-build', 'vamc-build-int8']);
});

test('the variant generator rejects unknown presets and options, names that are not one path segment, and overwriting without --force', async () => {
  const tree = createTreeWithEmptyWorkspace();
  await assert.rejects(variantGenerator(tree, { model: 'mobilenetv2', row: 'x', preprocess: 'caffe', width: 1 } as any), /preprocess' must be one of/);
  await assert.rejects(variantGenerator(tree, { model: 'mobilenetv2', row: 'x', preprocess: 'timm', width: 1, depth: 2 } as any), /unknown option 'depth'/);
  for (const row of ['../../../x', '..', '.', 'a/b', 'a\\b', '/abs', '-x', '']) {
    await assert.rejects(variantGenerator(tree, { model: 'mobilenetv2', row, preprocess: 'timm', width: 1 }), /option 'row' must match pattern|one path segment/, row);
  }
  await assert.rejects(variantGenerator(tree, { model: '../m', row: 'x', preprocess: 'timm', width: 1 }), /option 'model' must match pattern/);
  assert.deepEqual(tree.listChanges().map((c) => c.path).filter((p) => p.startsWith('models') || p.includes('..')), []);

  await variantGenerator(tree, { model: 'mobilenetv2', row: 'mine', preprocess: 'timm', width: 1 });
  await assert.rejects(variantGenerator(tree, { model: 'mobilenetv2', row: 'mine', preprocess: 'keras', width: 1 }), /models\/mobilenetv2\/mine\/project\.json exists .*--force/);
  assert.equal(readJson(tree, 'models/mobilenetv2/mine/project.json').metadata.modelzoo.variant.preprocess, 'timm');
  await variantGenerator(tree, { model: 'mobilenetv2', row: 'mine', preprocess: 'keras', width: 1, force: true });
  assert.equal(readJson(tree, 'models/mobilenetv2/mine/project.json').metadata.modelzoo.variant.preprocess, 'keras');
});

test('--source=onnx --file takes an existing ONNX model (checked by content), fingerprinted as an input', async () => {
  const tree = createTreeWithEmptyWorkspace();
  const file = path.join(dir, 'model.pth');
  await variantGenerator(tree, { model: 'mobilenetv2', row: 'onnx', preprocess: 'keras', width: 1, source: 'onnx', file });
  const { json, project } = generated(tree, 'onnx');
  assert.equal(json.metadata.modelzoo.variant.source, 'onnx');
  const t = project.targets!['onnx-export']!;
  assert.deepEqual([(t.options as any).source, (t.options as any).file], ['onnx', file]);
  assert.ok(JSON.stringify(t.inputs).includes(`fingerprint.mjs weights ${file}`), 'the ONNX file is a runtime input');
  // An ONNX file given as a checkpoint is recognised, not misread as "not a torch checkpoint".
  await assert.rejects(variantGenerator(tree, { model: 'mobilenetv2', row: 'w', preprocess: 'keras', width: 1, weights: file }), /is an ONNX model, not a checkpoint: use --source=onnx --file=/);
  await assert.rejects(variantGenerator(tree, { model: 'mobilenetv2', row: 'n', preprocess: 'keras', width: 1, source: 'onnx', file: path.join(dir, 'nope.onnx') }), /--file .*nope\.onnx: not an ONNX model \(.*cannot read \(ENOENT\)/);
});

test('--source=checkpoint --weights detects the format from the content (torch zip, paddle pickle, keras HDF5), --format overrides', { skip: skipNoTorch }, async () => {
  const tree = createTreeWithEmptyWorkspace();
  for (const [row, file, format, preprocess] of [['k', 'keras.onnx', 'keras', 'keras'], ['p', 'paddle.h5', 'paddle', 'ppcls'], ['t', 'timm.pdparams', 'timm', 'timm'], ['tv', 'torchvision-legacy.pth', 'torchvision', 'torchvision']] as const) {
    await variantGenerator(tree, { model: 'mobilenetv2', row, preprocess, width: 1, source: 'checkpoint', weights: path.join(dir, file) });
    const { json, project } = generated(tree, row);
    assert.equal(json.metadata.modelzoo.variant.format, format, file);
    assert.equal((project.targets!['onnx-export']!.options as any).format, format);
    assert.equal((project.targets!['onnx-export']!.options as any).source, 'checkpoint');
  }
  await variantGenerator(tree, { model: 'mobilenetv2', row: 'o', preprocess: 'timm', width: 1, weights: path.join(dir, 'timm.pdparams'), format: 'torchvision' });
  assert.equal(generated(tree, 'o').json.metadata.modelzoo.variant.format, 'torchvision');
  fs.writeFileSync(path.join(dir, 'random.h5'), Buffer.from('not a checkpoint at all, just bytes'));
  await assert.rejects(variantGenerator(tree, { model: 'mobilenetv2', row: 'r', preprocess: 'timm', width: 1, weights: path.join(dir, 'random.h5') }), /--weights .*random\.h5: /);
});

test('a checkpoint URL needs its sha256; checkpoint flags need a checkpoint', async () => {
  const tree = createTreeWithEmptyWorkspace();
  await variantGenerator(tree, { model: 'mobilenetv2', row: 'paddle', preprocess: 'ppcls', width: 0.5, weights: 'https://example.org/MobileNetV2_x0_5.pdparams', sha256: 'ab'.repeat(32), format: 'paddle' });
  const url = generated(tree, 'paddle').project.targets!['onnx-export']!.options as any;
  assert.deepEqual(url.weights, { url: 'https://example.org/MobileNetV2_x0_5.pdparams', sha256: 'ab'.repeat(32) });
  assert.equal(url.format, 'paddle', 'the checkpoint format brings its framework semantics');

  // Without a checkpoint, the builtin graph takes the layout options (PaddleClas' extra expand conv).
  await variantGenerator(tree, { model: 'mobilenetv2', row: 'paddle-builtin', preprocess: 'ppcls', width: 0.5, rounding: 'paddle', expandT1: true });
  const builtin = generated(tree, 'paddle-builtin').project.targets!['onnx-export']!.options as any;
  assert.deepEqual([builtin.source, builtin.rounding, builtin.expandT1], ['builtin', 'paddle', true]);

  await assert.rejects(variantGenerator(tree, { model: 'mobilenetv2', row: 'u', preprocess: 'timm', width: 1, weights: 'https://example.org/w.pth' }), /--sha256 is required/);
  await assert.rejects(variantGenerator(tree, { model: 'mobilenetv2', row: 'f', preprocess: 'timm', width: 1, format: 'timm' }), /give it with --source=checkpoint --weights/);
  await assert.rejects(variantGenerator(tree, { model: 'mobilenetv2', row: 's', preprocess: 'timm', width: 1, source: 'checkpoint' }), /--source=checkpoint needs --weights/);
});

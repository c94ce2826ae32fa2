import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readProjectConfiguration } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import variantGenerator from '../../plugins/modelzoo/src/generators/variant/generator';

test('the variant generator adds a project with the five stages wired to the dataset of its geometry', async () => {
  const tree = createTreeWithEmptyWorkspace();
  await variantGenerator(tree, { model: 'mobilenetv2', row: 'my-timm', preprocess: 'timm', width: 1.4 });
  const p = readProjectConfiguration(tree, 'mobilenetv2-my-timm');
  assert.equal(p.root, 'models/mobilenetv2/my-timm');
  assert.equal((p.targets!['onnx-export']!.options as any).width, 1.4);
  assert.deepEqual(p.targets!['vamc-build']!.dependsOn![1], { projects: ['imagenet-val'], target: 'dataset-prep-pil-bicubic' });
  for (const t of ['vamc-build', 'vamp-bench', 'vamp-eval', 'vamc-build-int8', 'vamp-eval-int8']) assert.ok(p.targets![t], t);
  assert.equal(p.targets!['vamp-bench-int8'], undefined, 'fp32 and int8 are benchmarked by one paired target');
  assert.deepEqual(p.targets!['vamp-bench']!.dependsOn, ['vamc-build', 'vamc-build-int8']);
});

test('the variant generator rejects unknown presets and options', async () => {
  const tree = createTreeWithEmptyWorkspace();
  await assert.rejects(variantGenerator(tree, { model: 'mobilenetv2', row: 'x', preprocess: 'caffe', width: 1 } as any), /preprocess' must be one of/);
  await assert.rejects(variantGenerator(tree, { model: 'mobilenetv2', row: 'x', preprocess: 'timm', width: 1, depth: 2 } as any), /unknown option 'depth'/);
});

test('the variant generator takes a checkpoint: a local file (fingerprinted) or a URL with its sha256', async () => {
  const tree = createTreeWithEmptyWorkspace();
  await variantGenerator(tree, { model: 'mobilenetv2', row: 'mine', preprocess: 'torchvision', width: 1, weights: 'weights/mine.pth', format: 'torchvision' });
  const local = readProjectConfiguration(tree, 'mobilenetv2-mine').targets!['onnx-export']!;
  assert.equal((local.options as any).source, 'checkpoint');
  assert.equal((local.options as any).weights, 'weights/mine.pth');
  assert.ok(JSON.stringify(local.inputs).includes('fingerprint.mjs weights'), 'a local checkpoint is a runtime input');

  await variantGenerator(tree, { model: 'mobilenetv2', row: 'paddle', preprocess: 'ppcls', width: 0.5,
    weights: 'https://example.org/MobileNetV2_x0_5.pdparams', sha256: 'ab'.repeat(32), format: 'paddle' });
  const url = readProjectConfiguration(tree, 'mobilenetv2-paddle').targets!['onnx-export']!.options as any;
  assert.deepEqual(url.weights, { url: 'https://example.org/MobileNetV2_x0_5.pdparams', sha256: 'ab'.repeat(32) });
  assert.equal(url.format, 'paddle', 'the checkpoint format brings its framework semantics');

  // Without a checkpoint, the builtin graph takes the layout options (PaddleClas' extra expand conv).
  await variantGenerator(tree, { model: 'mobilenetv2', row: 'paddle-builtin', preprocess: 'ppcls', width: 0.5, rounding: 'paddle', expandT1: true });
  const builtin = readProjectConfiguration(tree, 'mobilenetv2-paddle-builtin').targets!['onnx-export']!.options as any;
  assert.deepEqual([builtin.source, builtin.rounding, builtin.expandT1], ['builtin', 'paddle', true]);

  await assert.rejects(variantGenerator(tree, { model: 'mobilenetv2', row: 'u', preprocess: 'timm', width: 1, weights: 'https://example.org/w.pth' }), /--sha256 is required/);
  await assert.rejects(variantGenerator(tree, { model: 'mobilenetv2', row: 'f', preprocess: 'timm', width: 1, format: 'timm' }), /give it with --weights/);
});

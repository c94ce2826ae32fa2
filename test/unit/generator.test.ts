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
  for (const t of ['vamc-build', 'vamp-bench', 'vamp-eval', 'vamc-build-int8', 'vamp-bench-int8', 'vamp-eval-int8']) assert.ok(p.targets![t], t);
});

test('the variant generator rejects unknown presets and options', async () => {
  const tree = createTreeWithEmptyWorkspace();
  await assert.rejects(variantGenerator(tree, { model: 'mobilenetv2', row: 'x', preprocess: 'caffe', width: 1 } as any), /preprocess' must be one of/);
  await assert.rejects(variantGenerator(tree, { model: 'mobilenetv2', row: 'x', preprocess: 'timm', width: 1, depth: 2 } as any), /unknown option 'depth'/);
});

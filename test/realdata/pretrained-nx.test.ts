import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { variantProject } from '../../plugins/modelzoo/src/lib/nx/variant-project';
import { SAMPLE_DIR, TF_MODEL, skipWithoutShared } from '../helpers/shared';
import { type TempWorkspace, createTempWorkspace, taskRuns } from '../helpers/temp-workspace';

// The real pretrained MobileNetV2 (../shared) as an onnx-source variant with the keras preset, through
// real nx: export, prep of the 1000 sample images, fp32 and int8 builds, evals. Skips without ../shared.
let ws: TempWorkspace | undefined;
after(() => ws && fs.rmSync(ws.root, { recursive: true, force: true }));

test('pretrained TF MobileNetV2 reaches top-1 >= 85% on the 1000-image sample through nx, int8 within a point', { skip: skipWithoutShared, timeout: 900_000 }, () => {
  ws = createTempWorkspace('nx-realdata');
  ws.writeJson('models/datasets/imagenet-val/project.json', {
    name: 'imagenet-val',
    targets: {
      'dataset-prep-pil-bilinear': {
        executor: '@modelzoo/nx-plugin:dataset-prep',
        options: { preprocess: 'keras', calibrationSize: 200, outputPath: 'dist/datasets/imagenet-val/pil-bilinear' },
      },
    },
  });
  const p = variantProject({ model: 'mobilenetv2', row: 'tf-pretrained', preprocess: 'keras', width: 1 }, 'models/mobilenetv2/tf-pretrained') as any;
  p.targets['onnx-export'].options = {
    source: 'onnx',
    model: 'mobilenetv2',
    variant: 'tf-pretrained',
    preprocess: 'keras',
    file: TF_MODEL,
    weights: 'pretrained (TF-slim, ../shared)',
    outputPath: 'dist/models/mobilenetv2/tf-pretrained/export',
  };
  // The model file is outside the workspace: Nx would ignore it, so it is fingerprinted explicitly.
  p.targets['onnx-export'].inputs = ['plugin', { runtime: `node tools/fingerprint.mjs file ${TF_MODEL}` }];
  delete p.root;
  ws.writeJson('models/mobilenetv2/tf-pretrained/project.json', p);
  const r = ws.nx(['run', 'mobilenetv2-tf-pretrained:vamp-eval'], { MODELZOO_IMAGENET_VAL: SAMPLE_DIR });
  assert.equal(r.status, 0, r.output);
  assert.equal(taskRuns(r.output).get('mobilenetv2-tf-pretrained:vamp-eval'), 'ran');
  const ev = ws.readJson('dist/models/mobilenetv2/tf-pretrained/eval/eval.json');
  assert.equal(ev.images, 1000);
  assert.equal(ev.demoData, false);
  assert.ok(ev.top1 >= 85, `top-1 ${ev.top1}`);
  assert.ok(ev.top5 >= ev.top1);
  // The int8 twin, built by the TypeScript quantizer on the 200-image class-balanced subset.
  assert.equal(taskRuns(r.output).get('mobilenetv2-tf-pretrained:vamp-eval-int8'), 'ran');
  const q = ws.readJson('dist/models/mobilenetv2/tf-pretrained/eval-int8/eval.json');
  assert.equal(q.images, 1000);
  assert.ok(ev.top1 - q.top1 <= 1, `int8 top-1 ${q.top1} vs fp32 ${ev.top1}`);
  assert.equal(ws.readJson('dist/models/mobilenetv2/tf-pretrained/build-int8/build.json').details.calibration.images, 200);
  const card = ws.readJson('dist/models/mobilenetv2/tf-pretrained/export/model-card.json');
  assert.equal(card.source, 'onnx');
  assert.ok(card.macs > 290e6 && card.macs < 310e6);
});

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SAMPLE_DIR, TF_MODEL, skipWithoutShared } from '../helpers/shared';
import { type TempWorkspace, createTempWorkspace, taskRuns } from '../helpers/temp-workspace';

// The path for a new user: `nx g variant` from an existing ONNX file (the real pretrained
// MobileNetV2 in ../shared, keras preset), then the targets the plugin infers from the short
// declaration take it through export, prep (a dataset project whose prep targets are inferred too),
// fp32/int8 builds and evals on a few sample images. Skips without ../shared.
let ws: TempWorkspace | undefined;
let images = '';
after(() => {
  if (ws) fs.rmSync(ws.root, { recursive: true, force: true });
  if (images) fs.rmSync(images, { recursive: true, force: true });
});

test('a variant generated from ../shared ONNX with the keras preset runs export -> build -> eval through inferred targets', { skip: skipWithoutShared, timeout: 900_000 }, () => {
  images = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-gen-sample-'));
  const lines = fs.readFileSync(path.join(SAMPLE_DIR, 'val_label.txt'), 'utf8').trim().split('\n').slice(0, 40);
  for (const l of lines) fs.symlinkSync(path.join(SAMPLE_DIR, l.split(/\s+/)[0]!), path.join(images, l.split(/\s+/)[0]!));
  fs.writeFileSync(path.join(images, 'val_label.txt'), lines.join('\n') + '\n');

  ws = createTempWorkspace('nx-gen-onnx');
  ws.writeJson('models/datasets/imagenet-val/project.json', { name: 'imagenet-val', metadata: { modelzoo: { dataset: { calibrationSize: 20 } } } });
  const g = ws.nx(['g', '@modelzoo/nx-plugin:variant', 'tf', '--preprocess=keras', '--source=onnx', `--file=${TF_MODEL}`, '--zoo-top1=71.8', '--zoo-top5=91.0']);
  assert.equal(g.status, 0, g.output);
  assert.match(g.output, /npx nx run-many -t vamp-eval vamp-bench -p mobilenetv2-tf/);
  const decl = ws.readJson('models/mobilenetv2/tf/project.json');
  assert.deepEqual(decl.metadata.modelzoo.variant, { model: 'mobilenetv2', row: 'tf', preprocess: 'keras', width: 1, source: 'onnx', file: TF_MODEL, zoo: { top1: 71.8, top5: 91 } });
  // Generating the same row again is refused without --force.
  const again = ws.nx(['g', '@modelzoo/nx-plugin:variant', 'tf', '--preprocess=timm']);
  assert.notEqual(again.status, 0);
  assert.match(again.output, /project\.json exists .*--force/);

  const show = ws.nx(['show', 'project', 'mobilenetv2-tf', '--json']);
  assert.equal(show.status, 0, show.output);
  const shown = JSON.parse(show.output.slice(show.output.indexOf('{'), show.output.lastIndexOf('}') + 1));
  assert.equal(shown.targets['onnx-export'].options.file, TF_MODEL);
  assert.deepEqual(shown.targets['onnx-export'].inputs, ['plugin', { runtime: `node tools/fingerprint.mjs weights ${TF_MODEL}` }]);

  const r = ws.nx(['run', 'mobilenetv2-tf:vamp-eval'], { MODELZOO_IMAGENET_VAL: images });
  assert.equal(r.status, 0, r.output);
  const runs = taskRuns(r.output);
  for (const t of ['mobilenetv2-tf:onnx-export', 'imagenet-val:dataset-prep-pil-bilinear', 'mobilenetv2-tf:vamc-build', 'mobilenetv2-tf:vamc-build-int8', 'mobilenetv2-tf:vamp-eval-int8', 'mobilenetv2-tf:vamp-eval']) {
    assert.equal(runs.get(t), 'ran', `${t}\n${r.output}`);
  }
  const card = ws.readJson('dist/models/mobilenetv2/tf/export/model-card.json');
  assert.equal(card.source, 'onnx');
  const ev = ws.readJson('dist/models/mobilenetv2/tf/eval/eval.json');
  assert.equal(ev.images, 40);
  assert.equal(ev.demoData, false);
  // The pretrained model: far above chance (0.1%) even on 40 images (it scores ~88% on the 1000).
  assert.ok(ev.top1 >= 60, `top-1 ${ev.top1}`);
  const second = ws.nx(['run', 'mobilenetv2-tf:vamp-eval'], { MODELZOO_IMAGENET_VAL: images });
  assert.equal(second.status, 0, second.output);
  for (const [task, how] of taskRuns(second.output)) assert.equal(how, 'cache', `${task}\n${second.output}`);
});

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/shared';
import { type TempWorkspace, createTempWorkspace } from '../helpers/temp-workspace';

// What real nx makes of the committed short declarations (the plugin loaded from plugins/modelzoo/dist
// through nx.json `plugins`), and how explicit project.json entries override the inferred targets.
let ws: TempWorkspace;

function show(project: string): any {
  const r = ws.nx(['show', 'project', project, '--json']);
  assert.equal(r.status, 0, r.output);
  return JSON.parse(r.output.slice(r.output.indexOf('{'), r.output.lastIndexOf('}') + 1));
}

before(() => {
  ws = createTempWorkspace('nx-inferred');
  fs.cpSync(path.join(REPO_ROOT, 'models'), path.join(ws.root, 'models'), { recursive: true });
});
after(() => fs.rmSync(ws.root, { recursive: true, force: true }));

test('nx show project: every inferred target of a seed row has a description; the dataset has one prep target per geometry', () => {
  const p = show('mobilenetv2-ppcls-x0.5');
  assert.ok(p.tags.includes('variant'));
  assert.equal(p.metadata.zoo.top1, 65.03);
  for (const t of ['onnx-export', 'vamc-build', 'vamc-build-int8', 'vamp-bench', 'vamp-eval', 'vamp-eval-int8']) assert.ok(p.targets[t], t);
  for (const [name, t] of Object.entries<any>(p.targets)) {
    assert.match(t.metadata?.description ?? '', /\w/, `${name} has no description`);
    assert.equal(t.cache, true, `${name}: targetDefaults still apply to inferred targets`);
  }
  assert.deepEqual(p.targets['onnx-export'].inputs, ['plugin', '{workspaceRoot}/models/weights.lock.json']);
  assert.equal(p.targets['onnx-export'].configurations.pretrained.weights.sha256, null);
  assert.deepEqual(p.targets['vamc-build'].dependsOn[1], { projects: ['imagenet-val'], target: 'dataset-prep-cv2-bilinear' });
  const ds = show('imagenet-val');
  assert.deepEqual(Object.keys(ds.targets).sort(), ['dataset-prep-cv2-bilinear', 'dataset-prep-pil-bicubic', 'dataset-prep-pil-bilinear']);
  assert.equal(ds.targets['dataset-prep-pil-bicubic'].options.preprocess, 'timm');
});

test('explicit project.json entries override the inferred ones; dropping the last variant of a geometry drops its prep target', () => {
  const file = 'models/mobilenetv2/timm/project.json';
  const decl = ws.readJson(file);
  ws.writeJson(file, { ...decl, targets: { 'vamp-eval': { options: { batch: 7 }, dependsOn: ['vamc-build'] }, 'vamc-build': { configurations: { vastai: { vastai: { generation: '2024' } } } } } });
  const p = show('mobilenetv2-timm');
  assert.equal(p.targets['vamp-eval'].options.batch, 7);
  assert.equal(p.targets['vamp-eval'].options.model, 'dist/models/mobilenetv2/timm/build', 'other inferred options stay');
  assert.deepEqual(p.targets['vamp-eval'].dependsOn, ['vamc-build']);
  assert.deepEqual(p.targets['vamc-build'].configurations.vastai.vastai, { generation: '2024' });
  assert.equal(p.targets['vamc-build'].configurations.vastai.backend, 'vastai');

  fs.rmSync(path.join(ws.root, 'models/mobilenetv2/timm'), { recursive: true });
  assert.equal(show('imagenet-val').targets['dataset-prep-pil-bicubic'], undefined);
});

test('a declaration that breaks its schema fails naming the file and the key', () => {
  ws.writeJson('models/mobilenetv2/bad/project.json', { name: 'mobilenetv2-bad', metadata: { modelzoo: { variant: { model: 'mobilenetv2', row: 'bad', preprocess: 'caffe' } } } });
  const r = ws.nx(['show', 'projects']);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /models\/mobilenetv2\/bad\/project\.json/);
  assert.match(r.output, /preprocess' must be one of/);
  fs.rmSync(path.join(ws.root, 'models/mobilenetv2/bad'), { recursive: true });
});

test('nx g variant refuses a row that is not one path segment and writes nothing', () => {
  for (const row of ['../../../x', '../x', 'a/b']) {
    const r = ws.nx(['g', '@modelzoo/nx-plugin:variant', row, '--preprocess=timm']);
    assert.notEqual(r.status, 0, `${row}\n${r.output}`);
    assert.match(r.output, /Property 'row' does not match the schema|option 'row' must match pattern/, r.output);
    assert.doesNotMatch(r.output, /    at /, 'no stack trace');
  }
  for (const p of ['models/mobilenetv2/../../../x', 'models/mobilenetv2/../x', 'models/mobilenetv2/a']) assert.ok(!fs.existsSync(path.resolve(ws.root, p)), p);
});

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { type TempWorkspace, createTempWorkspace, taskRuns, writeImageFolder, writeTestVariant } from '../helpers/temp-workspace';

// Real `nx` in a temp workspace: every stage in order, cache hits, and invalidation (a)-(d).
let ws: TempWorkspace;
let images: string;
const env = () => ({ MODELZOO_IMAGENET_VAL: images });
const VARIANTS = ['mobilenetv2-tv', 'mobilenetv2-keras'];
const CALIBRATION_JSON = 'dist/datasets/imagenet-val/pil-bilinear/calibration.json';


before(async () => {
  ws = createTempWorkspace();
  images = fs.mkdtempSync(path.join(os.tmpdir(), 'external-images-'));
  await writeImageFolder(images, 12, 10);
  ws.writeJson('models/datasets/imagenet-val/project.json', {
    name: 'imagenet-val',
    targets: {
      'dataset-prep-pil-bilinear': {
        executor: '@modelzoo/nx-plugin:dataset-prep',
        options: { preprocess: 'torchvision', classes: 10, calibrationSize: 10, shardSize: 5, outputPath: 'dist/datasets/imagenet-val/pil-bilinear' },
      },
    },
  });
  writeTestVariant(ws, 'tv', 'torchvision');
  writeTestVariant(ws, 'keras', 'keras', { padding: 'tf-same', bnEpsilon: 0.001 });
});

after(() => {
  fs.rmSync(ws.root, { recursive: true, force: true });
  fs.rmSync(images, { recursive: true, force: true });
});

test('run-many -t vamp-eval vamp-bench runs every stage of every variant in dependency order', () => {
  const r = ws.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench'], env());
  assert.equal(r.status, 0, r.output);
  const runs = taskRuns(r.output);
  for (const v of VARIANTS) {
    for (const t of ['onnx-export', 'vamc-build', 'vamc-build-int8', 'vamp-eval', 'vamp-eval-int8', 'vamp-bench']) {
      assert.equal(runs.get(`${v}:${t}`), 'ran', `${v}:${t} did not run\n${r.output}`);
    }
  }
  assert.equal(runs.get('imagenet-val:dataset-prep-pil-bilinear'), 'ran');
  const order = [...runs.keys()];
  const at = (t: string) => order.indexOf(t);
  for (const v of VARIANTS) {
    assert.ok(at(`${v}:onnx-export`) < at(`${v}:vamc-build`));
    assert.ok(at('imagenet-val:dataset-prep-pil-bilinear') < at(`${v}:vamc-build`));
    assert.ok(at(`${v}:vamc-build`) < at(`${v}:vamp-eval`));
    assert.ok(at(`${v}:vamc-build-int8`) < at(`${v}:vamp-eval-int8`));
  }
  const ev = ws.readJson('dist/models/mobilenetv2/tv/eval/eval.json');
  assert.equal(ev.images, 12);
  assert.equal(ev.weights, 'random-init');
  const card = ws.readJson('dist/models/mobilenetv2/keras/export/model-card.json');
  assert.equal(card.weights, 'random-init');
  assert.equal(ws.readJson('dist/models/mobilenetv2/keras/build-int8/build.json').precision, 'int8');
});

test('(a) a second run-many is all cache hits', () => {
  const r = ws.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench'], env());
  assert.equal(r.status, 0, r.output);
  const runs = taskRuns(r.output);
  assert.ok(runs.size >= 13, r.output);
  for (const [task, how] of runs) assert.equal(how, 'cache', `${task} was not a cache hit\n${r.output}`);
});

test("(b) editing one variant's option reruns only that variant's targets", () => {
  const file = 'models/mobilenetv2/keras/project.json';
  const p = ws.readJson(file);
  p.targets['vamp-eval'].options.batch = 3;
  ws.writeJson(file, p);
  const r = ws.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench'], env());
  assert.equal(r.status, 0, r.output);
  const runs = taskRuns(r.output);
  const ran = [...runs].filter(([, how]) => how === 'ran').map(([t]) => t);
  // Nx hashes a project's whole configuration into each of its tasks, so the edited variant's stages
  // rerun; no other variant and not the shared dataset.
  assert.ok(ran.includes('mobilenetv2-keras:vamp-eval'), r.output);
  for (const t of ran) assert.ok(t.startsWith('mobilenetv2-keras:'), `${t} reran\n${r.output}`);
  assert.equal(runs.get('imagenet-val:dataset-prep-pil-bilinear'), 'cache');
  for (const [t, how] of runs) if (t.startsWith('mobilenetv2-tv:')) assert.equal(how, 'cache', t);
});

test('(c) adding an image to the external dataset folder reruns prep and everything downstream that reads it', async () => {
  const extra = fs.mkdtempSync(path.join(os.tmpdir(), 'extra-'));
  await writeImageFolder(extra, 13, 10);
  fs.copyFileSync(path.join(extra, 'img_0012.JPEG'), path.join(images, 'img_0012.JPEG'));
  fs.appendFileSync(path.join(images, 'val_label.txt'), 'img_0012.JPEG 2\n');
  fs.rmSync(extra, { recursive: true, force: true });
  const calibrationBefore = fs.readFileSync(path.join(ws.root, CALIBRATION_JSON), 'utf8');
  const r = ws.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench'], env());
  assert.equal(r.status, 0, r.output);
  const runs = taskRuns(r.output);
  assert.equal(runs.get('imagenet-val:dataset-prep-pil-bilinear'), 'ran');
  // Builds read only the dataset's geometry and its calibration subset: they rerun exactly when the new
  // image changed the subset (the class-balanced pick is by file-name hash); evaluation always reruns.
  const calibrationNow = fs.readFileSync(path.join(ws.root, CALIBRATION_JSON), 'utf8');
  const build = calibrationNow === calibrationBefore ? 'cache' : 'ran';
  for (const v of VARIANTS) {
    assert.equal(runs.get(`${v}:onnx-export`), 'cache');
    for (const t of ['vamp-eval', 'vamp-eval-int8']) assert.equal(runs.get(`${v}:${t}`), 'ran', `${v}:${t}`);
    for (const t of ['vamc-build', 'vamc-build-int8']) assert.equal(runs.get(`${v}:${t}`), build, `${v}:${t}`);
  }
  assert.equal(ws.readJson('dist/models/mobilenetv2/tv/eval/eval.json').images, 13);
  // Changing an image in place (same name) is seen too.
  fs.appendFileSync(path.join(images, 'img_0003.JPEG'), Buffer.from([0]));
  const again = ws.nx(['run', 'imagenet-val:dataset-prep-pil-bilinear'], env());
  assert.equal(taskRuns(again.output).get('imagenet-val:dataset-prep-pil-bilinear'), 'ran', again.output);
});

test('(e) an int8 build reruns for a calibration image or a quantization option, and for nothing else', async () => {
  const settle = ws.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench'], env());
  assert.equal(settle.status, 0, settle.output);
  const calibration = ws.readJson(CALIBRATION_JSON) as { images: { file: string }[] };
  const inSubset = new Set(calibration.images.map((i) => i.file));
  const files = fs.readFileSync(path.join(images, 'val_label.txt'), 'utf8').trim().split('\n').map((l) => l.split(' ')[0]!);
  const outside = files.find((f) => !inSubset.has(f));
  assert.ok(outside, 'the fixture needs an image outside the calibration subset');
  const calibrationSha = (v: string) => ws.readJson(`dist/models/mobilenetv2/${v}/build-int8/build.json`).details.calibration.sha256;
  const shaBefore = calibrationSha('tv');

  // New pixels in an image outside the subset: prep and evaluation rerun, no build and no benchmark.
  await repaint(path.join(images, outside), 30);
  let r = ws.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench'], env());
  assert.equal(r.status, 0, r.output);
  let runs = taskRuns(r.output);
  assert.equal(runs.get('imagenet-val:dataset-prep-pil-bilinear'), 'ran', r.output);
  for (const v of VARIANTS) {
    for (const t of ['vamp-eval', 'vamp-eval-int8']) assert.equal(runs.get(`${v}:${t}`), 'ran', `${v}:${t}\n${r.output}`);
    for (const t of ['vamc-build', 'vamc-build-int8', 'vamp-bench']) assert.equal(runs.get(`${v}:${t}`), 'cache', `${v}:${t}\n${r.output}`);
  }

  // New pixels in a calibration image: every int8 build reruns and records the new content hash.
  await repaint(path.join(images, calibration.images[0]!.file), 220);
  r = ws.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench'], env());
  assert.equal(r.status, 0, r.output);
  runs = taskRuns(r.output);
  for (const v of VARIANTS) {
    assert.equal(runs.get(`${v}:vamc-build-int8`), 'ran', `${v}\n${r.output}`);
    // The pair reruns as a pair: a new int8 model is never compared with an fp32 figure from another run.
    assert.equal(runs.get(`${v}:vamp-bench`), 'ran', `${v}\n${r.output}`);
  }
  assert.notEqual(calibrationSha('tv'), shaBefore);

  // A quantization option of one variant: its int8 build reruns, the other variant's does not.
  const file = 'models/mobilenetv2/keras/project.json';
  const p = ws.readJson(file);
  p.targets['vamc-build-int8'].options.quantization = { ...p.targets['vamc-build-int8'].options.quantization, percentile: 0.9999 };
  ws.writeJson(file, p);
  r = ws.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench'], env());
  assert.equal(r.status, 0, r.output);
  runs = taskRuns(r.output);
  assert.equal(runs.get('mobilenetv2-keras:vamc-build-int8'), 'ran', r.output);
  assert.equal(runs.get('mobilenetv2-tv:vamc-build-int8'), 'cache', r.output);
  assert.equal(ws.readJson('dist/models/mobilenetv2/keras/build-int8/build.json').details.percentile, 0.9999);
});

/** Rewrites a JPEG in place with the same size and new pixels (a flat colour). */
async function repaint(file: string, value: number) {
  const { width, height } = await sharp(file).metadata();
  const jpeg = await sharp({ create: { width: width!, height: height!, channels: 3, background: { r: value, g: 255 - value, b: value } } })
    .jpeg({ quality: 90 })
    .toBuffer();
  fs.writeFileSync(file, jpeg);
}

test('(d) a task killed mid-run leaves no output, no temp files and no cache entry', async () => {
  const file = 'models/mobilenetv2/tv/project.json';
  const p = ws.readJson(file);
  p.targets['vamp-bench'].options = { ...p.targets['vamp-bench'].options, duration: 6, outputPath: 'dist/killed/bench' };
  p.targets['vamp-bench'].dependsOn = ['vamc-build'];
  ws.writeJson(file, p);
  const child = ws.nxSpawn(['run', 'mobilenetv2-tv:vamp-bench'], env());
  let out = '';
  await new Promise<void>((resolve) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('nx run mobilenetv2-tv:vamp-bench')) {
        setTimeout(() => {
          process.kill(-child.pid!, 'SIGKILL');
          resolve();
        }, 2500);
        child.stdout!.off('data', onData);
      }
    };
    child.stdout!.on('data', onData);
  });
  await new Promise((r) => child.on('exit', r));
  const killedDir = path.join(ws.root, 'dist/killed');
  const left = fs.existsSync(killedDir) ? fs.readdirSync(killedDir) : [];
  assert.ok(!left.includes('bench'), `half-written output left: ${left}`);
  const r = ws.nx(['run', 'mobilenetv2-tv:vamp-bench'], env());
  assert.equal(r.status, 0, r.output);
  assert.equal(taskRuns(r.output).get('mobilenetv2-tv:vamp-bench'), 'ran', 'the killed run must not have been cached');
  assert.deepEqual(fs.readdirSync(killedDir), ['bench'], 'stale temp directories must be cleaned');
  assert.ok(ws.readJson('dist/killed/bench/bench.json').models[0].results[0].throughput > 0);
});

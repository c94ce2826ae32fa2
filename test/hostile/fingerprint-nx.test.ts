import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { type TempWorkspace, createTempWorkspace, taskRuns, writeImageFolder, writeTestVariant } from '../helpers/temp-workspace';

// Real nx in a temp workspace with its own cache: however a dataset is named (environment variable,
// imagesDir/labelsFile option, a configuration), a changed image byte or label reruns prep and the
// evaluations; whatever the fingerprint cannot read fails the task and leaves no cache entry.
let ws: TempWorkspace;
let tmp: string;
let cacheDir: string;
const PREP = 'imagenet-val:dataset-prep-pil-bilinear';
const EVAL = 'mobilenetv2-tv:vamp-eval';
const DATASET = 'models/datasets/imagenet-val/project.json';

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return ws.nx(args, { NX_CACHE_DIRECTORY: cacheDir, MODELZOO_IMAGENET_VAL: undefined, MODELZOO_IMAGENET_LABELS: undefined, ...env });
}

/** Cache entries Nx stored (one folder or archive per task hash). */
function cacheEntries(): Set<string> {
  if (!fs.existsSync(cacheDir)) return new Set();
  return new Set(fs.readdirSync(cacheDir).filter((n) => /^\d+$/.test(n) || /^[0-9a-f]{16,}/.test(n)));
}

function setDataset(options: Record<string, unknown>, configurations: Record<string, Record<string, unknown>> = {}) {
  ws.writeJson(DATASET, {
    name: 'imagenet-val',
    targets: {
      'dataset-prep-pil-bilinear': {
        executor: '@modelzoo/nx-plugin:dataset-prep',
        options: { preprocess: 'torchvision', classes: 10, calibrationSize: 8, shardSize: 4, outputPath: 'dist/datasets/imagenet-val/pil-bilinear', ...options },
        configurations,
      },
    },
  });
}

/** New bytes in an image: same size is not needed, same name is. */
async function repaint(file: string, value: number) {
  const { width, height } = await sharp(file).metadata();
  const jpeg = await sharp({ create: { width: width!, height: height!, channels: 3, background: { r: value, g: 255 - value, b: value } } })
    .jpeg({ quality: 90 })
    .toBuffer();
  fs.writeFileSync(file, jpeg);
}

function assertReran(r: { status: number; output: string }, tasks: string[]) {
  assert.equal(r.status, 0, r.output);
  const runs = taskRuns(r.output);
  for (const t of tasks) assert.equal(runs.get(t), 'ran', `${t} was replayed from the cache\n${r.output}`);
}

function assertCached(r: { status: number; output: string }, tasks: string[]) {
  assert.equal(r.status, 0, r.output);
  const runs = taskRuns(r.output);
  for (const t of tasks) assert.equal(runs.get(t), 'cache', `${t} ran\n${r.output}`);
}

before(async () => {
  ws = createTempWorkspace('fp-hostile');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-hostile-data-'));
  cacheDir = path.join(tmp, 'nx-cache');
  for (const d of ['env', 'opt', 'conf']) await writeImageFolder(path.join(tmp, d), 8, 10);
  setDataset({});
  writeTestVariant(ws, 'tv', 'torchvision');
});

after(() => {
  fs.rmSync(ws.root, { recursive: true, force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('named by environment variable: an image byte or a label change reruns prep and evaluation', async () => {
  const env = { MODELZOO_IMAGENET_VAL: path.join(tmp, 'env') };
  assertReran(run(['run', EVAL], env), [PREP, EVAL]);
  assertCached(run(['run', EVAL], env), [PREP, EVAL]);
  await repaint(path.join(tmp, 'env', 'img_0005.JPEG'), 40);
  assertReran(run(['run', EVAL], env), [PREP, EVAL, 'mobilenetv2-tv:vamp-eval-int8']);
  const labels = path.join(tmp, 'env', 'val_label.txt');
  fs.writeFileSync(labels, fs.readFileSync(labels, 'utf8').replace('img_0002.JPEG 2', 'img_0002.JPEG 7'));
  assertReran(run(['run', EVAL], env), [PREP, EVAL]);
  assertCached(run(['run', EVAL], env), [PREP, EVAL]);
});

test('named by the imagesDir/labelsFile options: image bytes and labels are cache inputs', async () => {
  const dir = path.join(tmp, 'opt');
  const labels = path.join(tmp, 'opt-labels.txt');
  fs.copyFileSync(path.join(dir, 'val_label.txt'), labels);
  setDataset({ imagesDir: dir, labelsFile: labels });
  // Same images as the first test started from (the helper's pixels are deterministic): prep reruns (the
  // project changed), and the evaluation may legitimately be replayed, since its inputs are identical.
  assertReran(run(['run', EVAL]), [PREP]);
  assertCached(run(['run', EVAL]), [PREP, EVAL]);
  // The old fingerprint looked at MODELZOO_IMAGENET_VAL only: this change was replayed from the cache.
  await repaint(path.join(dir, 'img_0001.JPEG'), 200);
  assertReran(run(['run', EVAL]), [PREP, EVAL]);
  fs.writeFileSync(labels, fs.readFileSync(labels, 'utf8').replace('img_0003.JPEG 3', 'img_0003.JPEG 9'));
  assertReran(run(['run', EVAL]), [PREP, EVAL]);
  // Pointing the option at another folder with other content reruns too.
  await writeImageFolder(path.join(tmp, 'opt2'), 9, 10);
  setDataset({ imagesDir: path.join(tmp, 'opt2') });
  assertReran(run(['run', EVAL]), [PREP, EVAL]);
});

test('named by a configuration: its folder is fingerprinted too', async () => {
  const dir = path.join(tmp, 'conf');
  setDataset({}, { other: { imagesDir: dir } });
  // (taskRuns keys drop the configuration suffix of `nx run a:b:c`.)
  const r = run(['run', PREP, '-c', 'other']);
  assertReran(r, [PREP]);
  assert.match(r.output, /conf, 8 calibration/);
  assertCached(run(['run', PREP, '-c', 'other']), [PREP]);
  await repaint(path.join(dir, 'img_0004.JPEG'), 90);
  assertReran(run(['run', PREP, '-c', 'other']), [PREP]);
});

test('a dataset folder given on the command line is refused (the cache input cannot see it), nothing cached', () => {
  setDataset({});
  const before = cacheEntries();
  const r = run(['run', PREP, `--imagesDir=${path.join(tmp, 'opt')}`, '--skip-nx-cache=false']);
  assert.notEqual(r.status, 0, r.output);
  assert.match(r.output, /option 'imagesDir' .* was given on the command line/);
  assert.doesNotMatch(r.output, /\n\s+at .*\(/, 'no stack trace');
  assert.deepEqual(cacheEntries(), before);
});

// Each case's folder holds images no earlier folder held: the same content elsewhere is the same dataset (a hit).
let images = 9;
for (const [name, breakIt, expect] of [
  [
    'a dangling symlink',
    (dir: string) => {
      fs.rmSync(path.join(dir, 'img_0006.JPEG'));
      fs.symlinkSync(path.join(dir, 'gone.JPEG'), path.join(dir, 'img_0006.JPEG'));
    },
    /img_0006\.JPEG.*(symlink to nothing|not found)/,
  ],
  [
    'a symlink loop',
    (dir: string) => {
      fs.rmSync(path.join(dir, 'img_0006.JPEG'));
      fs.symlinkSync('loop.JPEG', path.join(dir, 'img_0006.JPEG'));
      fs.symlinkSync('img_0006.JPEG', path.join(dir, 'loop.JPEG'));
    },
    /img_0006\.JPEG.*symlink loop/,
  ],
  ['a missing label file', (dir: string) => fs.rmSync(path.join(dir, 'val_label.txt')), /label file .*val_label\.txt.* not found/],
] as const) {
  test(`${name} in the dataset fails the task with the reason, twice, and caches nothing`, async () => {
    const dir = path.join(tmp, `broken-${name.replace(/\W+/g, '-')}`);
    await writeImageFolder(dir, images++, 10);
    setDataset({});
    const env = { MODELZOO_IMAGENET_VAL: dir };
    // Same pixels as an earlier folder, so this may be a (correct) cache hit: content, not place.
    const ok = run(['run', PREP], env);
    assert.equal(ok.status, 0, ok.output);
    breakIt(dir);
    const before = cacheEntries();
    assert.ok(before.size > 0, 'the successful run should have stored an entry (is cacheEntries looking at the right folder?)');
    for (let i = 0; i < 2; i++) {
      const r = run(['run', PREP], env);
      assert.notEqual(r.status, 0, `attempt ${i + 1} succeeded (replayed?)\n${r.output}`);
      assert.match(r.output, expect);
      assert.doesNotMatch(r.output, /\n\s+at .*\(/, 'no stack trace');
      assert.notEqual(taskRuns(r.output).get(PREP), 'cache');
    }
    assert.deepEqual(cacheEntries(), before, 'a failed fingerprint stored a cache entry');
  });
}

test('a dataset-prep target whose inputs drop the runtime fingerprint refuses to run (its cache key would not cover the images)', async () => {
  const dir = path.join(tmp, 'no-runtime-input');
  await writeImageFolder(dir, 8, 10);
  setDataset({ imagesDir: dir });
  const p = ws.readJson(DATASET);
  p.targets['dataset-prep-pil-bilinear'].inputs = ['plugin'];
  ws.writeJson(DATASET, p);
  const before = cacheEntries();
  const r = run(['run', PREP]);
  assert.notEqual(r.status, 0, r.output);
  assert.match(r.output, /never fingerprinted by the runtime input 'node tools\/fingerprint\.mjs dataset'/);
  assert.deepEqual(cacheEntries(), before);
});

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openDataset } from '../../plugins/modelzoo/src/lib/dataset/reader';
import { readVerified } from '../../plugins/modelzoo/src/lib/common/verify';
import { writeTinyDataset } from '../helpers/tiny-dataset';
import { type TempWorkspace, createTempWorkspace, taskRuns, writeImageFolder, writeTestVariant } from '../helpers/temp-workspace';

/** Flips one byte in the middle of a file: same size, same name, other content. */
function corrupt(file: string): Buffer {
  const original = fs.readFileSync(file);
  const bad = Buffer.from(original);
  bad[bad.length >> 1] ^= 0xff;
  fs.writeFileSync(file, bad);
  return original;
}

test('reader: a same-size corrupted shard is refused before any of its images is used, naming the file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-ds-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const m = writeTinyDataset(dir, { count: 12, classes: 3, size: 8, shardSize: 4 });
  const good = await openDataset(dir);
  const clean = await good.readImages([0, 5, 10]);
  await good.close();
  corrupt(path.join(dir, m.shards[1]!.file));
  const ds = await openDataset(dir, { producer: 'imagenet-val:dataset-prep-pil-bilinear' });
  try {
    // Shard 0 is intact and still readable; shard 1 is not, whichever image of it is asked for.
    assert.deepEqual(await ds.readImages([0]), clean.subarray(0, 192));
    await assert.rejects(ds.readImages([5]), (e: Error) => {
      assert.match(e.message, /dataset shard .*shard-00001\.bin does not match the sha256/);
      assert.match(e.message, /npx nx run imagenet-val:dataset-prep-pil-bilinear --skip-nx-cache/);
      return true;
    });
    await assert.rejects(async () => {
      for await (const _ of ds.batches([0, 1, 2, 3, 4, 5, 6, 7], 2)) void _;
    }, /shard-00001\.bin/);
  } finally {
    await ds.close();
  }
});

test('reader: an edited calibration list or datalist is refused', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-ds-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  writeTinyDataset(dir, { count: 6, classes: 3, size: 4 });
  fs.writeFileSync(path.join(dir, 'calibration.txt'), '5\n4\n3\n');
  const ds = await openDataset(dir);
  await assert.rejects(ds.calibrationIndices(), /calibration\.txt does not match the sha256/);
  await ds.close();
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  m.datalistSha256 = '0'.repeat(64);
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
  await assert.rejects(openDataset(dir), /datalist\.txt does not match the sha256/);
});

test('readVerified returns the bytes only when they match, and names an unreadable file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'model.onnx');
  fs.writeFileSync(f, 'abc');
  const sha = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
  assert.equal((await readVerified(f, sha, 'built model', 'p:vamc-build')).toString(), 'abc');
  fs.writeFileSync(f, 'abd');
  await assert.rejects(readVerified(f, sha, 'built model', 'p:vamc-build'), /built model .*model\.onnx does not match.*npx nx run p:vamc-build --skip-nx-cache/);
  await assert.rejects(readVerified(path.join(dir, 'gone'), sha, 'built model'), /built model .*gone cannot be read \(ENOENT\)/);
});

// Through real nx: the stage that reads a corrupted artefact fails, names it and the task that makes it
// again, writes nothing, and caches nothing.
let ws: TempWorkspace;
let images: string;
let cacheDir: string;
const run = (args: string[]) => ws.nx(args, { NX_CACHE_DIRECTORY: cacheDir, MODELZOO_IMAGENET_VAL: images, MODELZOO_IMAGENET_LABELS: undefined });

before(async () => {
  ws = createTempWorkspace('verify-hostile');
  images = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-images-'));
  cacheDir = path.join(images, '..', `${path.basename(images)}-cache`);
  await writeImageFolder(images, 8, 10);
  ws.writeJson('models/datasets/imagenet-val/project.json', {
    name: 'imagenet-val',
    targets: {
      'dataset-prep-pil-bilinear': {
        executor: '@modelzoo/nx-plugin:dataset-prep',
        options: { preprocess: 'torchvision', classes: 10, calibrationSize: 8, shardSize: 4, outputPath: 'dist/datasets/imagenet-val/pil-bilinear' },
      },
    },
  });
  writeTestVariant(ws, 'tv', 'torchvision');
  const r = run(['run', 'mobilenetv2-tv:vamp-eval']);
  assert.equal(r.status, 0, r.output);
});

after(() => {
  for (const d of [ws.root, images, cacheDir]) fs.rmSync(d, { recursive: true, force: true });
});

for (const [what, file, task, producer, message] of [
  ['the built model.onnx', 'dist/models/mobilenetv2/tv/build/model.onnx', 'mobilenetv2-tv:vamp-eval', 'mobilenetv2-tv:vamc-build', /built model .*build\/model\.onnx does not match/],
  ['the exported model.onnx', 'dist/models/mobilenetv2/tv/export/model.onnx', 'mobilenetv2-tv:vamc-build', 'mobilenetv2-tv:onnx-export', /exported model .*export\/model\.onnx does not match/],
  ['a dataset shard', 'dist/datasets/imagenet-val/pil-bilinear/shards/shard-00001.bin', 'mobilenetv2-tv:vamp-eval', 'imagenet-val:dataset-prep-pil-bilinear', /dataset shard .*shard-00001\.bin does not match/],
] as const) {
  test(`nx: a same-size corruption of ${what} fails ${task}, naming the file and '${producer} --skip-nx-cache'`, () => {
    const abs = path.join(ws.root, file);
    const evalJson = path.join(ws.root, 'dist/models/mobilenetv2/tv/eval/eval.json');
    const evalBefore = fs.readFileSync(evalJson, 'utf8');
    const entries = () => new Set(fs.readdirSync(cacheDir));
    const cacheBefore = entries();
    const original = corrupt(abs);
    try {
      // excludeTaskDependencies: run only the reader, on the corrupted file, as a replay of the
      // producer from a poisoned cache would leave it.
      const r = run(['run', task, '--skip-nx-cache', '--excludeTaskDependencies']);
      assert.notEqual(r.status, 0, r.output);
      assert.match(r.output, message);
      assert.ok(r.output.includes(`npx nx run ${producer} --skip-nx-cache`), r.output);
      assert.doesNotMatch(r.output, /\n\s+at .*\(/, 'no stack trace');
      assert.equal(taskRuns(r.output).get(task), 'ran');
      assert.equal(fs.readFileSync(evalJson, 'utf8'), evalBefore, 'eval.json was rewritten from a corrupted artefact');
      assert.deepEqual(entries(), cacheBefore, 'a failed run stored a cache entry');
    } finally {
      fs.writeFileSync(abs, original);
    }
  });
}

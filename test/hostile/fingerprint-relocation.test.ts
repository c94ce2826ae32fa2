import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { prepareDataset } from '../../plugins/modelzoo/src/lib/dataset/prepare';
import { fingerprintDataset } from '../../plugins/modelzoo/src/lib/dataset/fingerprint';
import { PRESETS } from '../../plugins/modelzoo/src/lib/preprocess/spec';
import { writeImageFolder } from '../helpers/temp-workspace';

// Issue 11: the same images and labels at another path, copied with other mtimes, are the same dataset,
// and dataset-prep's outputs (every file downstream tasks hash) are byte-identical.
test('relocated images with other mtimes: same fingerprint, byte-identical prepared dataset', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-relocate-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const a = path.join(root, 'clone-a', 'val');
  const b = path.join(root, 'elsewhere', 'deeper', 'copy');
  await writeImageFolder(a, 10, 5);
  fs.mkdirSync(b, { recursive: true });
  const later = new Date('2030-05-05T05:05:05Z');
  for (const f of fs.readdirSync(a)) {
    fs.copyFileSync(path.join(a, f), path.join(b, f));
    fs.utimesSync(path.join(b, f), later, later);
  }
  const fa = await fingerprintDataset(a, path.join(a, 'val_label.txt'), { indexDir: path.join(root, 'idx-a') });
  const fb = await fingerprintDataset(b, path.join(b, 'val_label.txt'), { indexDir: path.join(root, 'idx-b') });
  assert.equal(fa.fingerprint, fb.fingerprint);
  assert.equal(fa.images, 10);

  const out = (d: string) => path.join(root, `out-${path.basename(path.dirname(d))}`);
  const geometry = PRESETS['torchvision']!.geometry;
  for (const d of [a, b]) {
    await prepareDataset({ imagesDir: d, labelsFile: path.join(d, 'val_label.txt'), outDir: out(d), geometry, classes: 5, calibrationSize: 5, shardSize: 4, concurrency: 1 });
  }
  const files = (d: string) => fs.readdirSync(d, { recursive: true }).map(String).filter((f) => fs.statSync(path.join(d, f)).isFile()).sort();
  assert.deepEqual(files(out(a)), files(out(b)));
  for (const f of files(out(a))) {
    assert.ok(fs.readFileSync(path.join(out(a), f)).equals(fs.readFileSync(path.join(out(b), f))), `${f} differs between the two locations`);
  }
  const manifest = fs.readFileSync(path.join(out(a), 'manifest.json'), 'utf8');
  assert.ok(!manifest.includes(root), 'manifest.json names a folder');
  assert.equal(JSON.parse(manifest).source.fingerprint, fa.fingerprint);
});

test('nx: a second clone at another path, with the images copied elsewhere, computes the same task hash for export, prep, builds and evaluations', async (t) => {
  const { createTempWorkspace, taskRuns, writeTestVariant } = await import('../helpers/temp-workspace');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-relocate-nx-'));
  const cache = path.join(root, 'shared-cache');
  const a = path.join(root, 'images-a');
  const b = path.join(root, 'somewhere', 'else', 'images-b');
  await writeImageFolder(a, 8, 10);
  fs.mkdirSync(b, { recursive: true });
  const later = new Date('2031-01-01T00:00:00Z');
  for (const f of fs.readdirSync(a)) {
    fs.copyFileSync(path.join(a, f), path.join(b, f));
    fs.utimesSync(path.join(b, f), later, later);
  }
  const clones = [createTempWorkspace('clone-a'), createTempWorkspace('clone-b')];
  t.after(() => process.env.KEEP || [root, ...clones.map((c) => c.root)].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  for (const ws of clones) {
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
  }
  // Nx 24 restores only cache entries its own workspace recorded (its task DB), so a shared cache folder
  // cannot show hits across clones (a remote cache can: h11's two-clone test). What makes a hit is the
  // task hash, so compare those: every hash the second clone computes must already be in the folder.
  const hashes = () => new Set(fs.readdirSync(cache).filter((n) => /^\d+$/.test(n)));
  const first = clones[0]!.nx(['run', 'mobilenetv2-tv:vamp-eval'], { NX_CACHE_DIRECTORY: cache, MODELZOO_IMAGENET_VAL: a });
  assert.equal(first.status, 0, first.output);
  const afterFirst = hashes();
  assert.ok(afterFirst.size >= 6, `expected a cache entry per task, got ${[...afterFirst]}`);
  const second = clones[1]!.nx(['run', 'mobilenetv2-tv:vamp-eval'], { NX_CACHE_DIRECTORY: cache, MODELZOO_IMAGENET_VAL: b });
  assert.equal(second.status, 0, second.output);
  assert.ok(taskRuns(second.output).size >= 6, second.output);
  const added = [...hashes()].filter((h) => !afterFirst.has(h));
  assert.deepEqual(added, [], `the second clone computed task hashes the first did not: its graph is not relocatable\n${second.output}`);
  for (const f of ['dist/datasets/imagenet-val/pil-bilinear/manifest.json', 'dist/models/mobilenetv2/tv/eval/eval.json', 'dist/models/mobilenetv2/tv/build/build.json']) {
    const text = fs.readFileSync(path.join(clones[1]!.root, f), 'utf8');
    assert.ok(!text.includes(clones[0]!.root) && !text.includes(a), `${f} names the first clone's paths`);
  }
});

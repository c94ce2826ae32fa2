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

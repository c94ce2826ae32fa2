import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { prepareDataset } from '../../plugins/modelzoo/src/lib/dataset/prepare';
import { openDataset } from '../../plugins/modelzoo/src/lib/dataset/reader';
import { PRESETS } from '../../plugins/modelzoo/src/lib/preprocess/spec';
import { SAMPLE_DIR, skipWithoutShared } from '../helpers/shared';

test('prepares 120 real ImageNet images with the torchvision preset; calibration covers every class', { skip: skipWithoutShared }, async () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ds-real-')), 'ds');
  const m = await prepareDataset({
    imagesDir: SAMPLE_DIR,
    labelsFile: path.join(SAMPLE_DIR, 'val_label.txt'),
    outDir: out,
    geometry: PRESETS['torchvision']!.geometry,
    limit: 120,
    shardSize: 50,
    calibrationSize: 100,
  });
  assert.equal(m.count, 120);
  assert.deepEqual(m.shards.map((s) => s.count), [50, 50, 20]);
  const ds = await openDataset(out);
  const calib = await ds.calibrationIndices();
  // One image per class in this sample: 100 picks are 100 distinct classes.
  assert.equal(new Set(calib.map((i) => ds.entries[i]!.label)).size, 100);
  const img = await ds.readImages([0]);
  assert.equal(img.length, 3 * 224 * 224);
  assert.ok(img.some((v) => v !== img[0]), 'not a blank tensor');
  await ds.close();
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
});

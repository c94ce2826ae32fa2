import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { prepareDataset } from '../../plugins/modelzoo/src/lib/dataset/prepare';
import { PRESETS } from '../../plugins/modelzoo/src/lib/preprocess/spec';
import { setAsideNpz, writeDatasetNpz } from '../../plugins/modelzoo/src/lib/vastai/stages';
import { writeImageFolder } from '../helpers/temp-workspace';

// dataset-prep format: npz as the executor runs it (set the old npz aside, rewrite the dataset
// directory atomically, write the npz inputs): an interrupted run's files are kept, others redone.
test('format npz resumes an interrupted run and starts over when the images changed', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'npz-resume-'));
  const images = path.join(root, 'images');
  const out = path.join(root, 'dist', 'ds');
  await writeImageFolder(images, 9, 3);
  const run = async () => {
    await setAsideNpz(out);
    await prepareDataset({
      imagesDir: images,
      labelsFile: path.join(images, 'val_label.txt'),
      outDir: out,
      geometry: { ...PRESETS['torchvision']!.geometry, resizeSize: 40, cropSize: 32 },
      calibrationSize: 3,
      classes: 3,
      shardSize: 4,
      fingerprint: fs.readFileSync(path.join(images, 'val_label.txt'), 'utf8') + fs.statSync(path.join(images, 'img_0004.JPEG')).size,
    });
    return writeDatasetNpz(out);
  };
  try {
    const first = await run();
    assert.deepEqual([first.count, first.written, first.resumed], [9, 9, 0]);
    const npzFiles = fs.readFileSync(path.join(out, 'npz', 'npz_datalist.txt'), 'utf8').trim().split('\n');
    const kept = fs.statSync(npzFiles[0]!).mtimeMs;

    // A run killed part-way through the npz step: three files missing, the manifest says incomplete.
    for (const f of npzFiles.slice(5, 8)) fs.rmSync(f);
    const manifestFile = path.join(out, 'npz', 'npz-dataset.json');
    fs.writeFileSync(manifestFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(manifestFile, 'utf8')), complete: false }));
    const second = await run();
    assert.deepEqual([second.written, second.resumed], [3, 6]);
    assert.ok(npzFiles.every((f) => fs.existsSync(f)));
    assert.equal(fs.statSync(npzFiles[0]!).mtimeMs, kept, 'kept files are not rewritten');
    assert.equal(JSON.parse(fs.readFileSync(manifestFile, 'utf8')).complete, true);
    assert.ok(!fs.existsSync(out + '.npz-resume'));

    // New pixels in one image: the old npz files are not reused for the new dataset.
    const img = path.join(images, 'img_0004.JPEG');
    const { width, height } = await sharp(img).metadata();
    fs.writeFileSync(img, await sharp({ create: { width: width!, height: height!, channels: 3, background: { r: 9, g: 200, b: 90 } } }).jpeg().toBuffer());
    const third = await run();
    assert.deepEqual([third.written, third.resumed], [9, 0]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeTinyDataset } from '../helpers/tiny-dataset';
import { pixelModel } from '../helpers/tiny-onnx';
import { openDataset } from '../../plugins/modelzoo/src/lib/dataset/reader';
import { runEval } from '../../plugins/modelzoo/src/lib/eval/run-eval';

const CLASSES = 4;
const SIZE = 2;
// Labels in no positional pattern, so pairing a prediction with the wrong image's label shows.
const LABELS = [3, 1, 0, 2, 2, 0, 3, 1, 1, 0, 2];

/** Image i lights the pixel of `predicted[i]`; shards and datalist rewritten in the prepared format. */
function writeDataset(dir: string, predicted: number[]): void {
  const manifest = writeTinyDataset(dir, { count: LABELS.length, classes: CLASSES, size: SIZE, shardSize: 4 });
  const imageBytes = 3 * SIZE * SIZE;
  let i = 0;
  for (const shard of manifest.shards) {
    const buf = Buffer.alloc(shard.count * imageBytes, 10);
    for (let k = 0; k < shard.count; k++, i++) buf[k * imageBytes + predicted[i]!] = 200;
    fs.writeFileSync(path.join(dir, shard.file), buf);
    shard.sha256 = createHash('sha256').update(buf).digest('hex');
  }
  fs.writeFileSync(path.join(dir, manifest.datalist), LABELS.map((l, j) => `img_${j}.JPEG ${l}`).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
}

test('labels are paired with predictions by dataset index, not by position in the batch', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-order-'));
  writeDataset(dir, LABELS); // every image predicts its own label
  const dataset = await openDataset(dir);
  try {
    // Batches in an order unrelated to the datalist, and a batch size that splits it unevenly.
    const indices = [7, 2, 10, 0, 5, 9, 1, 8, 3, 6, 4];
    const run = await runEval({ model: pixelModel(CLASSES, SIZE), dataset, batch: 3, threads: 1, indices });
    const s = run.counter.summary();
    assert.equal(s.images, LABELS.length);
    assert.equal(s.top1, 100, 'each image predicts its own label');
    for (const idx of indices) assert.equal(run.counter.predictions.get(idx)![0], LABELS[idx], `image ${idx}`);
    const counts = [0, 0, 0, 0];
    for (const l of LABELS) counts[l]!++;
    assert.deepEqual(s.perClass.map((p) => [p.cls, p.count, p.top1]), counts.map((c, cls) => [cls, c, 100]));
  } finally {
    await dataset.close();
  }
});

test('a subset in reverse order counts only the chosen images, each against its own label', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-order-'));
  // images 0..10 predict LABELS shifted by one class: only those with predicted == label are hits
  const predicted = LABELS.map((l, i) => (i % 2 === 0 ? l : (l + 1) % CLASSES));
  writeDataset(dir, predicted);
  const dataset = await openDataset(dir);
  try {
    const indices = [9, 8, 6, 4, 3];
    const run = await runEval({ model: pixelModel(CLASSES, SIZE), dataset, batch: 2, threads: 1, indices });
    const s = run.counter.summary();
    assert.equal(s.images, 5);
    assert.equal(s.top1, 60); // 8, 6, 4 hit; 9, 3 miss
    for (const idx of indices) assert.equal(run.counter.predictions.get(idx)![0], predicted[idx]);
    assert.deepEqual([...run.counter.predictions.keys()].sort((a, b) => a - b), [3, 4, 6, 8, 9]);
  } finally {
    await dataset.close();
  }
});

test('without indices every image is evaluated; a model/dataset class-count mismatch fails before the first batch', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-order-'));
  writeDataset(dir, LABELS);
  const dataset = await openDataset(dir);
  try {
    const run = await runEval({ model: pixelModel(CLASSES, SIZE), dataset, batch: 4, threads: 1, label: 'eval-test' });
    assert.equal(run.classes, CLASSES);
    assert.equal(run.counter.summary().images, LABELS.length);
    assert.equal(run.counter.summary().top1, 100);
    assert.ok(run.seconds > 0 && run.seconds < 600, `seconds ${run.seconds}`);
    assert.ok(Math.abs(run.throughput - LABELS.length / run.seconds) < 1e-6);
    // one image: a batch larger than the list still runs (the probe batch is clamped)
    const one = await runEval({ model: pixelModel(CLASSES, SIZE), dataset, batch: 8, threads: 1, indices: [6] });
    assert.deepEqual([...one.counter.predictions.keys()], [6]);
    dataset.manifest.classes = 5;
    await assert.rejects(
      runEval({ model: pixelModel(CLASSES, SIZE), dataset, batch: 2, threads: 1 }),
      (e: Error) =>
        e.message ===
        "the model has 4 output classes but the dataset's labels are for 5 classes (max label 3); use a model with 5 classes or set the dataset's 'classes' option",
    );
    dataset.manifest.classes = CLASSES;
    dataset.entries[2] = { ...dataset.entries[2]!, label: 4 };
    await assert.rejects(runEval({ model: pixelModel(CLASSES, SIZE), dataset, batch: 2, threads: 1 }), /\(max label 4\)/);
    // an image outside the evaluated subset does not count towards the label check
    const sub = await runEval({ model: pixelModel(CLASSES, SIZE), dataset, batch: 2, threads: 1, indices: [0, 1] });
    assert.equal(sub.counter.summary().images, 2);
  } finally {
    await dataset.close();
  }
});

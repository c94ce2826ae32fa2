import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { prepareDataset } from '../../plugins/modelzoo/src/lib/dataset/prepare';
import { openDataset } from '../../plugins/modelzoo/src/lib/dataset/reader';
import { preprocessImage } from '../../plugins/modelzoo/src/lib/preprocess/preprocess';
import type { GeometrySpec } from '../../plugins/modelzoo/src/lib/preprocess/spec';
import { REPO_ROOT } from '../helpers/shared';

const DEMO = path.join(REPO_ROOT, 'data', 'demo');
// A small crop keeps the test fast; the geometry code path is the same as 256/224.
const G: GeometrySpec = { resize: 'shorter', resizeSize: 72, interpolation: 'bilinear', backend: 'pillow', cropSize: 64 };
const demoLines = () => fs.readFileSync(path.join(DEMO, 'val_label.txt'), 'utf8').trim().split('\n');

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ds-prep-'));
}

/** A writable copy of the demo set, optionally with a different label file. */
function demoCopy(labels?: string): { dir: string; labels: string } {
  const dir = path.join(tmp(), 'images');
  fs.cpSync(DEMO, dir, { recursive: true });
  const lf = path.join(dir, 'val_label.txt');
  if (labels !== undefined) fs.writeFileSync(lf, labels);
  return { dir, labels: lf };
}

test('prepares the demo set: shards, manifest, datalist order, tensors equal preprocessImage', async () => {
  const out = path.join(tmp(), 'ds');
  const m = await prepareDataset({
    imagesDir: DEMO,
    labelsFile: path.join(DEMO, 'val_label.txt'),
    outDir: out,
    geometry: G,
    classes: 4,
    shardSize: 5,
    calibrationSize: 8,
    concurrency: 2,
    demo: true,
  });
  const lines = demoLines();
  assert.equal(m.format, 'modelzoo-uint8-chw/1');
  assert.equal(m.count, lines.length);
  assert.deepEqual(m.shape, [3, 64, 64]);
  assert.equal(m.demo, true);
  assert.equal(m.classes, 4);
  assert.match(m.source.fingerprint, /^[0-9a-f]{64}$/);
  assert.deepEqual(m.shards.map((s) => s.count), [5, 5, 5, 5, 4]);
  for (const s of m.shards) {
    const bytes = fs.readFileSync(path.join(out, s.file));
    assert.equal(bytes.length, s.count * 3 * 64 * 64, s.file);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), s.sha256, s.file);
  }
  const ds = await openDataset(out);
  try {
    assert.deepEqual(ds.entries.map((e) => `${e.file} ${e.label}`), lines);
    const all = await ds.readImages(lines.map((_, i) => i));
    for (let i = 0; i < lines.length; i++) {
      const expected = await preprocessImage(path.join(DEMO, ds.entries[i]!.file), G);
      assert.equal(Buffer.compare(Buffer.from(all.subarray(i * ds.imageBytes, (i + 1) * ds.imageBytes)), Buffer.from(expected)), 0, `image ${i}`);
    }
    const calib = await ds.calibrationIndices();
    assert.equal(calib.length, 8);
    assert.equal(m.calibration.count, 8);
    // 8 picks over 4 classes: two per class.
    const perClass = new Map<number, number>();
    for (const i of calib) perClass.set(ds.entries[i]!.label, (perClass.get(ds.entries[i]!.label) ?? 0) + 1);
    assert.deepEqual([...perClass.values()], [2, 2, 2, 2]);
  } finally {
    await ds.close();
  }
  // Same inputs, same bytes, whichever way the pool runs.
  for (const [concurrency, preprocessMode] of [[1, 'auto'], [2, 'workers'], [3, 'auto']] as const) {
    const again = await prepareDataset({ imagesDir: DEMO, labelsFile: path.join(DEMO, 'val_label.txt'), outDir: path.join(tmp(), 'ds2'), geometry: G, classes: 4, shardSize: 5, calibrationSize: 8, concurrency, preprocessMode });
    assert.deepEqual(again.shards.map((s) => s.sha256), m.shards.map((s) => s.sha256), `${concurrency} ${preprocessMode}`);
    assert.equal(again.calibration.sha256, m.calibration.sha256);
    assert.equal(again.calibration.tensorsSha256, m.calibration.tensorsSha256);
  }
});

test('a corrupt image fails naming the file and label line, leaving no output; skipCorrupt records it', async () => {
  const src = demoCopy();
  const victim = demoLines()[6]!.split(' ')[0]!;
  fs.writeFileSync(path.join(src.dir, victim), Buffer.from('\xff\xd8\xff garbage, not a JPEG'));
  const root = tmp();
  const out = path.join(root, 'ds');
  await assert.rejects(
    prepareDataset({ imagesDir: src.dir, labelsFile: src.labels, outDir: out, geometry: G, classes: 4 }),
    (e: Error) => e.message.includes(victim) && e.message.includes(`${src.labels}:7`),
  );
  assert.deepEqual(fs.readdirSync(root), [], 'no output and no temp directory after a failure');

  const m = await prepareDataset({ imagesDir: src.dir, labelsFile: src.labels, outDir: out, geometry: G, classes: 4, skipCorrupt: true });
  assert.equal(m.count, demoLines().length - 1);
  assert.equal(m.skipped.length, 1);
  assert.equal(m.skipped[0]!.file, victim);
  const ds = await openDataset(out);
  assert.ok(!ds.entries.some((e) => e.file === victim));
  assert.equal(ds.entries.length, m.count);
  await ds.close();
});

test('a label line naming a missing file fails with file and line; a failed rerun keeps the previous output', async () => {
  const lines = demoLines();
  const src = demoCopy([...lines.slice(0, 3), 'nope.jpg 1', ...lines.slice(3)].join('\n') + '\n');
  const out = path.join(tmp(), 'ds');
  const good = await prepareDataset({ imagesDir: DEMO, labelsFile: path.join(DEMO, 'val_label.txt'), outDir: out, geometry: G, classes: 4, limit: 3 });
  await assert.rejects(
    prepareDataset({ imagesDir: src.dir, labelsFile: src.labels, outDir: out, geometry: G, classes: 4 }),
    (e: Error) => e.message.includes('nope.jpg') && e.message.includes(`${src.labels}:4`) && /not found/.test(e.message),
  );
  const kept = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
  assert.equal(kept.count, good.count);
  assert.equal(good.count, 3);
});

test('label file validation: format, class range and duplicates, with line numbers', async () => {
  const lines = demoLines();
  const cases: [string, RegExp][] = [
    [`${lines[0]}\n\nno-index-here\n`, /:3: expected 'FILE INDEX'/],
    [`${lines[0]}\n${lines[1]!.split(' ')[0]} 4\n`, /:2: class index 4 out of range \(classes: 4\)/],
    [`${lines[0]}\n${lines[0]}\n`, /:2: .* already listed on line 1/],
    [`../escape.jpg 0\n`, /:1: .*relative/],
    [``, /no images listed/],
  ];
  for (const [text, re] of cases) {
    const src = demoCopy(text);
    await assert.rejects(
      prepareDataset({ imagesDir: src.dir, labelsFile: src.labels, outDir: path.join(tmp(), 'ds'), geometry: G, classes: 4 }),
      (e: Error) => re.test(e.message) && e.message.includes(src.labels),
      `expected ${re} for ${JSON.stringify(text)}`,
    );
  }
});

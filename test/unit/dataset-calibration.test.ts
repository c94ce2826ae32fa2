import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { selectCalibration } from '../../plugins/modelzoo/src/lib/dataset/calibration';
import { prepareDataset, type CalibrationJson } from '../../plugins/modelzoo/src/lib/dataset/prepare';
import { openDataset } from '../../plugins/modelzoo/src/lib/dataset/reader';
import type { GeometrySpec } from '../../plugins/modelzoo/src/lib/preprocess/spec';
import { REPO_ROOT } from '../helpers/shared';

/** 10 classes with uneven sizes (3..12 images), interleaved like a val list. */
function entries(): { file: string; label: number }[] {
  const out: { file: string; label: number }[] = [];
  for (let k = 0; k < 12; k++) for (let c = 0; c < 10; c++) if (k < 3 + c) out.push({ file: `img_${c}_${k}.JPEG`, label: c });
  return out;
}

test('calibration subset is class-balanced: every class present, counts differ by at most one while classes last', () => {
  const e = entries();
  for (const size of [10, 17, 25, 30]) {
    const pick = selectCalibration(e, size);
    assert.equal(pick.length, size);
    assert.equal(new Set(pick).size, size, 'no duplicates');
    const counts = new Array(10).fill(0);
    for (const i of pick) counts[e[i]!.label]++;
    assert.ok(counts.every((c) => c > 0), `size ${size}: every class present: ${counts}`);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `size ${size}: balanced: ${counts}`);
    assert.deepEqual(pick, [...pick].sort((a, b) => a - b), 'ascending indices');
  }
  // 60 of 75: classes of 3..6 images are exhausted by round-robin, the six larger ones get 7 each.
  const counts = new Array(10).fill(0);
  for (const i of selectCalibration(e, 60)) counts[e[i]!.label]++;
  assert.deepEqual(counts, [3, 4, 5, 6, 7, 7, 7, 7, 7, 7]);
});

test('calibration subset is deterministic, independent of list order, and seed-dependent', () => {
  const e = entries();
  const a = selectCalibration(e, 23);
  assert.deepEqual(selectCalibration(e, 23), a);
  const reversed = [...e].reverse();
  const b = selectCalibration(reversed, 23).map((i) => reversed[i]!.file).sort();
  assert.deepEqual(b, a.map((i) => e[i]!.file).sort(), 'same files whatever the list order');
  assert.notDeepEqual(selectCalibration(e, 23, 'other-seed'), a);
  assert.deepEqual(selectCalibration(e, 1000), e.map((_, i) => i), 'size >= count takes everything');
  assert.deepEqual(selectCalibration(e, 0), []);
});

// --- calibration.json: the calibration images and a hash of exactly their tensors -------------------

const DEMO = path.join(REPO_ROOT, 'data', 'demo');
const G: GeometrySpec = { resize: 'shorter', resizeSize: 72, interpolation: 'bilinear', backend: 'pillow', cropSize: 64 };

function demoCopy(): { dir: string; labels: string; root: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-calib-'));
  const dir = path.join(root, 'images');
  fs.cpSync(DEMO, dir, { recursive: true });
  return { dir, labels: path.join(dir, 'val_label.txt'), root };
}

async function prepare(
  src: { dir: string; labels: string; root: string },
  name: string,
  extra: { skipCorrupt?: boolean; calibrationSize?: number; shardSize?: number } = {},
) {
  const outDir = path.join(src.root, name);
  const m = await prepareDataset({ imagesDir: src.dir, labelsFile: src.labels, outDir, geometry: G, classes: 4, calibrationSize: 8, shardSize: 5, concurrency: 2, ...extra });
  const json = JSON.parse(fs.readFileSync(path.join(outDir, 'calibration.json'), 'utf8')) as CalibrationJson;
  return { m, json, outDir };
}

/** Re-encodes an image with its pixels inverted: same name, same size, different content. */
async function invertPixels(file: string): Promise<void> {
  const out = await sharp(fs.readFileSync(file)).negate().jpeg({ quality: 95 }).toBuffer();
  fs.writeFileSync(file, out);
}

/** The calibration hash recomputed independently, from the reader's view of the written dataset. */
async function expectedSha(outDir: string): Promise<string> {
  const ds = await openDataset(outDir);
  try {
    return createHash('sha256').update(await ds.readImages(await ds.calibrationIndices())).digest('hex');
  } finally {
    await ds.close();
  }
}

test('calibration.json lists the subset and hashes exactly its tensors, in calibration order', async () => {
  const src = demoCopy();
  const { m, json, outDir } = await prepare(src, 'a');
  const ds = await openDataset(outDir);
  const calib = await ds.calibrationIndices();
  assert.equal(json.count, 8);
  assert.deepEqual(json.images.map((e) => e.index), calib);
  assert.deepEqual(json.images.map((e) => [e.file, e.label]), calib.map((i) => [ds.entries[i]!.file, ds.entries[i]!.label]));
  await ds.close();
  assert.equal(json.sha256, await expectedSha(outDir));
  assert.equal(m.calibration.json, 'calibration.json');
  assert.equal(m.calibration.tensorsSha256, json.sha256);
});

test('calibration sha changes with a calibration image, not with any other image', async () => {
  const src = demoCopy();
  const base = await prepare(src, 'base');
  const calibFiles = new Set(base.json.images.map((e) => e.file));
  const lines = fs.readFileSync(src.labels, 'utf8').trim().split('\n').map((l) => l.split(' ')[0]!);
  const other = lines.find((f) => !calibFiles.has(f))!;
  const member = base.json.images[3]!.file;

  await invertPixels(path.join(src.dir, other));
  const afterOther = await prepare(src, 'other');
  assert.notDeepEqual(afterOther.m.shards.map((s) => s.sha256), base.m.shards.map((s) => s.sha256), 'the dataset did change');
  assert.deepEqual(afterOther.json, base.json, 'selection and hash unchanged by a non-calibration image');

  await invertPixels(path.join(src.dir, member));
  const afterMember = await prepare(src, 'member');
  assert.deepEqual(afterMember.json.images, base.json.images, 'selection depends on names and labels only');
  assert.notEqual(afterMember.json.sha256, base.json.sha256);
  assert.equal(afterMember.json.sha256, await expectedSha(afterMember.outDir));
});

test('with a skipped image the calibration hash is recomputed for the new subset', async () => {
  const src = demoCopy();
  const base = await prepare(src, 'base');
  const victim = base.json.images[0]!.file;
  fs.writeFileSync(path.join(src.dir, victim), Buffer.from('\xff\xd8\xff garbage, not a JPEG'));
  const { m, json, outDir } = await prepare(src, 'skip', { skipCorrupt: true });
  assert.equal(m.skipped.length, 1);
  assert.ok(!json.images.some((e) => e.file === victim));
  assert.equal(json.count, 8);
  assert.equal(json.sha256, await expectedSha(outDir));
});

test('a subset that is the whole dataset in one shard: the hash is the shard\'s, and still the tensors\'', async () => {
  const src = demoCopy();
  const { m, json, outDir } = await prepare(src, 'all', { calibrationSize: 1000, shardSize: 1024 });
  assert.equal(json.count, m.count);
  assert.equal(m.shards.length, 1);
  assert.equal(json.sha256, m.shards[0]!.sha256);
  assert.equal(json.sha256, await expectedSha(outDir));
});

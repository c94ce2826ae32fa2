import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openFilesUnder } from '../helpers/open-files';
import { writeTinyDataset } from '../helpers/tiny-dataset';
import { openDataset, parseDatalist } from '../../plugins/modelzoo/src/lib/dataset/reader';
import type { DatasetManifest } from '../../plugins/modelzoo/src/lib/dataset/manifest';

// The prepared-dataset reader: manifest and datalist checks, images by index across shards, the shard
// hashes (checked once, the next shard in the background), shared handles, batches, the calibration
// list, and close. File opens are counted through the module object the reader (and verify.ts) use.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fsm = require('node:fs/promises') as Record<string, unknown>;

const SIZE = 2;
const IMAGE = 3 * SIZE * SIZE;
const sha = (b: string | Uint8Array) => createHash('sha256').update(b).digest('hex');

interface Fixture {
  dir: string;
  manifest: DatasetManifest;
  /** Every image's bytes, datalist order. */
  pixels: Buffer;
}

/** 10 images in shards of 4, 4, 2. */
function fixture(count = 10): Fixture {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mut-reader-'));
  const manifest = writeTinyDataset(dir, { count, classes: 3, size: SIZE, shardSize: 4, seed: 3 });
  const pixels = Buffer.concat(manifest.shards.map((s) => fs.readFileSync(path.join(dir, s.file))));
  return { dir, manifest, pixels };
}

const image = (f: Fixture, i: number) => f.pixels.subarray(i * IMAGE, (i + 1) * IMAGE);
const rewriteManifest = (f: Fixture) => fs.writeFileSync(path.join(f.dir, 'manifest.json'), JSON.stringify(f.manifest));

/** Runs fn recording the paths fs.promises.open is called with (from any module). */
async function countingOpens<T>(fn: () => Promise<T>): Promise<{ result: T; opened: string[] }> {
  const orig = fsm['open'] as (...a: unknown[]) => Promise<unknown>;
  const opened: string[] = [];
  fsm['open'] = (p: unknown, ...rest: unknown[]) => {
    opened.push(String(p));
    return orig(p, ...rest);
  };
  try {
    return { result: await fn(), opened };
  } finally {
    fsm['open'] = orig;
  }
}

test('images by datalist index, across shards and in any order; imageBytes and entries from the manifest', async () => {
  const f = fixture();
  const ds = await openDataset(f.dir);
  try {
    assert.equal(ds.dir, f.dir);
    assert.equal(ds.imageBytes, IMAGE);
    assert.equal(ds.manifest.count, 10);
    assert.deepEqual(ds.entries.slice(0, 4), [
      { file: 'img_0.JPEG', label: 0 },
      { file: 'img_1.JPEG', label: 1 },
      { file: 'img_2.JPEG', label: 2 },
      { file: 'img_3.JPEG', label: 0 },
    ]);
    const order = [9, 0, 4, 3, 8, 5, 5];
    const got = await ds.readImages(order);
    assert.equal(got.length, order.length * IMAGE);
    assert.deepEqual(Buffer.from(got), Buffer.concat(order.map((i) => image(f, i))));
    assert.deepEqual(await ds.readImages([]), new Uint8Array(0));
    for (const bad of [10, -1, 2.5]) {
      await assert.rejects(ds.readImages([1, bad]), (e: Error) => e.message === `dataset ${f.dir}: image index ${bad} out of range (0..9)`);
    }
  } finally {
    await ds.close();
    fs.rmSync(f.dir, { recursive: true, force: true });
  }
});

test('batches: groups of batchSize in the given order, the last one shorter, each with its images', async () => {
  const f = fixture();
  const ds = await openDataset(f.dir);
  try {
    const indices = [7, 1, 9, 2, 0, 6, 3];
    const got: { indices: number[]; data: Buffer }[] = [];
    for await (const b of ds.batches(indices, 3)) got.push({ indices: b.indices, data: Buffer.from(b.data) });
    assert.deepEqual(
      got.map((b) => b.indices),
      [[7, 1, 9], [2, 0, 6], [3]],
    );
    for (const b of got) assert.deepEqual(b.data, Buffer.concat(b.indices.map((i) => image(f, i))));
    const whole: number[][] = [];
    for await (const b of ds.batches(indices, 7)) whole.push(b.indices);
    assert.deepEqual(whole, [indices]);
    const none: unknown[] = [];
    for await (const b of ds.batches([], 4)) none.push(b);
    assert.deepEqual(none, []);
  } finally {
    await ds.close();
    fs.rmSync(f.dir, { recursive: true, force: true });
  }
});

test('each shard is hashed once and opened once for reading; the next shard is verified in the background', async () => {
  const f = fixture();
  const shard = (k: number) => path.join(f.dir, f.manifest.shards[k]!.file);
  const ds = await openDataset(f.dir);
  try {
    const { opened } = await countingOpens(async () => {
      await ds.readImages([0, 1, 2, 3]); // four concurrent reads of shard 0
      await ds.readImages([2]);
      await ds.close(); // waits for the background check of shard 1
    });
    // shard 0: its hash, then one shared handle; shard 1: its hash only; shard 2: untouched
    assert.deepEqual(opened.sort(), [shard(0), shard(0), shard(1)]);
    assert.deepEqual(openFilesUnder(f.dir), [], 'close closes the handles and waits for the background hash');
    // the last shard has no next one to check
    const { opened: last } = await countingOpens(async () => {
      assert.deepEqual(Buffer.from(await ds.readImages([9, 8])), Buffer.concat([image(f, 9), image(f, 8)]));
      await ds.close();
    });
    assert.deepEqual(last.sort(), [shard(2), shard(2)]);
    // after close a read opens the shard again (its hash is not checked twice)
    const { opened: again } = await countingOpens(async () => {
      assert.deepEqual(Buffer.from(await ds.readImages([1])), image(f, 1));
      await ds.close();
    });
    assert.deepEqual(again, [shard(0)]);
  } finally {
    await ds.close();
    fs.rmSync(f.dir, { recursive: true, force: true });
  }
});

test('close waits for a background shard check still running, so no shard file stays open', async () => {
  const f = fixture();
  const shard1 = path.join(f.dir, f.manifest.shards[1]!.file);
  const ds = await openDataset(f.dir);
  let checked = false;
  const orig = fsm['open'] as (...a: unknown[]) => Promise<{ close(): Promise<void> }>;
  // The check of shard 1 (started in the background by a read of shard 0) is slow to open its file.
  fsm['open'] = async (p: unknown, ...rest: unknown[]) => {
    if (p !== shard1) return orig(p, ...rest);
    await new Promise((r) => setTimeout(r, 150));
    const h = await orig(p, ...rest);
    const close = h.close.bind(h);
    h.close = async () => {
      await close();
      checked = true;
    };
    return h;
  };
  try {
    await ds.readImages([0]);
    assert.equal(checked, false);
    await ds.close();
    assert.equal(checked, true, 'close returned only after the background check closed its file');
    assert.deepEqual(openFilesUnder(f.dir), []);
  } finally {
    fsm['open'] = orig;
    fs.rmSync(f.dir, { recursive: true, force: true });
  }
});

test('a changed shard is refused before its images are handed out, naming the producer; a bad next shard is no error yet', async () => {
  const f = fixture();
  const shard1 = path.join(f.dir, f.manifest.shards[1]!.file);
  const bad = fs.readFileSync(shard1);
  bad[5] = bad[5]! ^ 0x80;
  fs.writeFileSync(shard1, bad);
  const ds = await openDataset(f.dir, { producer: 'val:prep' });
  try {
    // shard 0 reads fine while shard 1 (checked in the background) fails: no unhandled rejection
    assert.deepEqual(Buffer.from(await ds.readImages([3])), image(f, 3));
    await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(ds.readImages([3, 4]), (e: Error) =>
      e.name === 'IntegrityError' &&
      e.message.startsWith(`dataset shard ${shard1} does not match the sha256 its producer recorded (expected ${f.manifest.shards[1]!.sha256.slice(0, 16)}…, got ${sha(bad).slice(0, 16)}…)`) &&
      e.message.endsWith('Make it again: npx nx run val:prep --skip-nx-cache'),
    );
  } finally {
    await ds.close();
  }
  // a shard shorter than the manifest says (its hash recorded as is): a truncated read is named
  const shard2 = path.join(f.dir, f.manifest.shards[2]!.file);
  const short = fs.readFileSync(shard2).subarray(0, IMAGE + 5);
  fs.writeFileSync(shard2, short);
  f.manifest.shards[2]!.sha256 = sha(short);
  rewriteManifest(f);
  const ds2 = await openDataset(f.dir);
  try {
    assert.deepEqual(Buffer.from(await ds2.readImages([8])), image(f, 8));
    await assert.rejects(ds2.readImages([9]), (e: Error) => e.message === `dataset ${f.dir}: shard ${f.manifest.shards[2]!.file} is truncated`);
  } finally {
    await ds2.close();
    fs.rmSync(f.dir, { recursive: true, force: true });
  }
});

test('manifest and datalist checks: format, count, datalist hash (when recorded), all naming the dataset', async () => {
  const f = fixture(6);
  try {
    await assert.rejects(openDataset(path.join(f.dir, 'none')), (e: Error) =>
      e.message.startsWith(`dataset: cannot read ${path.join(f.dir, 'none', 'manifest.json')}: ENOENT`),
    );
    const datalist = fs.readFileSync(path.join(f.dir, 'datalist.txt'), 'utf8');
    // a recorded datalist hash that matches is fine
    f.manifest.datalistSha256 = sha(datalist);
    rewriteManifest(f);
    assert.equal((await openDataset(f.dir)).entries.length, 6);
    // one that does not is an IntegrityError naming the datalist and the producer
    f.manifest.datalistSha256 = sha('other');
    rewriteManifest(f);
    await assert.rejects(openDataset(f.dir, { producer: 'val:prep' }), (e: Error) =>
      e.name === 'IntegrityError' &&
      e.message.startsWith(`dataset datalist ${path.join(f.dir, 'datalist.txt')} does not match the sha256 its producer recorded (expected ${sha('other').slice(0, 16)}…, got ${sha(datalist).slice(0, 16)}…)`) &&
      e.message.endsWith('npx nx run val:prep --skip-nx-cache'),
    );
    delete f.manifest.datalistSha256;
    f.manifest.count = 7;
    rewriteManifest(f);
    await assert.rejects(openDataset(f.dir), (e: Error) => e.message === `dataset ${f.dir}: datalist has 6 entries, manifest says 7`);
    f.manifest.count = 6;
    (f.manifest as { format: string }).format = 'modelzoo-uint8-chw/2';
    rewriteManifest(f);
    await assert.rejects(openDataset(f.dir), (e: Error) => e.message === `dataset ${f.dir}: unsupported format 'modelzoo-uint8-chw/2' (run dataset-prep again)`);
  } finally {
    fs.rmSync(f.dir, { recursive: true, force: true });
  }
});

test('calibrationIndices: the index list, hash-checked, blank lines skipped', async () => {
  const f = fixture();
  const file = path.join(f.dir, 'calibration.txt');
  const text = '4\n\n 0 \r\n9\n  \n';
  fs.writeFileSync(file, text);
  f.manifest.calibration.sha256 = sha(text);
  rewriteManifest(f);
  const ds = await openDataset(f.dir, { producer: 'val:prep' });
  try {
    assert.deepEqual(await ds.calibrationIndices(), [4, 0, 9]);
    fs.writeFileSync(file, '4\n0\n');
    await assert.rejects(ds.calibrationIndices(), (e: Error) =>
      e.name === 'IntegrityError' &&
      e.message.startsWith(`dataset calibration list ${file} does not match the sha256 its producer recorded (expected ${sha(text).slice(0, 16)}…, got ${sha('4\n0\n').slice(0, 16)}…)`) &&
      e.message.endsWith('npx nx run val:prep --skip-nx-cache'),
    );
  } finally {
    await ds.close();
    fs.rmSync(f.dir, { recursive: true, force: true });
  }
});

test('parseDatalist: FILE INDEX lines (spaces in names, tabs, CRLF, blank lines); malformed and negative lines named', () => {
  assert.deepEqual(parseDatalist('a.JPEG 3\r\n\n  my file.JPEG\t 12  \nx/y 1 0\n', 'dl.txt'), [
    { file: 'a.JPEG', label: 3 },
    { file: 'my file.JPEG', label: 12 },
    { file: 'x/y 1', label: 0 },
  ]);
  assert.deepEqual(parseDatalist('', 'dl.txt'), []);
  const malformed = (line: number) =>
    `dl.txt:${line}: expected 'FILE INDEX' (a file name, a space, a class index); rerun the dataset-prep that wrote it`;
  for (const [text, line] of [
    ['a.JPEG 1\nb.JPEG\n', 2],
    ['\n\n12\n', 3],
    ['a.JPEG 1.5', 1],
    ['a.JPEG x', 1],
    ['a.JPEG 1 \nb.JPEG -\n', 2],
    ['a.JPEG1', 1],
    ['a\rb.JPEG 1', 1], // a stray CR inside the line: the whole line must match, not its tail
  ] as const) {
    assert.throws(() => parseDatalist(text, 'dl.txt'), (e: Error) => e.name === 'UserError' && e.message === malformed(line), text);
  }
  assert.throws(() => parseDatalist('a 0\nb -3\n', 'dl.txt'), (e: Error) => e.name === 'UserError' && e.message === 'dl.txt:2: negative class index -3');
});

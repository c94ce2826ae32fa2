import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gifBomb, jpegHeaderBomb, pngBomb, runExecutorChild, webpBomb } from '../helpers/bombs';
import { DEFAULT_MAX_IMAGE_PIXELS, checkPixels } from '../../plugins/modelzoo/src/lib/preprocess/limits';
import { REPO_ROOT } from '../helpers/shared';

/**
 * Decompression bombs in the image folder: each is refused from its header, before decoding, so
 * dataset-prep's peak memory stays far below what the headers claim (each PNG here is ~0.9 MB on disk
 * and 900 MB decoded; the JPEG claims 4.2 G pixels). Run in a child process so its peak RSS is its own.
 */
const DEMO = path.join(REPO_ROOT, 'data', 'demo');
const GiB = 1024 ** 3;

const BOMBS = ['bomb_0.png', 'bomb_1.png', 'bomb_2.png', 'bomb_3.png', 'claims.jpg', 'claims.webp', 'claims.gif'];

let workspace: string | undefined;
after(() => workspace && fs.rmSync(workspace, { recursive: true, force: true }));
async function bombWorkspace(): Promise<string> {
  if (workspace) return workspace;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bounds-images-'));
  const images = path.join(root, 'images');
  fs.mkdirSync(images);
  const demo = fs.readdirSync(DEMO).filter((f) => f.endsWith('.jpg')).slice(0, 6);
  for (const f of demo) fs.copyFileSync(path.join(DEMO, f), path.join(images, f));
  await pngBomb(path.join(images, 'bomb_0.png'));
  for (const k of [1, 2, 3]) fs.copyFileSync(path.join(images, 'bomb_0.png'), path.join(images, `bomb_${k}.png`));
  await jpegHeaderBomb(path.join(images, 'claims.jpg'));
  await webpBomb(path.join(images, 'claims.webp'));
  await gifBomb(path.join(images, 'claims.gif'));
  // Bombs interleaved with real images, so several are in flight at once.
  const names = [...demo.slice(0, 2), ...BOMBS.slice(0, 4), ...demo.slice(2), ...BOMBS.slice(4)];
  fs.writeFileSync(path.join(images, 'val_label.txt'), names.map((n, i) => `${n} ${i % 4}\n`).join(''));
  return (workspace = root);
}

const runPrep = (root: string, options: Record<string, unknown>) =>
  runExecutorChild('plugins/modelzoo/src/executors/dataset-prep/executor.ts', root, 'dataset-prep', options, { UV_THREADPOOL_SIZE: '4' });

const base = { preprocess: 'torchvision', imagesDir: 'images', classes: 4, calibrationSize: 4, concurrency: 2 };

test('skipCorrupt: every bomb is skipped and listed, the rest prepared, peak RSS < 1 GiB', async () => {
  const root = await bombWorkspace();
  const r = runPrep(root, { ...base, outputPath: 'dist/skip', skipCorrupt: true });
  assert.equal(r.success, true, r.stderr);
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'dist/skip/manifest.json'), 'utf8'));
  assert.equal(manifest.count, 6);
  assert.deepEqual(manifest.skipped.map((s: { file: string }) => s.file).sort(), [...BOMBS].sort());
  for (const s of manifest.skipped) assert.match(s.reason, /refused as a possible decompression bomb/, s.file);
  assert.ok(r.maxRssBytes < GiB, `peak RSS ${(r.maxRssBytes / 2 ** 20).toFixed(0)} MiB`);
});

test('without skipCorrupt: a clear error naming the label line and the option, no stack, nothing written', async () => {
  const root = await bombWorkspace();
  const r = runPrep(root, { ...base, outputPath: 'dist/strict' });
  assert.equal(r.success, false);
  assert.match(r.stderr, /val_label\.txt:3: .*bomb_0\.png: image is 30000x30000 = 900000000 pixels, more than twice maxImagePixels \(89478485\)/);
  assert.match(r.stderr, /maxImagePixels/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(fs.existsSync(path.join(root, 'dist/strict')), false);
  assert.ok(r.maxRssBytes < GiB, `peak RSS ${(r.maxRssBytes / 2 ** 20).toFixed(0)} MiB`);
});

test('maxImagePixels: above it warns and decodes, above twice it refuses, below 1 is an option error', async () => {
  const root = await bombWorkspace();
  const demo = fs.readdirSync(path.join(root, 'images')).filter((f) => f.endsWith('.jpg'));
  // The demo images are 40000-ish pixels: a limit of 20000 warns (> 20000) without refusing (< 40000).
  const { width, height } = await (await import('sharp')).default(path.join(root, 'images', demo[0]!)).metadata();
  const pixels = width! * height!;
  const labels = path.join(root, 'images', 'one.txt');
  fs.writeFileSync(labels, `${demo[0]} 0\n`);
  const warned = runPrep(root, { ...base, labelsFile: 'images/one.txt', outputPath: 'dist/warn', maxImagePixels: Math.ceil(pixels * 0.75) });
  assert.equal(warned.success, true, warned.stderr);
  assert.match(warned.stderr, new RegExp(`warning: .*${demo[0]}: image is ${width}x${height} = ${pixels} pixels, more than maxImagePixels`));
  const refused = runPrep(root, { ...base, labelsFile: 'images/one.txt', outputPath: 'dist/refuse', maxImagePixels: Math.floor((pixels - 1) / 2) });
  assert.equal(refused.success, false);
  assert.match(refused.stderr, /refused as a possible decompression bomb/);
  const invalid = runPrep(root, { ...base, labelsFile: 'images/one.txt', outputPath: 'dist/invalid', maxImagePixels: 0 });
  assert.equal(invalid.success, false);
  assert.match(invalid.stderr, /maxImagePixels/);
});

test("the pixel limit's edges are Pillow's: warn above MAX_IMAGE_PIXELS, refuse above twice it", () => {
  const max = DEFAULT_MAX_IMAGE_PIXELS;
  assert.equal(max, 89_478_485);
  assert.equal(checkPixels(max, 1, 'a.png', max), undefined);
  assert.match(checkPixels(max + 1, 1, 'a.png', max)!, /^a\.png: image is 89478486x1 = 89478486 pixels, more than maxImagePixels/);
  assert.ok(checkPixels(2 * max, 1, 'a.png', max));
  assert.throws(() => checkPixels(2 * max + 1, 1, 'a.png', max), /a\.png: .* refused as a possible decompression bomb/);
  assert.throws(() => checkPixels(30000, 30000, 'b.png', max), /30000x30000 = 900000000 pixels/);
});

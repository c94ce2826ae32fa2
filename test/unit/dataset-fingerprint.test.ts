import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fingerprintImageFolder } from '../../plugins/modelzoo/src/lib/dataset/fingerprint';

test('folder fingerprint changes when an image is added, rewritten or touched, or labels change', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-'));
  const labels = path.join(dir, 'val_label.txt');
  fs.writeFileSync(labels, 'a.JPEG 0\n');
  fs.writeFileSync(path.join(dir, 'a.JPEG'), 'aaaa');
  const t0 = new Date('2024-01-01T00:00:00Z');
  fs.utimesSync(path.join(dir, 'a.JPEG'), t0, t0);
  const stat0 = await fingerprintImageFolder(dir, labels, 'stat');
  const content0 = await fingerprintImageFolder(dir, labels, 'content');
  assert.equal(await fingerprintImageFolder(dir, labels, 'stat'), stat0, 'stable');
  assert.notEqual(stat0, content0, 'modes are distinct');

  // Same size, new mtime: stat mode notices, content mode does not care.
  fs.utimesSync(path.join(dir, 'a.JPEG'), new Date('2024-02-01Z'), new Date('2024-02-01Z'));
  assert.notEqual(await fingerprintImageFolder(dir, labels, 'stat'), stat0);
  assert.equal(await fingerprintImageFolder(dir, labels, 'content'), content0);

  // Same size and mtime, different bytes: only content mode can see it.
  fs.writeFileSync(path.join(dir, 'a.JPEG'), 'bbbb');
  fs.utimesSync(path.join(dir, 'a.JPEG'), t0, t0);
  assert.equal(await fingerprintImageFolder(dir, labels, 'stat'), stat0);
  const content1 = await fingerprintImageFolder(dir, labels, 'content');
  assert.notEqual(content1, content0);

  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'b.JPEG'), 'b');
  const stat2 = await fingerprintImageFolder(dir, labels, 'stat');
  assert.notEqual(stat2, stat0, 'new image in a subfolder');
  fs.writeFileSync(labels, 'a.JPEG 1\n');
  assert.notEqual(await fingerprintImageFolder(dir, labels, 'stat'), stat2, 'label change');
  await assert.rejects(fingerprintImageFolder(dir, path.join(dir, 'missing.txt'), 'stat'), /missing\.txt/);
  fs.rmSync(dir, { recursive: true, force: true });
});

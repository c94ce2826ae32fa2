import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fingerprintDataset } from '../../plugins/modelzoo/src/lib/dataset/fingerprint';

const t0 = new Date('2024-01-01T00:00:00Z');

function folder(files: Record<string, string>, labels = 'a.JPEG 0\nsub/b.JPEG 1\n'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-'));
  for (const [name, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), data);
    fs.utimesSync(path.join(dir, name), t0, t0);
  }
  fs.writeFileSync(path.join(dir, 'val_label.txt'), labels);
  return dir;
}

test('dataset fingerprint is content: listed names + bytes + labels, not path or time', async (t) => {
  const a = folder({ 'a.JPEG': 'aaaa', 'sub/b.JPEG': 'bb' });
  const idx = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-index-'));
  t.after(() => [a, idx].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const fp = async (dir: string, labels = path.join(dir, 'val_label.txt')) => (await fingerprintDataset(dir, labels, { indexDir: idx })).fingerprint;
  const base = await fp(a);
  assert.equal(await fp(a), base, 'stable');
  const warm = await fingerprintDataset(a, path.join(a, 'val_label.txt'), { indexDir: idx });
  assert.equal(warm.fromIndex, 2, 'second run reads hashes from the index');

  // Another folder, same content, other mtimes: the same dataset.
  const b = folder({ 'a.JPEG': 'aaaa', 'sub/b.JPEG': 'bb', 'unlisted.txt': 'x' });
  t.after(() => fs.rmSync(b, { recursive: true, force: true }));
  fs.utimesSync(path.join(b, 'a.JPEG'), new Date(), new Date());
  assert.equal(await fp(b), base, 'relocated copy with other mtimes and an unlisted file');

  // Touch only: same content, same fingerprint (rehashed because the stat key changed).
  fs.utimesSync(path.join(a, 'a.JPEG'), new Date('2024-02-01Z'), new Date('2024-02-01Z'));
  const touched = await fingerprintDataset(a, path.join(a, 'val_label.txt'), { indexDir: idx });
  assert.equal(touched.fingerprint, base);
  assert.equal(touched.fromIndex, 1);

  // Same size, mtime restored, other bytes: the index must not hide it (ctime moved).
  fs.writeFileSync(path.join(a, 'a.JPEG'), 'abab');
  fs.utimesSync(path.join(a, 'a.JPEG'), new Date('2024-02-01Z'), new Date('2024-02-01Z'));
  const rewritten = await fp(a);
  assert.notEqual(rewritten, base, 'same-size same-mtime rewrite is caught');

  fs.writeFileSync(path.join(a, 'val_label.txt'), 'a.JPEG 1\nsub/b.JPEG 1\n');
  assert.notEqual(await fp(a), rewritten, 'label change');

  // A listed image that does not exist is a fact (hashed as missing); a new one changes the hash.
  fs.writeFileSync(path.join(a, 'val_label.txt'), 'a.JPEG 1\nsub/b.JPEG 1\nc.JPEG 2\n');
  const withMissing = await fingerprintDataset(a, path.join(a, 'val_label.txt'), { indexDir: idx });
  assert.equal(withMissing.missing, 1);
  fs.writeFileSync(path.join(a, 'c.JPEG'), 'c');
  assert.notEqual(await fp(a), withMissing.fingerprint);
  await assert.rejects(fingerprintDataset(a, path.join(a, 'missing.txt')), /missing\.txt.*not found/);
});

test('dataset fingerprint refuses what it cannot read: dangling symlink, symlink loop, folder as image', async (t) => {
  const a = folder({ 'a.JPEG': 'aaaa', 'sub/b.JPEG': 'bb' });
  t.after(() => fs.rmSync(a, { recursive: true, force: true }));
  const labels = path.join(a, 'val_label.txt');
  fs.rmSync(path.join(a, 'a.JPEG'));
  fs.symlinkSync(path.join(a, 'nowhere.JPEG'), path.join(a, 'a.JPEG'));
  await assert.rejects(fingerprintDataset(a, labels), /a\.JPEG.*symlink to nothing/);
  fs.rmSync(path.join(a, 'a.JPEG'));
  fs.symlinkSync('loop2.JPEG', path.join(a, 'a.JPEG'));
  fs.symlinkSync('a.JPEG', path.join(a, 'loop2.JPEG'));
  await assert.rejects(fingerprintDataset(a, labels), /a\.JPEG.*symlink loop/);
  fs.rmSync(path.join(a, 'a.JPEG'));
  fs.mkdirSync(path.join(a, 'a.JPEG'));
  await assert.rejects(fingerprintDataset(a, labels), /a\.JPEG is not a regular file/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import {
  exists, readJson, removeStaleTemps, sha256, sha256File, withAtomicDir, writeFileAtomic,
} from '../../plugins/modelzoo/src/lib/common/atomic';
import { UserError } from '../../plugins/modelzoo/src/lib/common/errors';
import { parseLabels, readLabels } from '../../plugins/modelzoo/src/lib/dataset/labels';

const tmp = () => fs.mkdtemp(path.join(os.tmpdir(), 'mut-atomic-'));

test('writeFileAtomic creates missing parent folders and replaces an existing file whole', async () => {
  const root = await tmp();
  const target = path.join(root, 'a', 'b', 'c.bin');
  await writeFileAtomic(target, Uint8Array.from([1, 2, 3]));
  assert.deepEqual([...(await fs.readFile(target))], [1, 2, 3]);
  await writeFileAtomic(target, 'x');
  assert.equal(await fs.readFile(target, 'utf8'), 'x');
  assert.deepEqual(await fs.readdir(path.dirname(target)), ['c.bin']);
});

test('withAtomicDir: returns the build result, replaces the old folder, creates parents, leaves no temp', async () => {
  const root = await tmp();
  const target = path.join(root, 'deep', 'out');
  assert.equal(await withAtomicDir(target, async (d) => (await fs.writeFile(path.join(d, 'one'), '1'), 41)), 41);
  assert.equal(await withAtomicDir(target, async (d) => (await fs.writeFile(path.join(d, 'two'), '2'), 42)), 42);
  assert.deepEqual(await fs.readdir(target), ['two']);
  assert.deepEqual(await fs.readdir(path.dirname(target)), ['out']);
});

test('withAtomicDir builds in a temp sibling named <target>.tmp-<pid>-<hex>, and clears dead temps first', async () => {
  const root = await tmp();
  const target = path.join(root, 'out');
  await fs.mkdir(`${target}.tmp-999999-dead`);
  await fs.writeFile(path.join(root, 'other.tmp-999999-x'), 'not ours');
  let seen = '';
  await withAtomicDir(target, async (d) => {
    seen = d;
    assert.deepEqual((await fs.readdir(root)).sort(), ['other.tmp-999999-x', path.basename(d)].sort());
  });
  assert.match(path.basename(seen), new RegExp(`^out\\.tmp-${process.pid}-[0-9a-f]{8}$`));
  assert.equal(path.dirname(seen), root);
  assert.deepEqual((await fs.readdir(root)).sort(), ['other.tmp-999999-x', 'out']);
});

test('removeStaleTemps: a missing folder is fine; our own pid and non-numeric names are kept', async () => {
  const root = await tmp();
  await removeStaleTemps(path.join(root, 'nope', 'out'));
  const target = path.join(root, 'out');
  await fs.writeFile(`${target}.tmp-${process.pid}-mine`, '');
  await fs.writeFile(`${target}.tmp-abc-x`, '');
  await fs.writeFile(`${target}.tmp-999998-file`, '');
  // same length as 'out.tmp-', so only the prefix check keeps it from being read as pid 999997
  await fs.writeFile(path.join(root, 'abc.tmp-999997-x'), '');
  await removeStaleTemps(target);
  assert.deepEqual((await fs.readdir(root)).sort(), [`out.tmp-${process.pid}-mine`, 'out.tmp-abc-x', 'abc.tmp-999997-x'].sort());
});

test('removeStaleTemps keeps a temp whose pid belongs to another user (kill(pid, 0) says EPERM)', async () => {
  // Tests run as root here, where kill(pid, 0) never says EPERM: the OS answer is stubbed for one call.
  const root = await tmp();
  const target = path.join(root, 'out');
  await fs.writeFile(`${target}.tmp-999996-other-user`, '');
  await fs.writeFile(`${target}.tmp-999995-gone`, '');
  const realKill = process.kill;
  process.kill = ((pid: number) => {
    throw Object.assign(new Error('kill'), { code: pid === 999996 ? 'EPERM' : 'ESRCH' });
  }) as typeof process.kill;
  try {
    await removeStaleTemps(target);
  } finally {
    process.kill = realKill;
  }
  assert.deepEqual(await fs.readdir(root), ['out.tmp-999996-other-user']);
});

test('exists, sha256, sha256File and readJson', async () => {
  const root = await tmp();
  const f = path.join(root, 'x.json');
  assert.equal(await exists(f), false);
  await fs.writeFile(f, '{"a": [1]}');
  assert.equal(await exists(f), true);
  const want = createHash('sha256').update('{"a": [1]}').digest('hex');
  assert.equal(sha256('{"a": [1]}'), want);
  assert.equal(sha256(Buffer.from('{"a": [1]}')), want);
  assert.equal(await sha256File(f), want);
  const big = path.join(root, 'big');
  const data = Buffer.alloc(200_000, 7);
  await fs.writeFile(big, data);
  assert.equal(await sha256File(big), createHash('sha256').update(data).digest('hex'));
  assert.deepEqual(await readJson(f, 'thing'), { a: [1] });
  await assert.rejects(readJson(path.join(root, 'missing.json'), 'manifest'), (e: Error) => e.message.startsWith(`manifest: cannot read ${path.join(root, 'missing.json')}: ENOENT`));
  await fs.writeFile(f, '{oops');
  await assert.rejects(readJson(f, 'manifest'), (e: Error) => e.message.startsWith(`manifest: ${f} is not valid JSON: `));
});

test('readLabels reads and validates a file; a missing file is a UserError naming it', async () => {
  const root = await tmp();
  const f = path.join(root, 'val_label.txt');
  await fs.writeFile(f, 'a.JPEG 1\r\n\r\nsub/b.JPEG 0\n');
  assert.deepEqual(await readLabels(f, 2), [
    { file: 'a.JPEG', label: 1, line: 1 },
    { file: 'sub/b.JPEG', label: 0, line: 3 },
  ]);
  await assert.rejects(readLabels(path.join(root, 'none.txt'), 2), (e: Error) => e instanceof UserError && e.message.startsWith(`labels ${path.join(root, 'none.txt')}: cannot read: ENOENT`));
});

test('parseLabels: invalid class counts, malformed and negative lines are UserErrors naming the line', () => {
  for (const c of [0, -1, 1.5, NaN]) assert.throws(() => parseLabels('a 0\n', 'L', c), (e: Error) => e instanceof UserError && e.message === `L: invalid class count ${c}`);
  assert.throws(() => parseLabels('a 0\nbroken\n', 'L', 2), (e: Error) => e instanceof UserError && e.message.startsWith("L:2: expected 'FILE INDEX'") && !e.message.includes('broken'));
  assert.throws(() => parseLabels('a -1\n', 'L', 2), (e: Error) => e instanceof UserError && e.message === "L:1: negative class index for 'a'");
  assert.deepEqual(parseLabels('a 1\n', 'L', 2), [{ file: 'a', label: 1, line: 1 }]);
  assert.deepEqual(parseLabels('x/..y 0\n', 'L', 1), [{ file: 'x/..y', label: 0, line: 1 }]);
  assert.throws(() => parseLabels('a 1\n', 'L', 1), (e: Error) => e instanceof UserError && e.message === "L:1: class index 1 out of range (classes: 1) for 'a'");
});

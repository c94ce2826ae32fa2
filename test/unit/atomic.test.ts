import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { removeStaleTemps, withAtomicDir } from '../../plugins/modelzoo/src/lib/common/atomic';

test('a failing build leaves neither the output nor a temp directory, and keeps the previous output', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'atomic-'));
  const target = path.join(root, 'out');
  await withAtomicDir(target, async (d) => fs.writeFile(path.join(d, 'a.txt'), 'one'));
  await assert.rejects(
    withAtomicDir(target, async (d) => {
      await fs.writeFile(path.join(d, 'a.txt'), 'half');
      throw new Error('killed');
    }),
    /killed/,
  );
  assert.equal(await fs.readFile(path.join(target, 'a.txt'), 'utf8'), 'one');
  assert.deepEqual(await fs.readdir(root), ['out']);
});

test('temp siblings of dead processes are removed; live ones are kept', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'atomic-'));
  const target = path.join(root, 'out');
  await fs.mkdir(`${target}.tmp-999999-abcd`);
  await fs.mkdir(`${target}.tmp-${process.ppid}-abcd`);
  await removeStaleTemps(target);
  assert.deepEqual(await fs.readdir(root), [`out.tmp-${process.ppid}-abcd`]);
});

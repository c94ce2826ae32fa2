import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fsSync from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { holdDirLock, withAtomicDir, withDirLock } from '../../plugins/modelzoo/src/lib/common/atomic';
import { DEAD, newLockTarget, patched, sleep, within } from '../helpers/lock-staging';

// The lock's races with another process, staged in-process: the other process's step (removing the
// lock, the breaker, an old unreadable lock) is done inside the fs call of atomic.ts that precedes the
// step it races with, through the module object atomic.ts uses. Each race must end in the lock being
// taken, never in an ENOENT from a file that another process removed first.
const lockedDir = () => newLockTarget('mut-ds-lock-');

test('release succeeds when its lock was removed between the owner check and the removal', async () => {
  const { root, target, lock } = await lockedDir();
  const release = await holdDirLock(target);
  await patched(
    'readFile',
    (orig) => async (...a) => {
      const text = await orig(...a);
      if (a[0] === lock) fsSync.rmSync(lock, { force: true }); // another process breaks it right after our read
      return text;
    },
    () => within(2000, release()),
  );
  assert.deepEqual(await fs.readdir(root), []);
  await fs.rm(root, { recursive: true, force: true });
});

test('an old unreadable lock that another waiter removes first is not an error: the lock is taken', async () => {
  const { root, target, lock } = await lockedDir();
  await fs.writeFile(lock, 'garbage');
  const old = new Date(Date.now() - 60_000);
  await fs.utimes(lock, old, old);
  let entered = false;
  await patched(
    'stat',
    (orig) => async (...a) => {
      const st = await orig(...a);
      if (a[0] === lock) fsSync.rmSync(lock, { force: true });
      return st;
    },
    () => within(2000, withDirLock(target, async () => { entered = true; })),
  );
  assert.equal(entered, true);
  assert.deepEqual(await fs.readdir(root), []);
  await fs.rm(root, { recursive: true, force: true });
});

test('an unreadable lock exactly 30 s old is not broken yet; a millisecond later it is', async () => {
  const { root, target, lock } = await lockedDir();
  await fs.writeFile(lock, 'garbage');
  const mtime = Math.floor(Date.now() / 1000) - 100; // whole seconds: mtimeMs is exact
  await fs.utimes(lock, mtime, mtime);
  assert.equal((await fs.stat(lock)).mtimeMs, mtime * 1000);
  const now = Date.now;
  Date.now = () => mtime * 1000 + 30_000;
  try {
    let entered = false;
    const p = withDirLock(target, async () => { entered = true; });
    await sleep(80);
    assert.equal(entered, false);
    assert.equal(await fs.readFile(lock, 'utf8'), 'garbage');
    Date.now = () => mtime * 1000 + 30_001;
    await within(3000, p);
    assert.equal(entered, true);
  } finally {
    Date.now = now;
  }
  assert.deepEqual(await fs.readdir(root), []);
  await fs.rm(root, { recursive: true, force: true });
});

test("a dead breaker's file removed by another waiter before ours removes it: the dead lock is still broken", async () => {
  const { root, target, lock } = await lockedDir();
  await fs.writeFile(lock, JSON.stringify({ pid: DEAD, token: 'dead' }));
  const breaker = `${lock}.break`;
  await fs.writeFile(breaker, String(DEAD));
  let raced = 0;
  await patched(
    'readFile',
    (orig) => async (...a) => {
      const text = await orig(...a);
      if (a[0] === breaker && raced++ === 0) fsSync.rmSync(breaker, { force: true });
      return text;
    },
    () => within(2000, withDirLock(target, async () => {})),
  );
  assert.equal(raced, 1, 'the breaker was read once, as a dead one');
  assert.deepEqual(await fs.readdir(root), []);
  await fs.rm(root, { recursive: true, force: true });
});

test('breaking a dead lock that disappears (with our breaker) during the break is not an error', async () => {
  const { root, target, lock } = await lockedDir();
  await fs.writeFile(lock, JSON.stringify({ pid: DEAD, token: 'dead' }));
  const breaker = `${lock}.break`;
  let raced = 0;
  await patched(
    'readFile',
    (orig) => async (...a) => {
      const text = await orig(...a);
      // The re-check under our breaker: another process removes the lock and our breaker right after.
      if (a[0] === lock && fsSync.existsSync(breaker) && raced++ === 0) {
        fsSync.rmSync(lock, { force: true });
        fsSync.rmSync(breaker, { force: true });
      }
      return text;
    },
    () => within(2000, withDirLock(target, async () => {})),
  );
  assert.equal(raced, 1);
  assert.deepEqual(await fs.readdir(root), []);
  await fs.rm(root, { recursive: true, force: true });
});

test('withAtomicDir: a failing build passes its own error on and leaves no temp folder, even a non-empty one', async () => {
  const { root, target } = await lockedDir();
  await fs.mkdir(target);
  await fs.writeFile(path.join(target, 'old'), 'o');
  await assert.rejects(
    withAtomicDir(target, async (d) => {
      await fs.mkdir(path.join(d, 'deep', 'er'), { recursive: true });
      await fs.writeFile(path.join(d, 'deep', 'er', 'f'), 'x');
      throw new Error('build broke');
    }),
    (e: Error) => e.message === 'build broke',
  );
  assert.deepEqual(await fs.readdir(root), ['out']);
  assert.deepEqual(await fs.readdir(target), ['old']);
  await fs.rm(root, { recursive: true, force: true });
});

test('withAtomicDir: the replaced output (a non-empty folder) is removed after the swap, nothing set aside stays', async () => {
  const { root, target } = await lockedDir();
  await fs.mkdir(path.join(target, 'a', 'b'), { recursive: true });
  await fs.writeFile(path.join(target, 'a', 'b', 'f'), 'old');
  assert.equal(await withAtomicDir(target, async (d) => { await fs.writeFile(path.join(d, 'g'), 'new'); return 5; }), 5);
  assert.deepEqual(await fs.readdir(root), ['out']);
  assert.deepEqual(await fs.readdir(target), ['g']);
  await fs.rm(root, { recursive: true, force: true });
});

test("withAtomicDir first removes a dead run's temp folder (with files), keeping names that carry no pid", async () => {
  const { root, target } = await lockedDir();
  const dead = `${target}.tmp-${DEAD}-abcd`;
  await fs.mkdir(path.join(dead, 'sub'), { recursive: true });
  await fs.writeFile(path.join(dead, 'sub', 'f'), 'half');
  await fs.writeFile(`${target}.tmp-notapid-1`, 'keep');
  await withAtomicDir(target, async (d) => fs.writeFile(path.join(d, 'g'), 'new'));
  assert.deepEqual((await fs.readdir(root)).sort(), ['out', 'out.tmp-notapid-1']);
  await fs.rm(root, { recursive: true, force: true });
});

test('an error after the swap (releasing the lock fails) is passed on as is; the new output is in place', async () => {
  const { root, target, lock } = await lockedDir();
  await fs.mkdir(target);
  await fs.writeFile(path.join(target, 'old'), 'o');
  const denied = Object.assign(new Error('EACCES: permission denied, rm lock'), { code: 'EACCES' });
  await patched(
    'rm',
    (orig) => async (...a) => {
      if (a[0] === lock) throw denied;
      return orig(...a);
    },
    () => assert.rejects(withAtomicDir(target, async (d) => fs.writeFile(path.join(d, 'g'), 'new')), (e: unknown) => e === denied),
  );
  assert.deepEqual(await fs.readdir(target), ['g']);
  await fs.rm(lock, { force: true });
  assert.deepEqual(await fs.readdir(root), ['out']);
  await fs.rm(root, { recursive: true, force: true });
});

test("a dead run's temp that another run removes at the same moment is no error", async () => {
  const { root, target } = await lockedDir();
  const ghost = `out.tmp-${DEAD}-gone`;
  await patched(
    'readdir',
    (orig) => async (...a) => {
      const names = (await orig(...a)) as string[];
      return a[0] === root ? [...names, ghost] : names;
    },
    () => withAtomicDir(target, async (d) => fs.writeFile(path.join(d, 'g'), 'new')),
  );
  assert.deepEqual(await fs.readdir(root), ['out']);
  await fs.rm(root, { recursive: true, force: true });
});

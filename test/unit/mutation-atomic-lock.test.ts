import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { holdDirLock, withAtomicDir, withDirLock, writeFileAtomic } from '../../plugins/modelzoo/src/lib/common/atomic';
import { currentScope, markerContent, OUTPUT_MARKER, readMarker, runInOutputScope } from '../../plugins/modelzoo/src/lib/common/containment';
import { UserError } from '../../plugins/modelzoo/src/lib/common/errors';
import { DEAD, newLockTarget, patched, sleep, within } from '../helpers/lock-staging';

// The per-directory lock of atomic.ts, in-process (Stryker only sees this process). The cases of a
// second process (killed owners, hard-link-less file systems, races) are staged by writing the lock
// file as such a process would, or by failing one fs call through the module object atomic.ts uses.
const lockedDir = () => newLockTarget('mut-lock-');

test('holdDirLock creates <target>.lock naming this pid, and its release removes it', async () => {
  const { root, target, lock } = await lockedDir();
  const release = await holdDirLock(target);
  const owner = JSON.parse(await fs.readFile(lock, 'utf8'));
  assert.equal(owner.pid, process.pid);
  assert.match(owner.token, /^[0-9a-f]{16}$/);
  // The link candidate is gone once the lock is in place.
  assert.deepEqual(await fs.readdir(root), ['out.lock']);
  await release();
  assert.deepEqual(await fs.readdir(root), []);
});

test('a second holder waits until the first releases (withDirLock serializes)', async () => {
  const { target, lock } = await lockedDir();
  const order: string[] = [];
  const first = withDirLock(target, async () => {
    order.push('first-in');
    await sleep(80);
    order.push('first-out');
  });
  await sleep(5);
  const second = withDirLock(target, async () => {
    order.push('second-in');
    assert.equal(JSON.parse(await fs.readFile(lock, 'utf8')).pid, process.pid);
    return 7;
  });
  await first;
  assert.equal(await within(3000, second), 7);
  assert.deepEqual(order, ['first-in', 'first-out', 'second-in']);
  await assert.rejects(fs.stat(lock), { code: 'ENOENT' });
});

test('withDirLock releases the lock when fn throws, and passes the error on', async () => {
  const { target, lock } = await lockedDir();
  await assert.rejects(withDirLock(target, async () => { throw new Error('inner'); }), /inner/);
  await assert.rejects(fs.stat(lock), { code: 'ENOENT' });
});

test('a lock the running stage already holds is not taken again (no self-deadlock)', async () => {
  const { target, lock } = await lockedDir();
  await runInOutputScope('ex', async () => {
    const r = await within(3000, withDirLock(target, () => withDirLock(target, async () => 5)));
    assert.equal(r, 5);
    assert.equal(currentScope()!.held.size, 0);
  });
  await assert.rejects(fs.stat(lock), { code: 'ENOENT' });
  // Inside a scope, the lock is still really taken (and recorded as held while it is).
  await runInOutputScope('ex', async () => {
    await withDirLock(target, async () => {
      assert.equal(JSON.parse(await fs.readFile(lock, 'utf8')).pid, process.pid);
      assert.deepEqual([...currentScope()!.held], [lock]);
    });
  });
});

test('a lock left by a dead process is broken at once, and the breaker file is gone afterwards', async () => {
  const { root, target, lock } = await lockedDir();
  await fs.writeFile(lock, JSON.stringify({ pid: DEAD, token: 'dead' }));
  assert.equal(await within(2000, withDirLock(target, async () => JSON.parse(await fs.readFile(lock, 'utf8')).pid)), process.pid);
  assert.deepEqual(await fs.readdir(root), []);
});

test('a lock held by a live process is waited for, not broken', async () => {
  const { target, lock } = await lockedDir();
  await fs.writeFile(lock, JSON.stringify({ pid: process.pid, token: 'someone-else' }));
  let entered = false;
  const p = withDirLock(target, async () => { entered = true; });
  await sleep(120);
  assert.equal(entered, false);
  assert.equal(JSON.parse(await fs.readFile(lock, 'utf8')).token, 'someone-else');
  await fs.rm(lock);
  await within(3000, p);
  assert.equal(entered, true);
});

for (const [what, content] of [
  ['not JSON', 'garbage'],
  ['a pid that is not an integer', JSON.stringify({ pid: 1.5, token: 'x' })],
  ['a pid given as a string', JSON.stringify({ pid: String(DEAD), token: 'x' })],
  ['no token', JSON.stringify({ pid: DEAD })],
  ['empty (created, never written)', ''],
] as const) {
  test(`a fresh lock of unknown format (${what}) is waited for; once it is old it is broken`, async () => {
    const { root, target, lock } = await lockedDir();
    await fs.writeFile(lock, content);
    let entered = false;
    const p = withDirLock(target, async () => { entered = true; });
    await sleep(60);
    assert.equal(entered, false, 'a fresh unreadable lock is not broken');
    assert.equal(await fs.readFile(lock, 'utf8'), content);
    const old = new Date(Date.now() - 31_000);
    await fs.utimes(lock, old, old);
    await within(3000, p);
    assert.equal(entered, true);
    assert.deepEqual(await fs.readdir(root), []);
  });
}

test('an unreadable lock 29 s old is not broken yet', async () => {
  const { target, lock } = await lockedDir();
  await fs.writeFile(lock, 'garbage');
  const young = new Date(Date.now() - 29_000);
  await fs.utimes(lock, young, young);
  let entered = false;
  const p = withDirLock(target, async () => { entered = true; });
  await sleep(60);
  assert.equal(entered, false);
  await fs.rm(lock);
  await within(3000, p);
});

test('the wait is reported once on stderr (unless MODELZOO_QUIET=1), naming the lock and its owner', async () => {
  const { target, lock } = await lockedDir();
  const saved = process.env['MODELZOO_QUIET'];
  const write = process.stderr.write;
  const said: string[] = [];
  process.stderr.write = ((s: string) => (said.push(String(s)), true)) as typeof process.stderr.write;
  try {
    // Held briefly: no message (the first ~125 ms are quiet).
    process.env['MODELZOO_QUIET'] = '0';
    await fs.writeFile(lock, JSON.stringify({ pid: process.pid, token: 'other' }));
    let p = withDirLock(target, async () => {});
    await sleep(50);
    await fs.rm(lock);
    await within(3000, p);
    assert.deepEqual(said, []);
    // Held long: exactly one message.
    await fs.writeFile(lock, JSON.stringify({ pid: process.pid, token: 'other' }));
    p = withDirLock(target, async () => {});
    await sleep(900);
    await fs.rm(lock);
    await within(3000, p);
    assert.deepEqual(said, [`waiting for ${lock} (held by pid ${process.pid}, another run writing the same output)\n`]);
    // An owner that cannot be read is 'unknown'.
    said.length = 0;
    await fs.writeFile(lock, 'garbage');
    p = withDirLock(target, async () => {});
    await sleep(400);
    await fs.rm(lock);
    await within(3000, p);
    assert.deepEqual(said, [`waiting for ${lock} (held by pid unknown, another run writing the same output)\n`]);
    // Quiet: nothing.
    said.length = 0;
    process.env['MODELZOO_QUIET'] = '1';
    await fs.writeFile(lock, JSON.stringify({ pid: process.pid, token: 'other' }));
    p = withDirLock(target, async () => {});
    await sleep(400);
    await fs.rm(lock);
    await within(3000, p);
    assert.deepEqual(said, []);
  } finally {
    process.stderr.write = write;
    if (saved === undefined) delete process.env['MODELZOO_QUIET'];
    else process.env['MODELZOO_QUIET'] = saved;
  }
});

test('the retry delay grows: a lock held 400 ms is polled a handful of times, not hundreds', async () => {
  const { target, lock } = await lockedDir();
  await fs.writeFile(lock, JSON.stringify({ pid: process.pid, token: 'other' }));
  let reads = 0;
  await patched('readFile', (orig) => async (...a) => {
    if (a[0] === lock) reads++;
    return orig(...a);
  }, async () => {
    const p = withDirLock(target, async () => {});
    await sleep(400);
    await fs.rm(lock);
    await within(3000, p);
  });
  // 2, 4, ... 128, then 200 ms steps: about 9 polls; a delay that never grows would poll ~200 times,
  // one that starts at the cap only 2-3 times.
  assert.ok(reads >= 6 && reads <= 14, `polled ${reads} times`);
});

test('release leaves a lock that is no longer ours (replaced meanwhile) in place', async () => {
  const { target, lock } = await lockedDir();
  const release = await holdDirLock(target);
  const other = JSON.stringify({ pid: process.pid, token: 'someone-else' });
  await fs.writeFile(lock, other);
  await release();
  assert.equal(await fs.readFile(lock, 'utf8'), other);
  await fs.rm(lock);
  // And a lock already gone is not an error.
  const again = await holdDirLock(target);
  await fs.rm(lock);
  await again();
  await fs.writeFile(lock, 'garbage');
  const third = holdDirLock(target);
  await fs.rm(lock);
  await (await within(3000, third))();
});

test('a lock released between the failed link and the read is retried at once', async () => {
  const { root, target, lock } = await lockedDir();
  await fs.writeFile(lock, JSON.stringify({ pid: process.pid, token: 'other' }));
  let vanished = false;
  const created: string[] = [];
  await patched('readFile', (orig) => async (...a) => {
    if (a[0] === lock && !vanished) {
      vanished = true;
      await fs.rm(lock);
    }
    return orig(...a);
  }, () => patched('writeFile', (orig) => async (...a) => {
    created.push(path.basename(String(a[0])));
    return orig(...a);
  }, async () => {
    const t0 = Date.now();
    await within(3000, withDirLock(target, async () => {}));
    assert.ok(Date.now() - t0 < 1000);
  }));
  assert.equal(vanished, true);
  // Never treated as a dead owner (no breaker) or as unreadable.
  assert.ok(!created.includes('out.lock.break'), created.join(','));
  assert.deepEqual(await fs.readdir(root), []);
});

test('breaking a dead lock never removes a fresh lock that replaced it meanwhile', async () => {
  const { target, lock } = await lockedDir();
  await fs.writeFile(lock, JSON.stringify({ pid: DEAD, token: 'dead' }));
  let reads = 0;
  let freshRemovedByUs = false;
  await patched('readFile', (orig) => async (...a) => {
    // The second read is the breaker's re-check: by then another waiter has taken the lock.
    if (a[0] === lock && ++reads === 2) await fs.writeFile(lock, JSON.stringify({ pid: process.pid, token: 'fresh' }));
    return orig(...a);
  }, async () => {
    const p = withDirLock(target, async () => {
      assert.equal(freshRemovedByUs, true, 'entered while the fresh lock was held');
    });
    await sleep(80);
    assert.equal(JSON.parse(await fs.readFile(lock, 'utf8')).token, 'fresh');
    freshRemovedByUs = true;
    await fs.rm(lock);
    await within(3000, p);
  });
});

test('a breaker left by a dead process is removed, then the dead lock is broken', async () => {
  const { root, target, lock } = await lockedDir();
  await fs.writeFile(lock, JSON.stringify({ pid: DEAD, token: 'dead' }));
  await fs.writeFile(`${lock}.break`, String(DEAD));
  await within(2000, withDirLock(target, async () => {}));
  assert.deepEqual(await fs.readdir(root), []);
});

test('a breaker held by a live process is respected while fresh, removed once 10 s old', async () => {
  const { root, target, lock } = await lockedDir();
  await fs.writeFile(lock, JSON.stringify({ pid: DEAD, token: 'dead' }));
  const breaker = `${lock}.break`;
  await fs.writeFile(breaker, String(process.pid));
  let entered = false;
  const p = withDirLock(target, async () => { entered = true; });
  await sleep(80);
  assert.equal(entered, false);
  assert.equal(await fs.readFile(breaker, 'utf8'), String(process.pid));
  const old = new Date(Date.now() - 11_000);
  await fs.utimes(breaker, old, old);
  await within(2000, p);
  assert.equal(entered, true);
  assert.deepEqual(await fs.readdir(root), []);
});

for (const [what, content] of [['empty', ''], ['pid 0', '0'], ['not a number', 'x1']] as const) {
  test(`a breaker that names no live process (${what}) is removed only once 10 s old`, async () => {
    const { root, target, lock } = await lockedDir();
    await fs.writeFile(lock, JSON.stringify({ pid: DEAD, token: 'dead' }));
    const breaker = `${lock}.break`;
    await fs.writeFile(breaker, content);
    let entered = false;
    const p = withDirLock(target, async () => { entered = true; });
    await sleep(60);
    assert.equal(entered, false);
    const old = new Date(Date.now() - 11_000);
    await fs.utimes(breaker, old, old);
    await within(2000, p);
    assert.deepEqual(await fs.readdir(root), []);
  });
}

test('a breaker that cannot be created for another reason than EEXIST is an error', async () => {
  const { target, lock } = await lockedDir();
  await fs.writeFile(lock, JSON.stringify({ pid: DEAD, token: 'dead' }));
  await patched('writeFile', (orig) => async (...a) => {
    if (a[0] === `${lock}.break`) throw Object.assign(new Error('no space'), { code: 'ENOSPC' });
    return orig(...a);
  }, async () => {
    await assert.rejects(within(2000, withDirLock(target, async () => {})), { code: 'ENOSPC' });
  });
});

for (const code of ['EPERM', 'ENOTSUP', 'ENOSYS']) {
  test(`without hard links (link fails ${code}) the lock is made by exclusive create`, async () => {
    const { root, target, lock } = await lockedDir();
    await patched('link', () => async () => { throw Object.assign(new Error(code), { code }); }, async () => {
      const release = await within(2000, holdDirLock(target));
      const owner = JSON.parse(await fs.readFile(lock, 'utf8'));
      assert.equal(owner.pid, process.pid);
      assert.deepEqual(await fs.readdir(root), ['out.lock']);
      // A second taker sees it exists (exclusive create fails) and waits.
      let entered = false;
      const p = withDirLock(target, async () => { entered = true; });
      await sleep(60);
      assert.equal(entered, false);
      await release();
      await within(3000, p);
      assert.equal(entered, true);
    });
    assert.deepEqual(await fs.readdir(root), []);
  });
}

test('any other link error is an error, and no lock candidate is left behind', async () => {
  const { root, target } = await lockedDir();
  await patched('link', () => async () => { throw Object.assign(new Error('io'), { code: 'EIO' }); }, async () => {
    await assert.rejects(holdDirLock(target), { code: 'EIO' });
  });
  assert.deepEqual(await fs.readdir(root), []);
});

test('an exclusive-create failure other than EEXIST is an error', async () => {
  const { target, lock } = await lockedDir();
  await patched('link', () => async () => { throw Object.assign(new Error('perm'), { code: 'EPERM' }); }, () =>
    patched('writeFile', (orig) => async (...a) => {
      if (a[0] === lock) throw Object.assign(new Error('ro'), { code: 'EROFS' });
      return orig(...a);
    }, async () => {
      await assert.rejects(holdDirLock(target), { code: 'EROFS' });
    }));
});

test('withAtomicDir puts the old output back when the swap fails, and removes its temp', async () => {
  const { root, target } = await lockedDir();
  await withAtomicDir(target, async (d) => fs.writeFile(path.join(d, 'old'), 'o'));
  await patched('rename', (orig) => async (...a) => {
    if (a[1] === target && String(a[0]).includes('.tmp-') && !String(a[0]).endsWith('.old')) throw Object.assign(new Error('swap'), { code: 'EXDEV' });
    return orig(...a);
  }, async () => {
    await assert.rejects(withAtomicDir(target, async (d) => fs.writeFile(path.join(d, 'new'), 'n')), /swap/);
  });
  assert.deepEqual(await fs.readdir(target), ['old']);
  assert.deepEqual(await fs.readdir(root), ['out']);
});

test('withAtomicDir removes a half-built temp folder (with files in it) when build throws', async () => {
  const { root, target } = await lockedDir();
  await assert.rejects(withAtomicDir(target, async (d) => {
    await fs.mkdir(path.join(d, 'sub'));
    await fs.writeFile(path.join(d, 'sub', 'f'), 'x');
    throw new Error('build broke');
  }), /build broke/);
  assert.deepEqual(await fs.readdir(root), []);
});

test('withAtomicDir removes the replaced output (a non-empty folder) after the swap', async () => {
  const { root, target } = await lockedDir();
  await withAtomicDir(target, async (d) => {
    await fs.mkdir(path.join(d, 'sub'));
    await fs.writeFile(path.join(d, 'sub', 'f'), 'x');
  });
  await withAtomicDir(target, async (d) => fs.writeFile(path.join(d, 'g'), 'y'));
  assert.deepEqual(await fs.readdir(root), ['out']);
  assert.deepEqual(await fs.readdir(target), ['g']);
});

test('inside a stage, withAtomicDir marks its output and refuses to replace another stage\'s output', async () => {
  const { root, target } = await lockedDir();
  await runInOutputScope('dataset-prep', async () => {
    currentScope()!.claimed.add(path.resolve(target));
    await withAtomicDir(target, async (d) => fs.writeFile(path.join(d, 'a'), '1'));
  });
  assert.deepEqual((await fs.readdir(target)).sort(), [OUTPUT_MARKER, 'a'].sort());
  assert.equal(await fs.readFile(path.join(target, OUTPUT_MARKER), 'utf8'), markerContent('dataset-prep'));
  assert.equal(await readMarker(target), 'dataset-prep');
  await runInOutputScope('report', async () => {
    currentScope()!.claimed.add(path.resolve(target));
    await assert.rejects(withAtomicDir(target, async (d) => fs.writeFile(path.join(d, 'b'), '2')), (e: Error) =>
      e instanceof UserError && /written by the dataset-prep executor, not report/.test(e.message));
  });
  assert.deepEqual((await fs.readdir(target)).sort(), [OUTPUT_MARKER, 'a'].sort());
  assert.deepEqual(await fs.readdir(root), ['out']);
  // Outside a stage nothing is marked.
  const plain = path.join(root, 'plain');
  await withAtomicDir(plain, async (d) => fs.writeFile(path.join(d, 'p'), '1'));
  assert.deepEqual(await fs.readdir(plain), ['p']);
});

test('writeFileAtomic passes on the write error itself (the missing temp is not an error)', async () => {
  const { root } = await lockedDir();
  const target = path.join(root, 'f.txt');
  await patched('writeFile', (orig) => async (...a) => {
    if (String(a[0]).includes('.tmp-')) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
    return orig(...a);
  }, async () => {
    await assert.rejects(writeFileAtomic(target, 'x'), /disk full/);
  });
  assert.deepEqual(await fs.readdir(root), []);
});

test('a swap that fails with no previous output passes its own error on', async () => {
  const { root, target } = await lockedDir();
  await patched('rename', (orig) => async (...a) => {
    if (a[1] === target && typeof a[0] === 'string' && a[0].includes('.tmp-')) throw Object.assign(new Error('swap'), { code: 'EXDEV' });
    return orig(...a);
  }, async () => {
    await assert.rejects(withAtomicDir(target, async (d) => fs.writeFile(path.join(d, 'new'), 'n')), { message: 'swap' });
  });
  assert.deepEqual(await fs.readdir(root), []);
});

test('release of a lock that became unreadable leaves it alone (no error)', async () => {
  const { target, lock } = await lockedDir();
  const release = await holdDirLock(target);
  await fs.writeFile(lock, 'garbage');
  await release();
  assert.equal(await fs.readFile(lock, 'utf8'), 'garbage');
});

for (const content of ['1.5', '-999999']) {
  test(`a fresh breaker naming no valid pid (${content}) is respected`, async () => {
    const { target, lock } = await lockedDir();
    await fs.writeFile(lock, JSON.stringify({ pid: DEAD, token: 'dead' }));
    await fs.writeFile(`${lock}.break`, content);
    let entered = false;
    const p = withDirLock(target, async () => { entered = true; });
    await sleep(60);
    assert.equal(entered, false);
    assert.equal(await fs.readFile(`${lock}.break`, 'utf8'), content);
    await fs.rm(`${lock}.break`);
    await within(2000, p);
  });
}

test('a dead lock that turned unreadable before the re-check is waited for, not broken', async () => {
  const { target, lock } = await lockedDir();
  await fs.writeFile(lock, JSON.stringify({ pid: DEAD, token: 'dead' }));
  let reads = 0;
  await patched('readFile', (orig) => async (...a) => {
    if (a[0] === lock && ++reads === 2) await fs.writeFile(lock, 'garbage');
    return orig(...a);
  }, async () => {
    let entered = false;
    const p = withDirLock(target, async () => { entered = true; });
    await sleep(60);
    assert.equal(entered, false);
    assert.equal(await fs.readFile(lock, 'utf8'), 'garbage');
    await fs.rm(lock);
    await within(3000, p);
  });
});

test('a lock that cannot be read (a directory) is waited for with the growing delay', async () => {
  const { target, lock } = await lockedDir();
  await fs.mkdir(lock);
  let reads = 0;
  await patched('readFile', (orig) => async (...a) => {
    if (a[0] === lock) reads++;
    return orig(...a);
  }, async () => {
    const p = withDirLock(target, async () => {});
    await sleep(300);
    await fs.rmdir(lock);
    await within(3000, p);
  });
  assert.ok(reads >= 4 && reads <= 14, `polled ${reads} times`);
});

test('a lock released meanwhile is not taken for an unreadable one (its age is never checked)', async () => {
  const { target, lock } = await lockedDir();
  await fs.writeFile(lock, JSON.stringify({ pid: process.pid, token: 'other' }));
  let vanished = false;
  const statted: string[] = [];
  await patched('readFile', (orig) => async (...a) => {
    if (a[0] === lock && !vanished) {
      vanished = true;
      await fs.rm(lock);
    }
    return orig(...a);
  }, () => patched('stat', (orig) => async (...a) => {
    statted.push(String(a[0]));
    return orig(...a);
  }, async () => {
    await within(3000, withDirLock(target, async () => {}));
  }));
  assert.equal(vanished, true);
  assert.ok(!statted.includes(lock), statted.join(','));
});

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { assertReplaceable, currentScope, markerContent, OUTPUT_MARKER, outputClaim, realResolve } from './containment';

/**
 * Every output is written beside its final path under a temp name and renamed into place, so a task
 * killed mid-write never leaves a half-written file for Nx to cache or a later stage to read.
 */
function tempSibling(target: string): string {
  return `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = tempSibling(target);
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  await writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Builds a whole output directory in a temp sibling, then swaps it in. The previous directory (if any)
 * is removed only after the new one is complete. The swap holds the directory's lock, so two processes
 * writing the same output never interleave: the last one to finish wins, whole. Inside an executor
 * (runStage), the target must be a declared output; the marker is written into the temp directory
 * before the swap, so the output (and what Nx caches of it) always carries it, and the target is
 * checked again under the lock to still be ours to replace.
 */
export async function withAtomicDir<T>(target: string, build: (tmpDir: string) => Promise<T>): Promise<T> {
  const claim = outputClaim(target);
  await fs.mkdir(path.dirname(target), { recursive: true });
  await removeStaleTemps(target);
  const tmp = tempSibling(target);
  // Stryker disable next-line ObjectLiteral,BooleanLiteral: the parent was made above and the random name is new, so a plain mkdir does the same
  await fs.mkdir(tmp, { recursive: true });
  let old: string | undefined;
  try {
    const result = await build(tmp);
    if (claim) await fs.writeFile(path.join(tmp, OUTPUT_MARKER), markerContent(claim.executor));
    await withDirLock(target, async () => {
      if (claim) await assertReplaceable(target, claim.executor);
      let aside: string | undefined;
      if (await lexists(target)) {
        aside = tempSibling(target) + '.old';
        await fs.rename(target, aside);
      }
      try {
        await fs.rename(tmp, target);
      } catch (err) {
        if (aside) await fs.rename(aside, target);
        throw err;
      }
      old = aside;
    });
    return result;
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    // Outside the lock: removing a large old output must not hold up the other writer.
    if (old) {
      await fs.rm(old, {
        recursive: true,
        // Stryker disable next-line BooleanLiteral: the set-aside folder exists: it carries this live process's pid, so no other run's removeStaleTemps takes it
        force: true,
      });
    }
  }
}

/**
 * Runs `fn` holding `<target>.lock`, created atomically (link of a complete temp file, so it is
 * never seen half written) with this process's pid. A lock whose pid is dead (a killed run) is broken;
 * a live one is waited for. Within one stage, a lock the stage already holds is not taken again.
 */
export async function withDirLock<T>(target: string, fn: () => Promise<T>): Promise<T> {
  const release = await holdDirLock(target);
  try {
    return await fn();
  } finally {
    await release();
  }
}

/** Takes the lock of an output directory until the returned release is called (see withDirLock). */
export async function holdDirLock(target: string): Promise<() => Promise<void>> {
  // The real path: a symlinked parent must not give one directory two lock files.
  const lock = (await realResolve(target)) + '.lock';
  const s = currentScope();
  if (s?.held.has(lock)) return async () => {};
  const release = await acquireLock(lock);
  s?.held.add(lock);
  return async () => {
    s?.held.delete(lock);
    await release();
  };
}

interface LockOwner {
  pid: number;
  token: string;
}

async function acquireLock(lock: string): Promise<() => Promise<void>> {
  await fs.mkdir(path.dirname(lock), { recursive: true });
  // Lock candidates of killed processes (`<lock>.tmp-<pid>-...`) are removed like any other temp.
  await removeStaleTemps(lock);
  const me: LockOwner = { pid: process.pid, token: randomBytes(8).toString('hex') };
  let delay = 2;
  let told = false;
  for (;;) {
    if (await tryLink(lock, JSON.stringify(me))) break;
    const owner = await readLockOwner(lock);
    if (owner === 'gone') continue;
    if (owner === undefined) {
      // Not our format (made by hand, or a disk fault): broken once it has sat there a while.
      await removeIfOlder(lock, 30_000);
    } else if (!pidAlive(owner.pid)) {
      await breakStaleLock(lock, owner);
      continue;
    }
    if (
      !told &&
      // Stryker disable next-line EqualityOperator: the delay runs 2, 4, ..., 64, 128, 200, never exactly 100
      delay >= 100 &&
      process.env['MODELZOO_QUIET'] !== '1'
    ) {
      process.stderr.write(`waiting for ${lock} (held by pid ${owner?.pid ?? 'unknown'}, another run writing the same output)\n`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 200);
  }
  return async () => {
    const owner = await readLockOwner(lock);
    if (typeof owner === 'object' && owner.token === me.token) await fs.rm(lock, { force: true });
  };
}

/** Creates `lock` with `content` atomically (a complete temp file hard-linked into place); false if it exists. */
async function tryLink(lock: string, content: string): Promise<boolean> {
  const candidate = tempSibling(lock);
  await fs.writeFile(candidate, content);
  try {
    await fs.link(candidate, lock);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw err;
  } finally {
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: the candidate was written just above under a name only this process uses, so it exists
    await fs.rm(candidate, { force: true });
  }
  // A file system without hard links: exclusive create, then write (a reader may briefly see it
  // empty; an unreadable lock is only broken after a while, see acquireLock).
  try {
    await fs.writeFile(lock, content, { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** The lock's owner; 'gone' when it was released meanwhile; undefined when unreadable. */
async function readLockOwner(lock: string): Promise<LockOwner | 'gone' | undefined> {
  let text: string;
  try {
    // Stryker disable next-line StringLiteral: without an encoding the Buffer reaches JSON.parse, which decodes it as UTF-8 all the same
    text = await fs.readFile(lock, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : undefined;
  }
  // Stryker disable BlockStatement: an emptied catch block falls through and returns undefined all the same
  try {
    const o = JSON.parse(text) as LockOwner;
    return Number.isInteger(o.pid) && typeof o.token === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

// Stryker restore BlockStatement

async function removeIfOlder(file: string, ms: number): Promise<void> {
  const st = await fs.stat(file).catch(() => undefined);
  if (st && Date.now() - st.mtimeMs > ms) await fs.rm(file, { force: true });
}

/**
 * Two waiters may find the same dead owner; only one may remove the lock, and never a fresh lock
 * that replaced it meanwhile. So breaking is itself serialized by `<lock>.break` (held for a few
 * syscalls) and removes the lock only while it still names the dead owner.
 */
async function breakStaleLock(lock: string, dead: LockOwner): Promise<void> {
  const breaker = `${lock}.break`;
  try {
    await fs.writeFile(breaker, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Stryker disable next-line StringLiteral,ArrowFunction: Number(Buffer) parses the same text; '' (0), undefined or junk (NaN) all fail the pid > 0 check below
    const pid = Number(await fs.readFile(breaker, 'utf8').catch(() => ''));
    // Stryker disable next-line EqualityOperator: pid 0 would reach pidAlive(0), which signals our own process group (alive), so it takes the else branch as well
    if (Number.isInteger(pid) && pid > 0 && !pidAlive(pid)) await fs.rm(breaker, { force: true });
    // Created but never written (its process died in between).
    else await removeIfOlder(breaker, 10_000);
    await new Promise((r) => setTimeout(r, 5));
    return;
  }
  try {
    const now = await readLockOwner(lock);
    if (typeof now === 'object' && now.token === dead.token) await fs.rm(lock, { force: true });
  } finally {
    await fs.rm(breaker, { force: true });
  }
}

async function lexists(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    // Stryker disable next-line ArrowFunction: undefined is falsy like false for the only caller (if (await lexists(...)))
    () => false,
  );
}

/** Temp siblings left by a killed run (its pid is gone) are removed before a new run starts. */
export async function removeStaleTemps(target: string): Promise<void> {
  const dir = path.dirname(target);
  const prefix = `${path.basename(target)}.tmp-`;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (
      Number.isInteger(pid) &&
      // Stryker disable next-line ConditionalExpression: pidAlive(process.pid) is true, so our own temps are kept without this check too (it saves a syscall)
      pid !== process.pid &&
      !pidAlive(pid)
    ) {
      await fs.rm(path.join(dir, name), { recursive: true, force: true });
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function readJson<T>(file: string, what: string): Promise<T> {
  let text: string;
  try {
    // Stryker disable next-line StringLiteral: without an encoding the Buffer reaches JSON.parse, which decodes it as UTF-8 all the same
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${what}: cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${what}: ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

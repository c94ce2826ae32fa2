import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

// Staging another process's side of atomic.ts's directory lock, in-process: a pid no process has, a
// deadline for waits that a mutant may never end, fs calls patched through the module object atomic.ts
// uses, and a fresh lock target. Shared by mutation-atomic-lock.test.ts and mutation-dataset-atomic.test.ts.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const fsm = require('node:fs/promises') as Record<string, unknown>;

/** A pid no live process has (the owner of a lock left behind by a killed process). */
export const DEAD = 999_999;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rejects instead of hanging when a mutant never acquires (or never releases) the lock. */
export function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms);
    }),
  ]);
}

type FsCall = (...a: unknown[]) => Promise<unknown>;

/** Runs fn with fs.promises[name] replaced by impl(original), for every module; restored afterwards. */
export async function patched<T>(name: string, impl: (orig: FsCall) => FsCall, fn: () => Promise<T>): Promise<T> {
  const orig = fsm[name] as FsCall;
  fsm[name] = impl(orig);
  try {
    return await fn();
  } finally {
    fsm[name] = orig;
  }
}

/** A new temp dir (real path) `root`, the lock target `root/out` and its lock file `root/out.lock`. */
export async function newLockTarget(prefix: string): Promise<{ root: string; target: string; lock: string }> {
  const root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), prefix)));
  const target = path.join(root, 'out');
  return { root, target, lock: `${target}.lock` };
}

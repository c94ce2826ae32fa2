import * as fs from 'node:fs';

/** An error meant for the user: its message is the whole story, so executors print it without a stack. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/**
 * What a failed task prints. Stack traces are for the plugin's developers (MODELZOO_DEBUG=1); a user
 * gets the message, and a file-system error is turned into a sentence naming the path and the fix.
 */
export function describeError(err: unknown): string {
  const debug = process.env['MODELZOO_DEBUG'] === '1';
  if (err instanceof UserError) return err.message;
  if (err instanceof Error) {
    if (debug) return err.stack ?? err.message;
    return `${describeFsError(err) ?? err.message}${debugHint(err)}`;
  }
  return String(err);
}

function debugHint(err: Error): string {
  return isFsError(err) ? '' : ' (set MODELZOO_DEBUG=1 to see where it was raised)';
}

function isFsError(err: Error): err is NodeJS.ErrnoException & { path: string } {
  const e = err as NodeJS.ErrnoException;
  return typeof e.code === 'string' && typeof e.path === 'string' && e.code in FS_ERRORS;
}

const FS_ERRORS: Record<string, (p: string, dest?: string) => string> = {
  ENOENT: (p) =>
    isDanglingLink(p)
      ? `${p} is a symbolic link to a path that does not exist: fix or remove the link`
      : `${p} does not exist: check the path (relative paths are from the workspace root)`,
  EACCES: (p) => `permission denied on ${p}: check its permissions (and its folder's)`,
  EPERM: (p) => `operation not permitted on ${p}: check its permissions and owner`,
  ELOOP: (p) => `${p} is a loop of symbolic links: fix or remove the link`,
  ENOTDIR: (p) => `${p}: a part of this path is a file where a folder was expected`,
  EISDIR: (p) => `${p} is a folder where a file was expected`,
  ENOSPC: (p) => `no space left on the device while writing ${p}: free some space and rerun`,
  EROFS: (p) => `${p} is on a read-only file system`,
  ENAMETOOLONG: (p) => `the path ${p.slice(0, 200)}... is too long`,
  EMFILE: (p) => `too many open files while opening ${p}: raise the limit (ulimit -n) or lower the option 'concurrency'`,
  ENOTEMPTY: (p, d) => `${d ?? p} is a non-empty folder and cannot be replaced`,
};

/** A sentence for a Node file-system error (it carries `code` and `path`), or undefined for any other error. */
export function describeFsError(err: unknown): string | undefined {
  if (!(err instanceof Error) || !isFsError(err)) return undefined;
  const dest = (err as { dest?: unknown }).dest;
  return FS_ERRORS[err.code!]!(err.path, typeof dest === 'string' ? dest : undefined);
}

function isDanglingLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink() && !fs.existsSync(p);
  } catch {
    return false;
  }
}

import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { UserError } from './errors';

/**
 * An artefact whose bytes are not the ones its producer recorded: a corrupted file (same size or not),
 * or one replaced by hand. The message names the file and the command that makes it again.
 */
export class IntegrityError extends UserError {
  constructor(
    readonly file: string,
    what: string,
    expected: string,
    actual: string,
    producer?: string,
  ) {
    super(
      `${what} ${file} does not match the sha256 its producer recorded (expected ${expected.slice(0, 16)}…, got ${actual.slice(0, 16)}…): ` +
        `the file was changed or corrupted after it was written. ` +
        (producer ? `Make it again: npx nx run ${producer} --skip-nx-cache` : 'Make it again with --skip-nx-cache on the task that wrote it.'),
    );
    this.name = 'IntegrityError';
  }
}

/** Throws IntegrityError unless sha256(data) is `expected`. */
export function verifyBytes(data: Uint8Array, expected: string, file: string, what: string, producer?: string): void {
  const actual = createHash('sha256').update(data).digest('hex');
  if (actual !== expected) throw new IntegrityError(file, what, expected, actual, producer);
}

/**
 * Reads `file` once and returns its bytes only when they hash to `sha256`, the value the producing task
 * recorded (build.json, model-card.json, a dataset manifest). `producer` is `project:target` for the
 * message. Hashing the buffer just read costs one pass over memory, not a second read.
 */
export async function readVerified(file: string, sha256: string, what: string, producer?: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await fs.readFile(file);
  } catch (err) {
    throw new UserError(
      `${what} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` +
        (producer ? `; make it again: npx nx run ${producer} --skip-nx-cache` : ''),
    );
  }
  verifyBytes(data, sha256, file, what, producer);
  return data;
}

/** Like readVerified for files too large to hold: streams the file through the hash. */
export async function verifyFile(file: string, sha256: string, what: string, producer?: string): Promise<void> {
  const h = createHash('sha256');
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, 'r');
  } catch (err) {
    throw new UserError(
      `${what} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` +
        (producer ? `; make it again: npx nx run ${producer} --skip-nx-cache` : ''),
    );
  }
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  const actual = h.digest('hex');
  if (actual !== sha256) throw new IntegrityError(file, what, sha256, actual, producer);
}

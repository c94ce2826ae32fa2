import * as fs from 'node:fs/promises';
import { UserError } from './errors';

/**
 * Caps on untrusted inputs that come from the environment (one place, documented in
 * docs/safety.md): a positive integer, else the default; anything else is a user error
 * naming the variable.
 */
export function readLimit(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = Number(raw.trim());
  if (!Number.isSafeInteger(v) || v < 1) throw new UserError(`environment variable ${name}: expected a positive integer, got ${JSON.stringify(raw)}`);
  return v;
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/**
 * Most bytes a container's contents may expand to in memory: inflated zip members (.pth, .npz), HDF5
 * datasets (.h5). MODELZOO_MAX_ARCHIVE_BYTES, default 1 GiB (MobileNetV2's checkpoints hold ~14 MB).
 */
export function maxArchiveBytes(): number {
  return readLimit('MODELZOO_MAX_ARCHIVE_BYTES', 2 ** 30);
}

/** Largest model/checkpoint file read into memory (MODELZOO_MAX_FILE_BYTES, default 2 GiB: protobuf's own limit). */
export function maxFileBytes(): number {
  return readLimit('MODELZOO_MAX_FILE_BYTES', 2 * 2 ** 30);
}

/** Reads a whole untrusted file after checking its size against maxFileBytes(). */
export async function readFileBounded(file: string, what: string): Promise<Uint8Array> {
  let size: number;
  try {
    size = (await fs.stat(file)).size;
  } catch (err) {
    throw new UserError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
  const cap = maxFileBytes();
  if (size > cap) {
    throw new UserError(`${what} ${file} is ${formatBytes(size)}, more than ${formatBytes(cap)}; refused (set MODELZOO_MAX_FILE_BYTES to raise the cap)`);
  }
  try {
    return new Uint8Array(await fs.readFile(file));
  } catch (err) {
    throw new UserError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

import { Unzip, UnzipInflate, type UnzipFile } from 'fflate';
import { formatBytes, maxArchiveBytes, readLimit } from './limits';

/**
 * Zip archives from untrusted files (torch `.pth`, numpy `.npz`) inflated under caps: at most
 * `maxEntries` members and `maxBytes` inflated in all. Sizes are counted as the data streams out of
 * the inflater, never taken from the headers (a 2 MB archive can declare or hold gigabytes): a member
 * is refused as soon as it inflates past its declared size or the total passes the cap, so memory
 * stays within the cap whatever the archive claims.
 */
export interface ZipLimits {
  maxEntries: number;
  maxBytes: number;
}

export function defaultZipLimits(): ZipLimits {
  return {
    maxEntries: readLimit('MODELZOO_MAX_ARCHIVE_ENTRIES', 65_536),
    maxBytes: maxArchiveBytes(),
  };
}

export class ZipLimitError extends Error {}

/** Push granularity: at deflate's ~1000:1 best ratio a 16 KiB chunk inflates to at most ~16 MiB. */
const CHUNK = 16 * 1024;

export function unzipBounded(data: Uint8Array, where: string, limits: ZipLimits = defaultZipLimits()): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  let entries = 0;
  let total = 0;
  let failure: Error | undefined;
  const unzip = new Unzip();
  unzip.register(UnzipInflate);
  unzip.onfile = (file: UnzipFile) => {
    if (failure) return;
    if (++entries > limits.maxEntries) {
      failure = new ZipLimitError(
        `${where}: archive has more than ${limits.maxEntries} members; refused (set MODELZOO_MAX_ARCHIVE_ENTRIES to raise the cap)`,
      );
      return;
    }
    if (file.compression !== 0 && file.compression !== 8) {
      failure = new Error(`${where}: member ${file.name} uses zip compression method ${file.compression}; only stored and deflate are read`);
      return;
    }
    const declared = file.originalSize;
    if (declared !== undefined && total + declared > limits.maxBytes) {
      failure = new ZipLimitError(
        `${where}: zip member ${file.name} declares ${formatBytes(declared)}, past the cap of ${formatBytes(limits.maxBytes)} in all; ` + REFUSAL,
      );
      return;
    }
    const parts: Uint8Array[] = [];
    let got = 0;
    file.ondata = (err, chunk, final) => {
      if (failure) return;
      if (err) {
        failure = new Error(`${where}: corrupt zip member ${file.name}: ${err.message}`);
        return;
      }
      got += chunk.length;
      total += chunk.length;
      if (declared !== undefined && got > declared) {
        failure = new ZipLimitError(`${where}: zip member ${file.name} inflates past its declared ${declared} bytes; refused as corrupt or hostile`);
      } else if (total > limits.maxBytes) {
        failure = new ZipLimitError(`${where}: zip member ${file.name} inflates past the cap of ${formatBytes(limits.maxBytes)} in all; ` + REFUSAL);
      }
      if (failure) {
        parts.length = 0;
        file.terminate();
        return;
      }
      parts.push(chunk);
      if (final) out[file.name] = concat(parts, got);
    };
    file.start();
  };
  try {
    for (let p = 0; p < data.length && !failure; p += CHUNK) unzip.push(data.subarray(p, p + CHUNK), p + CHUNK >= data.length);
  } catch (err) {
    failure ??= new Error(`${where}: corrupt zip archive: ${(err as Error).message}`);
  }
  if (failure) throw failure;
  // An archive of no members is an end-of-central-directory record alone (what np.savez() writes with
  // no arrays); anything else without a member is not a zip file.
  if (entries === 0 && !isEmptyZip(data)) throw new Error(`${where}: corrupt zip archive: no members`);
  return out;
}

const REFUSAL = 'refused as a possible zip bomb (set MODELZOO_MAX_ARCHIVE_BYTES to raise the cap for a trusted file)';

function concat(parts: Uint8Array[], n: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function isEmptyZip(data: Uint8Array): boolean {
  return data.length === 22 && data[0] === 0x50 && data[1] === 0x4b && data[2] === 0x05 && data[3] === 0x06 && data[10] === 0 && data[11] === 0;
}

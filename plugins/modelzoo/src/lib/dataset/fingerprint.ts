import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { UserError } from '../common/errors';

/**
 * Content identity of a dataset: the label file's bytes plus, for every image the label file lists,
 * its name as listed and the sha256 of its bytes (or that it is absent). No folder path and no time
 * enter it, so the same images and labels at another path, copied with other mtimes, are the same
 * dataset, and a changed byte in any listed image or label is a different one. Files the label file
 * does not list are never read by dataset-prep and do not count.
 *
 * Hashing 6.4 GB of ImageNet val on every Nx run would cost a minute, so per-file hashes are kept in
 * an index (FingerprintIndex) keyed by the file's size, mtime, ctime (ns), inode and device: an
 * unchanged folder costs one stat per image. A rewrite changes the ctime even when size and mtime are
 * restored (`touch -d`), so the index misses only writes that bypass the inode's ctime (a raw block
 * device, a clock set back to the same nanosecond); `MODELZOO_FINGERPRINT_INDEX=off` rehashes everything.
 */
export interface DatasetFingerprint {
  fingerprint: string;
  /** Images listed (unique names). */
  images: number;
  /** Images whose hash was read from the index instead of their bytes. */
  fromIndex: number;
  /** Listed images that do not exist (dataset-prep fails on them, or skips them with skipCorrupt). */
  missing: number;
}

export interface FingerprintOptions {
  /** Folder of per-dataset index files (inside the workspace, gitignored); no index when absent. */
  indexDir?: string;
  /** Files hashed at once (default 16). */
  concurrency?: number;
}

/** The unreadable case, named so runtime inputs and executors can tell it from a bug. */
export class FingerprintError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'FingerprintError';
  }
}

const FORMAT = 'modelzoo-dataset/2';
/** Index files kept per workspace; the least recently used beyond this are removed. */
const MAX_INDEX_FILES = 16;
/** A label file longer than this is not ImageNet val (50,000 lines, 1.5 MB) and is refused, not read. */
const MAX_LABELS_BYTES = 256 << 20;

export async function fingerprintDataset(imagesDir: string, labelsFile: string, opts: FingerprintOptions = {}): Promise<DatasetFingerprint> {
  const labels = await readLabelsBytes(labelsFile);
  const names = listedNames(labels.toString('utf8'));
  const dirStat = await fs.stat(imagesDir).catch((err: NodeJS.ErrnoException) => {
    throw new FingerprintError(`dataset fingerprint: cannot read image folder ${imagesDir} (${err.code ?? err.message})`);
  });
  if (!dirStat.isDirectory()) throw new FingerprintError(`dataset fingerprint: ${imagesDir} is not a folder`);

  const index = opts.indexDir && process.env['MODELZOO_FINGERPRINT_INDEX'] !== 'off' ? await FingerprintIndex.load(opts.indexDir, imagesDir) : undefined;
  let fromIndex = 0;
  let missing = 0;
  const hashes = await mapLimited(names, opts.concurrency ?? 16, async (name) => {
    const file = path.join(imagesDir, name);
    const st = await statImage(file);
    if (!st) {
      missing++;
      return 'missing';
    }
    const key = statKey(st);
    const known = index?.get(name, key);
    if (known) {
      fromIndex++;
      return known;
    }
    const sha = await hashFile(file);
    index?.set(name, key, sha);
    return sha;
  });
  const h = createHash('sha256');
  h.update(`${FORMAT}\n`).update(createHash('sha256').update(labels).digest('hex')).update('\n');
  names.forEach((n, i) => h.update(`${n}\0${hashes[i]}\n`));
  await index?.save();
  return { fingerprint: h.digest('hex'), images: names.length, fromIndex, missing };
}

async function readLabelsBytes(labelsFile: string): Promise<Buffer> {
  const st = await fs.stat(labelsFile).catch((err: NodeJS.ErrnoException) => {
    throw new FingerprintError(`dataset fingerprint: cannot read label file ${labelsFile} (${describeCode(err)})`);
  });
  if (!st.isFile()) throw new FingerprintError(`dataset fingerprint: label file ${labelsFile} is not a file`);
  if (st.size > MAX_LABELS_BYTES) throw new FingerprintError(`dataset fingerprint: label file ${labelsFile} is ${st.size} bytes, over the ${MAX_LABELS_BYTES}-byte cap`);
  return fs.readFile(labelsFile);
}

/**
 * The image names a label file lists, unique and sorted: the same `FILE INDEX` shape dataset-prep reads
 * (a line it cannot parse fails prep itself; its bytes are in the label hash either way).
 */
export function listedNames(text: string): string[] {
  const names = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(.*\S)\s+-?\d+\s*$/.exec(line);
    if (m) names.add(m[1]!);
  }
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * stat of a listed image: undefined when it simply does not exist; a FingerprintError when it exists
 * but cannot be read (a dangling symlink, a symlink loop, a folder, no permission), because hashing
 * such a file as "missing" would let a repaired link replay the old cache entry.
 */
async function statImage(file: string): Promise<import('node:fs').BigIntStats | undefined> {
  try {
    const st = await fs.stat(file, { bigint: true });
    if (!st.isFile()) throw new FingerprintError(`dataset fingerprint: ${file} is not a regular file`);
    return st;
  } catch (err) {
    if (err instanceof FingerprintError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') {
      const link = await fs.lstat(file).catch(() => undefined);
      if (!link) return undefined;
      throw new FingerprintError(`dataset fingerprint: cannot read ${file}: it is a symbolic link to a path that does not exist (a symlink to nothing): fix or remove the link`);
    }
    throw new FingerprintError(`dataset fingerprint: cannot read ${file} (${describeCode(e)})`);
  }
}

function describeCode(e: NodeJS.ErrnoException): string {
  if (e.code === 'ELOOP') return 'a symlink loop: fix or remove the link';
  // Only reached for a name that lstat finds: a link whose target is gone.
  if (e.code === 'ENOENT') return 'not found, or a symlink to nothing';
  if (e.code === 'EACCES') return 'permission denied: make it readable';
  return e.code ?? e.message;
}

function statKey(st: import('node:fs').BigIntStats): string {
  return `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}:${st.dev}`;
}

async function hashFile(file: string): Promise<string> {
  const h = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  } catch (err) {
    throw new FingerprintError(`dataset fingerprint: cannot read ${file} (${describeCode(err as NodeJS.ErrnoException)})`);
  }
  return h.digest('hex');
}

/**
 * Per-file sha256 of one image folder, keyed by the file's name and stat identity. One JSON file per
 * folder (named by a hash of its real path), rewritten atomically with only the names of the current
 * run, so it never grows beyond the dataset; at most MAX_INDEX_FILES folders are kept.
 */
class FingerprintIndex {
  private readonly next = new Map<string, [string, string]>();
  private changed = false;

  private constructor(
    private readonly file: string,
    private readonly dir: string,
    private readonly entries: Map<string, [string, string]>,
  ) {}

  static async load(indexDir: string, imagesDir: string): Promise<FingerprintIndex> {
    const real = await fs.realpath(imagesDir);
    const file = path.join(indexDir, `${createHash('sha256').update(real).digest('hex').slice(0, 32)}.json`);
    let entries = new Map<string, [string, string]>();
    try {
      const j = JSON.parse(await fs.readFile(file, 'utf8'));
      if (j.format === FORMAT && j.dir === real && j.entries && typeof j.entries === 'object') entries = new Map(Object.entries(j.entries));
    } catch {
      // No index yet, or an unreadable one: everything is hashed from its bytes and the index rewritten.
    }
    return new FingerprintIndex(file, real, entries);
  }

  get(name: string, key: string): string | undefined {
    const e = this.entries.get(name);
    if (e && e[0] === key && /^[0-9a-f]{64}$/.test(e[1])) {
      this.next.set(name, e);
      return e[1];
    }
    return undefined;
  }

  set(name: string, key: string, sha: string): void {
    this.next.set(name, [key, sha]);
    this.changed = true;
  }

  async save(): Promise<void> {
    if (!this.changed && this.next.size === this.entries.size) {
      // Unchanged: only mark it recently used, for pruning.
      const now = new Date();
      await fs.utimes(this.file, now, now).catch(() => undefined);
      return;
    }
    const dir = path.dirname(this.file);
    await fs.mkdir(dir, { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await fs.writeFile(tmp, JSON.stringify({ format: FORMAT, dir: this.dir, entries: Object.fromEntries(this.next) }));
      await fs.rename(tmp, this.file);
    } catch {
      // The index is only a cache: failing to write it costs the next run a rehash, never a wrong hash.
      await fs.rm(tmp, { force: true });
      return;
    }
    await pruneIndex(dir);
  }
}

async function pruneIndex(dir: string): Promise<void> {
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{32}\.json$/.test(n));
  if (names.length <= MAX_INDEX_FILES) return;
  const withTime = await Promise.all(
    names.map(async (n) => ({ n, t: (await fs.stat(path.join(dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })),
  );
  withTime.sort((a, b) => b.t - a.t);
  for (const { n } of withTime.slice(MAX_INDEX_FILES)) await fs.rm(path.join(dir, n), { force: true });
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { readJson, sha256, writeFileAtomic, writeJsonAtomic } from '../common/atomic';
import { UserError } from '../common/errors';
import { readVerified, verifyBytes } from '../common/verify';
import { Progress } from '../common/progress';
import type { OpenDataset } from '../dataset/reader';
import { encodeNpz } from './npy';

/**
 * `format: npz`: what vamp reads, written from an already prepared uint8 dataset. One .npz per image
 * holding `input_0` (uint8, CHW, RGB), as the zoo's image2npz.py writes, plus vamp's `--datalist` of
 * absolute paths. Each file lands atomically, so a killed run resumes by skipping every file that is
 * already there at its exact size; the 50,000-image val set is streamed batch by batch.
 */
export const NPZ_DATALIST = 'npz_datalist.txt';
export const NPZ_LABELS = 'npz_labels.txt';
export const NPZ_MANIFEST = 'npz-dataset.json';
/** `sha256  npz/relative/path.npz` per file, in datalist order (sha256sum's format). */
export const NPZ_SHA256SUMS = 'npz_sha256.txt';
const NPZ_DIR = 'npz';

export interface NpzDatasetManifest {
  format: 'modelzoo-vamp-npz/1';
  /** Identity of the prepared dataset the files were written from. */
  /** No folder path: this file is a cache input downstream and must not change with the checkout's path. */
  source: { key: string };
  shape: [number, number, number];
  count: number;
  datalist: string;
  labels: string;
  classes: number;
  demo: boolean;
  /** The per-file sha256 list and its own sha256 (absent in older outputs). */
  sha256sums?: { file: string; sha256: string };
}

export interface NpzDatasetResult {
  manifest: NpzDatasetManifest;
  /** Absolute paths, as written to the datalist. */
  datalist: string;
  labels: string;
  written: number;
  skipped: number;
}

export interface NpzWriteOptions {
  /** Datalist indices to write (default: all, in datalist order). */
  indices?: number[];
  batch?: number;
}

/** Output name of a datalist entry: its path with the image extension replaced, as image2npz does. */
export function npzRelPath(file: string): string {
  const parsed = path.posix.parse(file.split(path.sep).join('/'));
  return path.posix.join(parsed.dir, `${parsed.name}.npz`);
}

/** Identity of the images an npz directory was written from (the same images give the same key). */
export function npzSourceKey(ds: OpenDataset): string {
  const m = ds.manifest;
  return sha256(JSON.stringify({ fp: m.source.fingerprint, shards: m.shards.map((s) => s.sha256), geometry: m.geometry }));
}

export async function writeNpzDataset(ds: OpenDataset, outDir: string, opts: NpzWriteOptions = {}): Promise<NpzDatasetResult> {
  const root = path.resolve(outDir);
  const indices = opts.indices ?? ds.entries.map((_, i) => i);
  const shape = ds.manifest.shape;
  const key = npzSourceKey(ds);
  // A directory filled from another dataset would be "resumed" into a mix of both: refuse it.
  const previous = await readJson<NpzDatasetManifest>(path.join(root, NPZ_MANIFEST), 'npz dataset').catch(() => undefined);
  if (previous && previous.source.key !== key) {
    throw new UserError(`${root} holds npz files written from another dataset; remove it or choose another output directory`);
  }
  const manifest: NpzDatasetManifest = {
    format: 'modelzoo-vamp-npz/1',
    source: { key },
    shape,
    count: indices.length,
    datalist: NPZ_DATALIST,
    labels: NPZ_LABELS,
    classes: ds.manifest.classes,
    demo: ds.manifest.demo,
  };
  await writeJsonAtomic(path.join(root, NPZ_MANIFEST), { ...manifest, complete: false });

  // vamp names its outputs after the input file names, so those must be unique across sub-directories.
  const rel = indices.map((i) => npzRelPath(ds.entries[i]!.file));
  const byBase = new Map<string, string>();
  for (const r of rel) {
    const base = path.posix.basename(r);
    const other = byBase.get(base);
    if (other !== undefined) throw new UserError(`npz dataset: ${other} and ${r} share the file name ${base}; vamp outputs could not be told apart`);
    byBase.set(base, r);
  }
  const expectedSize = encodeNpz({ input_0: { dtype: '|u1', shape, data: new Uint8Array(ds.imageBytes) } }).length;
  const abs = rel.map((r) => path.join(root, NPZ_DIR, ...r.split('/')));

  // Every file is checked by content, not size: a kept file must be byte-identical to the one this run
  // would write (the tensors are read from the verified shards anyway; reading a kept file back is
  // cheaper than rewriting it). Each file's sha256 is recorded for vamp-eval's check before vamp reads it.
  let written = 0;
  let skipped = 0;
  const progress = new Progress('npz', indices.length);
  const shas = new Array<string>(indices.length);
  let k = 0;
  for await (const { data } of ds.batches(indices, opts.batch ?? 64)) {
    const n = data.length / ds.imageBytes;
    await Promise.all(
      Array.from({ length: n }, async (_, j) => {
        const at = k + j;
        const bytes = encodeNpz({ input_0: { dtype: '|u1', shape, data: data.subarray(j * ds.imageBytes, (j + 1) * ds.imageBytes) } });
        shas[at] = sha256(bytes);
        const st = await fs.stat(abs[at]!).catch(() => undefined);
        if (st && st.size === expectedSize && sha256(await fs.readFile(abs[at]!)) === shas[at]) {
          skipped++;
          return;
        }
        await writeFileAtomic(abs[at]!, bytes);
        written++;
      }),
    );
    k += n;
    progress.tick(k);
  }
  const datalist = path.join(root, NPZ_DATALIST);
  const labels = path.join(root, NPZ_LABELS);
  await writeFileAtomic(datalist, abs.join('\n') + '\n');
  await writeFileAtomic(labels, abs.map((p, i) => `${p} ${ds.entries[indices[i]!]!.label}`).join('\n') + '\n');
  // Names relative to the npz folder: the list is a cache input downstream and must not name the checkout.
  const sums = rel.map((r, i) => `${shas[i]}  ${r}\n`).join('');
  await writeFileAtomic(path.join(root, NPZ_SHA256SUMS), sums);
  manifest.sha256sums = { file: NPZ_SHA256SUMS, sha256: sha256(sums) };
  await writeJsonAtomic(path.join(root, NPZ_MANIFEST), { ...manifest, complete: true });
  return { manifest, datalist, labels, written, skipped };
}

/** `<npz path> <label>` lines (NPZ_LABELS) keyed by file name, the key vamp's outputs are paired by. */
export async function readNpzLabels(file: string): Promise<Map<string, number>> {
  const text = await fs.readFile(file, 'utf8').catch((err: Error) => {
    throw new UserError(`vamp-eval: cannot read labels ${file}: ${err.message}`);
  });
  const out = new Map<string, number>();
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (!t) return;
    const m = /^(.*\S)\s+(\d+)$/.exec(t);
    if (!m) throw new UserError(`${file}:${i + 1}: expected '<npz path> <label>' (a path, a space and a class index)`);
    out.set(npzStem(m[1]!), Number(m[2]));
  });
  return out;
}

export function npzStem(p: string): string {
  return path.basename(p).replace(/\.npz$/i, '');
}

/**
 * Every npz file vamp is about to read, checked against the sha256 dataset-prep recorded, so a
 * corrupted input fails here, naming the file, instead of changing vamp's predictions. Outputs written
 * before the list existed are refused (run dataset-prep again).
 */
export async function verifyNpzDataset(root: string, manifest: NpzDatasetManifest, producer?: string): Promise<void> {
  const fix = producer ? `npx nx run ${producer} --skip-nx-cache` : 'run dataset-prep again with --skip-nx-cache';
  if (!manifest.sha256sums) throw new UserError(`npz inputs at ${root} record no sha256 list (written by an older version): ${fix}`);
  const listFile = path.join(root, manifest.sha256sums.file);
  const text = await fs.readFile(listFile, 'utf8').catch(() => {
    throw new UserError(`npz inputs: ${listFile} cannot be read: ${fix}`);
  });
  verifyBytes(Buffer.from(text), manifest.sha256sums.sha256, listFile, 'npz sha256 list', producer);
  const entries = text.split('\n').filter(Boolean).map((l) => /^([0-9a-f]{64})  (.+)$/.exec(l));
  await mapLimited(entries, 8, async (m) => {
    if (!m) throw new UserError(`npz inputs: ${listFile} is malformed: ${fix}`);
    await readVerified(path.join(root, NPZ_DIR, ...m[2]!.split('/')), m[1]!, 'npz input', producer);
  });
}

async function mapLimited<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}

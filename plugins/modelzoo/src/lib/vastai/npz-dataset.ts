import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { readJson, sha256, writeFileAtomic, writeJsonAtomic } from '../common/atomic';
import { UserError } from '../common/errors';
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

  let written = 0;
  let skipped = 0;
  const progress = new Progress('npz', indices.length);
  const todo: number[] = [];
  for (let k = 0; k < indices.length; k++) {
    const st = await fs.stat(abs[k]!).catch(() => undefined);
    if (st && st.size === expectedSize) skipped++;
    else todo.push(k);
  }
  progress.tick(skipped);
  for await (const { data } of ds.batches(todo.map((k) => indices[k]!), opts.batch ?? 64)) {
    const group = todo.splice(0, data.length / ds.imageBytes);
    await Promise.all(
      group.map((k, j) =>
        writeFileAtomic(
          abs[k]!,
          encodeNpz({ input_0: { dtype: '|u1', shape, data: data.subarray(j * ds.imageBytes, (j + 1) * ds.imageBytes) } }),
        ),
      ),
    );
    written += group.length;
    progress.tick(skipped + written);
  }
  const datalist = path.join(root, NPZ_DATALIST);
  const labels = path.join(root, NPZ_LABELS);
  await writeFileAtomic(datalist, abs.join('\n') + '\n');
  await writeFileAtomic(labels, abs.map((p, k) => `${p} ${ds.entries[indices[k]!]!.label}`).join('\n') + '\n');
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
    if (!m) throw new UserError(`${file}:${i + 1}: expected '<npz path> <label>', got '${t}'`);
    out.set(npzStem(m[1]!), Number(m[2]));
  });
  return out;
}

export function npzStem(p: string): string {
  return path.basename(p).replace(/\.npz$/i, '');
}

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { readJson, sha256 } from '../common/atomic';
import { UserError } from '../common/errors';
import { IntegrityError, verifyFile } from '../common/verify';
import type { DatasetEntry, DatasetManifest } from './manifest';

/**
 * Random access to a prepared dataset: images by datalist index, read straight from the shard files,
 * and batches with the next one already being read while the caller runs inference on the current.
 */
export interface OpenDataset {
  dir: string;
  manifest: DatasetManifest;
  entries: DatasetEntry[];
  /** Bytes of one image (3 * H * W, uint8). */
  imageBytes: number;
  readImages(indices: number[]): Promise<Uint8Array>;
  batches(indices: number[], batchSize: number): AsyncGenerator<{ indices: number[]; data: Uint8Array }>;
  calibrationIndices(): Promise<number[]>;
  close(): Promise<void>;
}

export interface OpenDatasetOptions {
  /** `project:target` that wrote the dataset, named in an integrity error's fix. */
  producer?: string;
}

/**
 * Every shard is checked against the sha256 the manifest records before any of its images is handed
 * out: the first read of a shard streams it once through the hash (and into the page cache, which the
 * image reads then hit), and the next shard is verified in the background while the caller works on
 * this one, so a sequential evaluation pays for the hash on a core that would otherwise wait.
 */
export async function openDataset(dir: string, opts: OpenDatasetOptions = {}): Promise<OpenDataset> {
  const manifest = await readJson<DatasetManifest>(path.join(dir, 'manifest.json'), 'dataset');
  if (manifest.format !== 'modelzoo-uint8-chw/1') {
    throw new Error(`dataset ${dir}: unsupported format '${manifest.format}' (run dataset-prep again)`);
  }
  const datalistFile = path.join(dir, manifest.datalist);
  const datalistText = await fs.readFile(datalistFile, 'utf8');
  if (manifest.datalistSha256 && sha256(datalistText) !== manifest.datalistSha256) {
    throw new IntegrityError(datalistFile, 'dataset datalist', manifest.datalistSha256, sha256(datalistText), opts.producer);
  }
  const entries = parseDatalist(datalistText, manifest.datalist);
  if (entries.length !== manifest.count) {
    throw new Error(`dataset ${dir}: datalist has ${entries.length} entries, manifest says ${manifest.count}`);
  }
  const imageBytes = manifest.shape[0] * manifest.shape[1] * manifest.shape[2];
  // shard index and offset of every image, in datalist order.
  const where: { shard: number; offset: number }[] = [];
  manifest.shards.forEach((s, si) => {
    for (let i = 0; i < s.count; i++) where.push({ shard: si, offset: i * imageBytes });
  });
  // Promises, not handles: concurrent reads of one shard must share a single open.
  const handles = new Map<number, Promise<fs.FileHandle>>();
  const verified = new Map<number, Promise<void>>();
  const verify = (si: number): Promise<void> => {
    let v = verified.get(si);
    if (!v) {
      const s = manifest.shards[si]!;
      v = verifyFile(path.join(dir, s.file), s.sha256, 'dataset shard', opts.producer);
      // A background check nobody awaits yet must not become an unhandled rejection.
      v.catch(() => undefined);
      verified.set(si, v);
    }
    return v;
  };
  const handle = async (si: number) => {
    await verify(si);
    if (si + 1 < manifest.shards.length) void verify(si + 1);
    let h = handles.get(si);
    if (!h) {
      h = fs.open(path.join(dir, manifest.shards[si]!.file), 'r');
      handles.set(si, h);
    }
    return h;
  };
  const readImages = async (indices: number[]) => {
    const out = new Uint8Array(indices.length * imageBytes);
    await Promise.all(
      indices.map(async (idx, k) => {
        const w = where[idx];
        if (!w) throw new Error(`dataset ${dir}: image index ${idx} out of range (0..${where.length - 1})`);
        const h = await handle(w.shard);
        const { bytesRead } = await h.read(out, k * imageBytes, imageBytes, w.offset);
        if (bytesRead !== imageBytes) throw new Error(`dataset ${dir}: shard ${manifest.shards[w.shard]!.file} is truncated`);
      }),
    );
    return out;
  };
  async function* batches(indices: number[], batchSize: number) {
    const groups: number[][] = [];
    for (let i = 0; i < indices.length; i += batchSize) groups.push(indices.slice(i, i + batchSize));
    let next = groups.length > 0 ? readImages(groups[0]!) : undefined;
    for (let g = 0; g < groups.length; g++) {
      const data = await next!;
      next = g + 1 < groups.length ? readImages(groups[g + 1]!) : undefined;
      yield { indices: groups[g]!, data };
    }
  }
  return {
    dir,
    manifest,
    entries,
    imageBytes,
    readImages,
    batches,
    async calibrationIndices() {
      const file = path.join(dir, manifest.calibration.file);
      const text = await fs.readFile(file, 'utf8');
      if (sha256(text) !== manifest.calibration.sha256) {
        throw new IntegrityError(file, 'dataset calibration list', manifest.calibration.sha256, sha256(text), opts.producer);
      }
      return text
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => Number(l));
    },
    async close() {
      await Promise.all([...verified.values()].map((v) => v.catch(() => undefined)));
      await Promise.all([...handles.values()].map(async (h) => (await h).close()));
      handles.clear();
    },
  };
}

/** `FILE INDEX` lines (ILSVRC2012 val_label.txt and our datalist); blank lines ignored. */
export function parseDatalist(text: string, where: string): DatasetEntry[] {
  const out: DatasetEntry[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (!t) return;
    const m = /^(.*\S)\s+(-?\d+)$/.exec(t);
    // The line itself is not echoed: an error must not print the content of an arbitrary file.
    if (!m) throw new UserError(`${where}:${i + 1}: expected 'FILE INDEX' (a file name, a space, a class index); rerun the dataset-prep that wrote it`);
    const label = Number(m[2]);
    if (label < 0) throw new UserError(`${where}:${i + 1}: negative class index ${label}`);
    out.push({ file: m[1]!, label });
  });
  return out;
}

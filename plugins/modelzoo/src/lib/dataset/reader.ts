import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { readJson } from '../common/atomic';
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

export async function openDataset(dir: string): Promise<OpenDataset> {
  const manifest = await readJson<DatasetManifest>(path.join(dir, 'manifest.json'), 'dataset');
  if (manifest.format !== 'modelzoo-uint8-chw/1') {
    throw new Error(`dataset ${dir}: unsupported format '${manifest.format}' (run dataset-prep again)`);
  }
  const entries = parseDatalist(await fs.readFile(path.join(dir, manifest.datalist), 'utf8'), manifest.datalist);
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
  const handle = (si: number) => {
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
      const text = await fs.readFile(path.join(dir, manifest.calibration.file), 'utf8');
      return text
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => Number(l));
    },
    async close() {
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
    if (!m) throw new Error(`${where}:${i + 1}: expected 'FILE INDEX', got '${t}'`);
    const label = Number(m[2]);
    if (label < 0) throw new Error(`${where}:${i + 1}: negative class index ${label}`);
    out.push({ file: m[1]!, label });
  });
  return out;
}

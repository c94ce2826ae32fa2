import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256, withAtomicDir } from '../common/atomic';
import { UserError } from '../common/errors';
import { Progress } from '../common/progress';
import { PreprocessPool } from '../preprocess/pool';
import type { GeometrySpec } from '../preprocess/spec';
import { selectCalibration } from './calibration';
import { fingerprintDataset } from './fingerprint';
import { readLabels, type LabelLine } from './labels';
import { type DatasetManifest, GEOMETRY_FILE, geometryOf } from './manifest';
import { ShardWriter } from './shard-writer';

export interface PrepareDatasetOptions {
  imagesDir: string;
  labelsFile: string;
  outDir: string;
  geometry: GeometrySpec;
  /** Images in the class-balanced calibration subset (default 1000). */
  calibrationSize?: number;
  /** Number of classes; label indices must be below it (default 1000). */
  classes?: number;
  /** Images per shard file (default 1024). */
  shardSize?: number;
  /** Parallelism (default os.availableParallelism()): decodes in flight, or worker threads. */
  concurrency?: number;
  /** How images are preprocessed (PreprocessPool mode); default 'auto'. */
  preprocessMode?: 'auto' | 'inline' | 'workers';
  /** Skip unreadable/corrupt images (listed in manifest.skipped) instead of failing. */
  skipCorrupt?: boolean;
  demo?: boolean;
  /** Content fingerprint of the source (fingerprintDataset) to record; computed when absent. */
  fingerprint?: string;
  /** Only the first `limit` label-file entries. */
  limit?: number;
}

type Outcome = { ok: true; data: Uint8Array } | { ok: false; reason: string };

/**
 * dataset-prep: decode, resize and centre-crop every listed image once into uint8 CHW shards that
 * eval, calibration and bench read by index. Images are processed in parallel but written in label-file
 * order, with at most a small window of tensors in memory, so 50,000 images need no more memory than 50.
 * The output directory appears only when complete (withAtomicDir).
 */
export async function prepareDataset(opts: PrepareDatasetOptions): Promise<DatasetManifest> {
  const classes = opts.classes ?? 1000;
  const calibrationSize = opts.calibrationSize ?? 1000;
  const shardSize = opts.shardSize ?? 1024;
  const threads = Math.max(1, opts.concurrency ?? os.availableParallelism());
  const crop = opts.geometry.cropSize;
  const imageBytes = 3 * crop * crop;

  let lines = await readLabels(opts.labelsFile, classes);
  if (opts.limit !== undefined && opts.limit > 0) lines = lines.slice(0, opts.limit);
  if (lines.length === 0) throw new UserError(`labels ${opts.labelsFile}: no images listed`);
  const fingerprint = opts.fingerprint ?? (await fingerprintDataset(opts.imagesDir, opts.labelsFile)).fingerprint;

  return withAtomicDir(opts.outDir, async (tmp) => {
    const pool = new PreprocessPool({ geometry: opts.geometry, threads, mode: opts.preprocessMode });
    const shards = new ShardWriter(tmp, shardSize, imageBytes);
    const kept: LabelLine[] = [];
    const calibHash = createHash('sha256');
    let wholeShard = false;
    const skipped: { file: string; reason: string }[] = [];
    const progress = new Progress('dataset-prep', lines.length);
    try {
      // Outcomes never reject, so tasks still in flight when we stop on an error cannot go unhandled.
      const start = (l: LabelLine): Promise<Outcome> =>
        pool.run(path.join(opts.imagesDir, l.file)).then(
          (data) => ({ ok: true, data }),
          (err: unknown) => ({ ok: false, reason: describeFailure(err, l, opts.imagesDir) }),
        );
      // The calibration subset depends only on file names and labels, so it is known before any pixel
      // is decoded and its tensors can be hashed as they stream past, in shard (= ascending) order. A
      // skipped image changes the subset; the hash is then recomputed from the shards at the end.
      const plannedSet = new Set(selectCalibration(lines, calibrationSize));
      // A subset that is the whole list, in one shard, has the shard's bytes: its hash is the shard's.
      wholeShard = plannedSet.size === lines.length && lines.length <= shardSize;
      const window = threads * 4;
      const inFlight: Promise<Outcome>[] = [];
      let next = 0;
      for (let i = 0; i < lines.length; i++) {
        while (next < lines.length && next < i + window) inFlight.push(start(lines[next++]!));
        const l = lines[i]!;
        const r = await inFlight.shift()!;
        if (r.ok) {
          if (!wholeShard && plannedSet.has(i)) calibHash.update(r.data);
          await shards.append(r.data);
          kept.push(l);
        } else if (opts.skipCorrupt) {
          skipped.push({ file: l.file, reason: r.reason });
        } else {
          throw new UserError(`${opts.labelsFile}:${l.line}: ${r.reason}`);
        }
        progress.tick(i + 1);
      }
      await shards.finish();
    } catch (err) {
      await shards.abort();
      throw err;
    } finally {
      await pool.close();
    }
    if (kept.length === 0) throw new UserError(`dataset-prep: all ${lines.length} images were skipped as unreadable`);

    const datalist = kept.map((l) => `${l.file} ${l.label}\n`).join('');
    await fs.writeFile(path.join(tmp, 'datalist.txt'), datalist);
    const calib = selectCalibration(kept, calibrationSize);
    const calibText = calib.map((i) => `${i}\n`).join('');
    await fs.writeFile(path.join(tmp, 'calibration.txt'), calibText);
    const tensorsSha256 =
      skipped.length > 0
        ? await hashShardImages(tmp, shards.shards, imageBytes, calib)
        : wholeShard
          ? shards.shards[0]!.sha256
          : calibHash.digest('hex');
    const calibJson: CalibrationJson = {
      count: calib.length,
      images: calib.map((i) => ({ file: kept[i]!.file, label: kept[i]!.label, index: i })),
      sha256: tensorsSha256,
    };
    await fs.writeFile(path.join(tmp, 'calibration.json'), JSON.stringify(calibJson, null, 2) + '\n');
    const manifest: DatasetManifest = {
      format: 'modelzoo-uint8-chw/1',
      geometry: opts.geometry,
      shape: [3, crop, crop],
      count: kept.length,
      classes,
      demo: opts.demo ?? false,
      source: { fingerprint },
      shards: shards.shards,
      datalist: 'datalist.txt',
      datalistSha256: sha256(datalist),
      calibration: {
        file: 'calibration.txt',
        count: calib.length,
        sha256: sha256(calibText),
        json: 'calibration.json',
        tensorsSha256,
      },
      skipped,
    };
    await fs.writeFile(path.join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    await fs.writeFile(path.join(tmp, GEOMETRY_FILE), JSON.stringify(geometryOf(manifest), null, 2) + '\n');
    return manifest;
  });
}

/**
 * `calibration.json`: which images calibrate an int8 build, and a hash of exactly their preprocessed
 * tensors, so a downstream task can depend on the calibration content alone: changing any other image
 * leaves it unchanged.
 */
export interface CalibrationJson {
  count: number;
  /** Calibration order (ascending datalist index). */
  images: { file: string; label: number; index: number }[];
  /** sha256 over the uint8 CHW tensors of `images`, concatenated in that order. */
  sha256: string;
}

/** sha256 over the tensors at datalist `indices` (ascending), read back from the written shards. */
async function hashShardImages(
  dir: string,
  shards: readonly { file: string; count: number }[],
  imageBytes: number,
  indices: readonly number[],
): Promise<string> {
  const h = createHash('sha256');
  const buf = Buffer.alloc(imageBytes);
  let k = 0;
  let first = 0;
  for (const s of shards) {
    if (k >= indices.length) break;
    if (indices[k]! >= first + s.count) {
      first += s.count;
      continue;
    }
    const fh = await fs.open(path.join(dir, s.file), 'r');
    try {
      for (; k < indices.length && indices[k]! < first + s.count; k++) {
        const { bytesRead } = await fh.read(buf, 0, imageBytes, (indices[k]! - first) * imageBytes);
        if (bytesRead !== imageBytes) throw new Error(`${s.file}: short read at image ${indices[k]}`);
        h.update(buf);
      }
    } finally {
      await fh.close();
    }
    first += s.count;
  }
  return h.digest('hex');
}

/**
 * The worker's message already names the file; a missing file gets a plainer message. The image folder
 * is cut from it: the reason lands in manifest.json, which must not depend on where the images live.
 */
function describeFailure(err: unknown, l: LabelLine, imagesDir: string): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/ENOENT/.test(msg)) return `${l.file}: file not found`;
  return msg.split(imagesDir + path.sep).join('');
}

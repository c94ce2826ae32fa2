import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { type DatasetManifest, GEOMETRY_FILE, geometryOf } from '../../plugins/modelzoo/src/lib/dataset/manifest';
import { PRESETS } from '../../plugins/modelzoo/src/lib/preprocess/spec';

export interface TinyDatasetOptions {
  count: number;
  classes: number;
  /** Crop size: images are [3, size, size]. */
  size: number;
  shardSize?: number;
  /** Pixel seed: datasets with different seeds hold different pixels (and fingerprints). */
  seed?: number;
  /** 'imagenet': ILSVRC2012 val names in synset sub-folders (n00000001/ILSVRC2012_val_00000005.JPEG). */
  names?: 'flat' | 'imagenet';
  /** Calibration subset size (default: min(count, classes)). */
  calibration?: number;
  /** Resize size recorded in the geometry (default: the torchvision preset's). */
  resizeSize?: number;
}

/**
 * A prepared dataset written directly in dataset-prep's output format (deterministic pixels), for
 * tests of the later stages that must not depend on image decoding.
 */
export function writeTinyDataset(dir: string, opts: TinyDatasetOptions): DatasetManifest {
  const { count, classes, size } = opts;
  const shardSize = opts.shardSize ?? 4;
  const imageBytes = 3 * size * size;
  fs.mkdirSync(path.join(dir, 'shards'), { recursive: true });
  let s = (opts.seed ?? 1) >>> 0;
  const shards: DatasetManifest['shards'] = [];
  for (let k = 0; k * shardSize < count; k++) {
    const n = Math.min(shardSize, count - k * shardSize);
    const buf = Buffer.alloc(n * imageBytes);
    for (let i = 0; i < buf.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      buf[i] = s >>> 24;
    }
    const file = `shards/shard-${String(k).padStart(5, '0')}.bin`;
    fs.writeFileSync(path.join(dir, file), buf);
    shards.push({ file, count: n, sha256: createHash('sha256').update(buf).digest('hex') });
  }
  const name = (i: number) =>
    opts.names === 'imagenet' ? `n0000000${i % 3}/ILSVRC2012_val_${String(i + 1).padStart(8, '0')}.JPEG` : `img_${i}.JPEG`;
  const datalist = Array.from({ length: count }, (_, i) => `${name(i)} ${i % classes}`).join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'datalist.txt'), datalist);
  const calibCount = Math.min(count, opts.calibration ?? classes);
  const calib = Array.from({ length: calibCount }, (_, i) => String(i)).join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'calibration.txt'), calib);
  const manifest: DatasetManifest = {
    format: 'modelzoo-uint8-chw/1',
    geometry: { ...PRESETS['torchvision']!.geometry, ...(opts.resizeSize ? { resizeSize: opts.resizeSize } : {}), cropSize: size },
    shape: [3, size, size],
    count,
    classes,
    demo: true,
    source: { fingerprint: `seed-${opts.seed ?? 1}` },
    shards,
    datalist: 'datalist.txt',
    calibration: { file: 'calibration.txt', count: calibCount, sha256: createHash('sha256').update(calib).digest('hex') },
    skipped: [],
  };
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  fs.writeFileSync(path.join(dir, GEOMETRY_FILE), JSON.stringify(geometryOf(manifest), null, 2));
  return manifest;
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import type { DatasetManifest } from '../../plugins/modelzoo/src/lib/dataset/manifest';
import { PRESETS } from '../../plugins/modelzoo/src/lib/preprocess/spec';

/**
 * A prepared dataset written directly in dataset-prep's output format (deterministic pixels), for
 * tests of the later stages that must not depend on image decoding.
 */
export function writeTinyDataset(dir: string, opts: { count: number; classes: number; size: number; shardSize?: number }): DatasetManifest {
  const { count, classes, size } = opts;
  const shardSize = opts.shardSize ?? 4;
  const imageBytes = 3 * size * size;
  fs.mkdirSync(path.join(dir, 'shards'), { recursive: true });
  const shards: DatasetManifest['shards'] = [];
  for (let s = 0; s * shardSize < count; s++) {
    const n = Math.min(shardSize, count - s * shardSize);
    const buf = Buffer.alloc(n * imageBytes);
    for (let i = 0; i < buf.length; i++) buf[i] = ((i + s * 7919) * 2654435761) >>> 24;
    const file = `shards/shard-${String(s).padStart(5, '0')}.bin`;
    fs.writeFileSync(path.join(dir, file), buf);
    shards.push({ file, count: n, sha256: createHash('sha256').update(buf).digest('hex') });
  }
  const datalist = Array.from({ length: count }, (_, i) => `img_${i}.JPEG ${i % classes}`).join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'datalist.txt'), datalist);
  const calib = Array.from({ length: Math.min(count, classes) }, (_, i) => String(i)).join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'calibration.txt'), calib);
  const manifest: DatasetManifest = {
    format: 'modelzoo-uint8-chw/1',
    geometry: { ...PRESETS['torchvision']!.geometry, cropSize: size },
    shape: [3, size, size],
    count,
    classes,
    demo: true,
    source: { dir: 'synthetic', labels: 'synthetic', fingerprint: 'synthetic' },
    shards,
    datalist: 'datalist.txt',
    calibration: { file: 'calibration.txt', count: Math.min(count, classes), sha256: createHash('sha256').update(calib).digest('hex') },
    skipped: [],
  };
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  const { format, geometry, shape, classes: nClasses } = manifest;
  fs.writeFileSync(path.join(dir, 'geometry.json'), JSON.stringify({ format, geometry, shape, classes: nClasses }, null, 2));
  return manifest;
}

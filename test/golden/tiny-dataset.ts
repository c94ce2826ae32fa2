import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import type { DatasetManifest } from '../../plugins/modelzoo/src/lib/dataset/manifest';
import { PRESETS } from '../../plugins/modelzoo/src/lib/preprocess/spec';

/** A prepared dataset as dataset-prep writes it: uint8 CHW shards, datalist, calibration subset. */
export function writeTinyDataset(dir: string, count: number, size: number, classes: number, seed = 1): void {
  fs.mkdirSync(dir, { recursive: true });
  const imageBytes = 3 * size * size;
  const data = new Uint8Array(count * imageBytes);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s >>> 24;
  }
  const half = Math.ceil(count / 2);
  const shards = [data.subarray(0, half * imageBytes), data.subarray(half * imageBytes)].map((bytes, k) => {
    const file = `shard-${k}.u8`;
    fs.writeFileSync(path.join(dir, file), bytes);
    return { file, count: bytes.length / imageBytes, sha256: createHash('sha256').update(bytes).digest('hex') };
  });
  const lines = Array.from({ length: count }, (_, i) => `n0000000${i % 3}/ILSVRC2012_val_${String(i + 1).padStart(8, '0')}.JPEG ${i % classes}`);
  fs.writeFileSync(path.join(dir, 'datalist.txt'), lines.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'calibration.txt'), Array.from({ length: Math.min(count, 4) }, (_, i) => i).join('\n') + '\n');
  const manifest: DatasetManifest = {
    format: 'modelzoo-uint8-chw/1',
    geometry: { ...PRESETS['torchvision']!.geometry, resizeSize: size + 8, cropSize: size },
    shape: [3, size, size],
    count,
    classes,
    demo: true,
    source: { dir: 'synthetic', labels: 'synthetic', fingerprint: `seed-${seed}` },
    shards,
    datalist: 'datalist.txt',
    calibration: { file: 'calibration.txt', count: Math.min(count, 4), sha256: '' },
    skipped: [],
  };
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  const { format, geometry, shape, classes: nClasses } = manifest;
  fs.writeFileSync(path.join(dir, 'geometry.json'), JSON.stringify({ format, geometry, shape, classes: nClasses }, null, 2));
}


/**
 * Driver for tools/compare-torchvision.py: preprocesses the first N images of a labelled folder with our
 * pipeline, writes the tensors to a temp file and lets torchvision (via /usr/bin/python3) compare.
 *
 *   npx tsx tools/compare-torchvision.ts [IMAGES_DIR] [--limit N] [--interpolation bilinear|bicubic]
 *   npx tsx tools/compare-torchvision.ts --dump OUT.bin --images DIR --labels FILE ...   (used by the .py)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { parseDatalist } from '../plugins/modelzoo/src/lib/dataset/reader';
import { PreprocessPool } from '../plugins/modelzoo/src/lib/preprocess/pool';
import type { GeometrySpec, Interpolation } from '../plugins/modelzoo/src/lib/preprocess/spec';

async function dump(out: string, images: string, labels: string, limit: number, g: GeometrySpec): Promise<number> {
  let entries = parseDatalist(fs.readFileSync(labels, 'utf8'), labels);
  if (limit > 0) entries = entries.slice(0, limit);
  const pool = new PreprocessPool({ geometry: g });
  try {
    const results = await Promise.all(entries.map((e) => pool.run(path.join(images, e.file))));
    const fd = fs.openSync(out, 'w');
    for (const r of results) fs.writeSync(fd, r);
    fs.closeSync(fd);
  } finally {
    await pool.close();
  }
  return entries.length;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      dump: { type: 'string' },
      images: { type: 'string' },
      labels: { type: 'string' },
      limit: { type: 'string', default: '0' },
      resize: { type: 'string', default: '256' },
      crop: { type: 'string', default: '224' },
      interpolation: { type: 'string', default: 'bilinear' },
      python: { type: 'string', default: '/usr/bin/python3' },
    },
  });
  const images = values.images ?? positionals[0] ?? path.resolve(__dirname, '..', '..', 'shared', 'data', 'imagenet-sample');
  const labels = values.labels ?? path.join(images, 'val_label.txt');
  const g: GeometrySpec = {
    resize: 'shorter',
    resizeSize: Number(values.resize),
    cropSize: Number(values.crop),
    interpolation: values.interpolation as Interpolation,
    backend: 'pillow',
  };
  const limit = Number(values.limit);
  if (values.dump) {
    await dump(values.dump, images, labels, limit, g);
    return;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'compare-tv-'));
  try {
    const ours = path.join(tmp, 'ours.bin');
    await dump(ours, images, labels, limit, g);
    // argv array, no shell; execa 9 is ESM-only and this repo is CommonJS.
    const res = spawnSync(
      values.python!,
      [
        path.join(__dirname, 'compare-torchvision.py'),
        images,
        '--labels', labels,
        '--limit', String(limit),
        '--resize', values.resize!,
        '--crop', values.crop!,
        '--interpolation', g.interpolation,
        '--ours', ours,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' },
    );
    if (res.status !== 0) throw new Error(`compare-torchvision.py failed (${res.error?.message ?? `exit ${res.status}`})`);
    process.stdout.write(res.stdout);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

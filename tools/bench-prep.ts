/**
 * dataset-prep throughput, ours vs torchvision, side by side in one run on the same images:
 *   ours:        prepareDataset (decode + resize + crop + shard writes, end to end, worker start-up included)
 *   torchvision: PIL open + convert('RGB') + Resize(256) + CenterCrop(224) + PILToTensor in a
 *                multiprocessing Pool of the same size, tensors returned to the parent (timed inside
 *                Python, after imports and pool start-up).
 * Also reports CPU time per image on both sides (process + threads for ours; workers + parent for
 * torchvision), which other load on a shared machine disturbs less than the wall-clock rates.
 * Rounds alternate ours/torchvision, after one untimed warm-up round of each (the first pass over the
 * files would otherwise read them from disk for ours and from the page cache for torchvision, and run
 * ours' WASM resampler before the JIT has optimized it); prints JSON with per-round rates, medians and
 * the ratio.
 *
 *   npx tsx tools/bench-prep.ts [--images DIR] [--limit 500] [--rounds 5] [--warmup 1] [--concurrency 2]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { prepareDataset } from '../plugins/modelzoo/src/lib/dataset/prepare';
import { parseDatalist } from '../plugins/modelzoo/src/lib/dataset/reader';
import { jpegDecoderName } from '../plugins/modelzoo/src/lib/preprocess/native-jpeg';
import { PRESETS } from '../plugins/modelzoo/src/lib/preprocess/spec';

const PY = `
import sys, time, json, resource
from multiprocessing import Pool
from torchvision import transforms as T
from torchvision.datasets.folder import pil_loader
tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.PILToTensor()])
def work(p):
    return tf(pil_loader(p)).numpy()
if __name__ == '__main__':
    files = [l.rstrip('\\n') for l in open(sys.argv[1]) if l.strip()]
    pool = Pool(int(sys.argv[2]))
    pool.map(abs, range(64))
    c0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    n = sum(1 for _ in pool.imap(work, files, chunksize=4))
    dt = time.perf_counter() - t
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    pool.close()
    pool.join()
    # Workers' CPU (their whole, short, post-fork lives) plus the parent's during the timed loop.
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ch.ru_utime + ch.ru_stime + (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    print(json.dumps({"images": n, "seconds": dt, "cpu_seconds": cpu}))
`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      images: { type: 'string', default: path.resolve(__dirname, '..', '..', 'shared', 'data', 'imagenet-sample') },
      limit: { type: 'string', default: '500' },
      rounds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      concurrency: { type: 'string', default: '2' },
      python: { type: 'string', default: '/usr/bin/python3' },
    },
  });
  process.env['MODELZOO_QUIET'] = '1';
  const images = values.images!;
  const limit = Number(values.limit);
  const concurrency = Number(values.concurrency);
  const labelsFile = path.join(images, 'val_label.txt');
  const entries = parseDatalist(fs.readFileSync(labelsFile, 'utf8'), labelsFile).slice(0, limit);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-prep-'));
  const list = path.join(tmp, 'files.txt');
  fs.writeFileSync(list, entries.map((e) => path.join(images, e.file) + '\n').join(''));
  const ours: number[] = [];
  const tv: number[] = [];
  const oursCpu: number[] = [];
  const tvCpu: number[] = [];
  try {
    const warmup = Number(values.warmup);
    for (let r = -warmup; r < Number(values.rounds); r++) {
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      const m = await prepareDataset({
        imagesDir: images,
        labelsFile,
        outDir: path.join(tmp, 'ds'),
        geometry: PRESETS['torchvision']!.geometry,
        limit,
        concurrency,
        fingerprint: 'bench',
      });
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(c0);
      const res = spawnSync(values.python!, ['-c', PY, list, String(concurrency)], { encoding: 'utf8' });
      if (res.status !== 0) throw new Error(`torchvision run failed: ${res.stderr}`);
      if (r < 0) continue;
      ours.push(m.count / secs);
      oursCpu.push((cpu.user + cpu.system) / 1000 / m.count);
      const py = JSON.parse(res.stdout) as { images: number; seconds: number; cpu_seconds: number };
      tv.push(py.images / py.seconds);
      tvCpu.push((py.cpu_seconds * 1000) / py.images);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const round = (x: number) => Math.round(x * 10) / 10;
  process.stdout.write(
    JSON.stringify(
      {
        images: entries.length,
        concurrency,
        // MODELZOO_JPEG_DECODER=sharp measures the fallback path (no native decoder built).
        decoder: jpegDecoderName(),
        rounds: ours.length,
        cpus: os.availableParallelism(),
        ours_img_per_s: ours.map(round),
        torchvision_img_per_s: tv.map(round),
        ours_median: round(median(ours)),
        torchvision_median: round(median(tv)),
        ratio: Math.round((median(ours) / median(tv)) * 100) / 100,
        // Each round runs both back to back, so a burst of other load tends to hit a pair: the median of
        // the per-round ratios is steadier than the ratio of the medians on a shared machine.
        ratio_paired_median: Math.round(median(ours.map((o, i) => o / tv[i]!)) * 100) / 100,
        // CPU time per image (all threads / processes): less sensitive to other load on a shared machine
        // than wall-clock rates; torchvision's / ours, so > 1 means we spend less CPU per image.
        ours_cpu_ms_per_img_median: Math.round(median(oursCpu) * 100) / 100,
        torchvision_cpu_ms_per_img_median: Math.round(median(tvCpu) * 100) / 100,
        cpu_ratio: Math.round((median(tvCpu) / median(oursCpu)) * 100) / 100,
      },
      null,
      2,
    ) + '\n',
  );
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

/**
 * Full-val scale: N images synthesized as hard links of the ImageNet sample (with their labels, under
 * new names), then the three data-bound stages of one variant, each in its own child process so its
 * peak RSS is its own (worker threads included): dataset-prep, the int8 build (calibration on the
 * class-balanced subset + quantization) and one fp32 evaluation over all N images. Prints JSON: wall
 * time, img/s, peak RSS per stage, disk use of the prepared dataset, machine and load.
 *
 *   npx tsx tools/bench-scale.ts [--n 10000] [--n 50000] [--images DIR] [--concurrency 2] [--threads 2] [--keep]
 *
 * Several --n values run one after another (smallest first) over the same synthesized folder, so the
 * per-image rates are comparable: time is expected linear in N and every stage's peak RSS bounded
 * (≤ 1 GiB) whatever N.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const REPO = path.resolve(__dirname, '..');
const LIB = path.join(REPO, 'plugins', 'modelzoo', 'src', 'lib');
const GIB = 1024 ** 3;

/** One stage, run inside the child: `tsx tools/bench-scale.ts --stage NAME --work DIR`. */
async function runStage(stage: string, work: string, concurrency: number, threads: number): Promise<Record<string, unknown>> {
  process.env['MODELZOO_QUIET'] = '1';
  const images = path.join(work, 'images');
  if (stage === 'export') {
    const { exportModel } = await import(path.join(LIB, 'export', 'export-model'));
    await exportModel({
      source: 'builtin', model: 'mobilenetv2', variant: 'scale', preprocess: 'torchvision', width: 1, inputSize: 224,
      rounding: 'torchvision', padding: 'symmetric', bnEpsilon: 1e-5, seed: 0, opset: 13, outputPath: path.join(work, 'export'),
    });
    return {};
  }
  if (stage === 'prep') {
    const { prepareDataset } = await import(path.join(LIB, 'dataset', 'prepare'));
    const { PRESETS } = await import(path.join(LIB, 'preprocess', 'spec'));
    const m = await prepareDataset({
      imagesDir: images, labelsFile: path.join(images, 'val_label.txt'), outDir: path.join(work, 'ds'),
      geometry: PRESETS['torchvision'].geometry, concurrency,
    });
    return { images: m.count, shards: m.shards.length };
  }
  if (stage === 'int8') {
    const { buildModel } = await import(path.join(LIB, 'build', 'build-model'));
    const { int8Quantizer } = await import(path.join(LIB, 'build', 'int8'));
    const b = await buildModel(
      { model: path.join(work, 'export'), dataset: path.join(work, 'ds'), preprocess: 'torchvision', precision: 'int8',
        optimization: 'basic', outputPath: path.join(work, 'build-int8') },
      int8Quantizer,
    );
    // The class-balanced subset prep selected; the quantizer calibrates on up to calibration_count (1000) of it.
    const calib = JSON.parse(fs.readFileSync(path.join(work, 'ds', 'calibration.json'), 'utf8')) as { count: number };
    return { calibrationImages: Math.min(calib.count, 1000), precision: b.precision };
  }
  if (stage === 'fp32') {
    const { buildModel } = await import(path.join(LIB, 'build', 'build-model'));
    await buildModel({ model: path.join(work, 'export'), dataset: path.join(work, 'ds'), preprocess: 'torchvision', precision: 'fp32',
      optimization: 'basic', outputPath: path.join(work, 'build') });
    return {};
  }
  if (stage === 'eval') {
    const { evaluateModel } = await import(path.join(LIB, 'eval', 'evaluate-model'));
    const r = await evaluateModel({ model: path.join(work, 'build'), dataset: path.join(work, 'ds'), batch: 16, threads,
      outputPath: path.join(work, 'eval') });
    return { images: r.images, top1: r.top1, inferenceImgPerS: r.throughput };
  }
  throw new Error(`unknown stage ${stage}`);
}

/** N hard links named scale_NNNNNNN.JPEG cycling over the sample's labelled images, + val_label.txt. */
function synthesize(sample: string, dir: string, n: number): void {
  const lines = fs
    .readFileSync(path.join(sample, 'val_label.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const m = /^(.*\S)\s+(\d+)$/.exec(l.trim())!;
      return { file: m[1]!, label: m[2]! };
    });
  fs.mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const src = lines[i % lines.length]!;
    const name = `scale_${String(i).padStart(7, '0')}${path.extname(src.file)}`;
    const dst = path.join(dir, name);
    if (!fs.existsSync(dst)) fs.linkSync(path.join(sample, src.file), dst);
    out.push(`${name} ${src.label}`);
  }
  fs.writeFileSync(path.join(dir, 'val_label.txt'), out.join('\n') + '\n');
}

function du(dir: string): number {
  let bytes = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) bytes += fs.statSync(path.join(e.parentPath ?? (e as any).path, e.name)).size;
  }
  return bytes;
}

function child(stage: string, work: string, concurrency: number, threads: number) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', __filename, '--stage', stage, '--work', work, '--concurrency', String(concurrency), '--threads', String(threads)],
    { cwd: REPO, encoding: 'utf8', env: { ...process.env, MODELZOO_QUIET: '1' }, maxBuffer: 16 * 1024 * 1024 },
  );
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`stage ${stage} failed (${r.status}):\n${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop()!;
  const { maxRssBytes, userS, systemS, ...details } = JSON.parse(last);
  return { wallS: +wall.toFixed(2), cpuS: +(userS + systemS).toFixed(2), peakRssMiB: Math.round(maxRssBytes / 2 ** 20), ...details };
}

async function main() {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', multiple: true, default: ['10000'] },
      images: { type: 'string', default: path.resolve(REPO, '..', 'shared', 'data', 'imagenet-sample') },
      concurrency: { type: 'string', default: String(os.availableParallelism()) },
      threads: { type: 'string', default: String(os.availableParallelism()) },
      stage: { type: 'string' },
      work: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const concurrency = Number(values.concurrency);
  const threads = Number(values.threads);
  if (values.stage) {
    const details = await runStage(values.stage, values.work!, concurrency, threads);
    const ru = process.resourceUsage();
    // maxRSS is in KiB (getrusage): the process's peak, worker threads included.
    console.log(JSON.stringify({ maxRssBytes: ru.maxRSS * 1024, userS: ru.userCPUTime / 1e6, systemS: ru.systemCPUTime / 1e6, ...details }));
    return;
  }
  if (!fs.existsSync(path.join(values.images!, 'val_label.txt'))) {
    console.error(`bench-scale: ${values.images}/val_label.txt not found: pass --images DIR (a labelled image folder)`);
    process.exit(2);
  }
  const ns = values.n!.map(Number).sort((a, b) => a - b);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-scale-'));
  const runs: { n: number; stages: Record<string, any>; [k: string]: unknown }[] = [];
  try {
    for (const n of ns) {
      const work = path.join(root, `n${n}`);
      const t0 = Date.now();
      synthesize(values.images!, path.join(work, 'images'), n);
      const synthS = (Date.now() - t0) / 1000;
      const stages: Record<string, any> = {};
      const load0 = os.loadavg()[0];
      for (const s of ['export', 'prep', 'int8', 'fp32', 'eval']) stages[s] = child(s, work, concurrency, threads);
      for (const s of ['prep', 'eval']) stages[s].imgPerS = +(n / stages[s].wallS).toFixed(1);
      const dsBytes = du(path.join(work, 'ds'));
      runs.push({
        n,
        synthesizeS: synthS,
        stages,
        totalWallS: +Object.values(stages).reduce((t: number, s: any) => t + s.wallS, 0).toFixed(1),
        peakRssMiBMax: Math.max(...Object.values(stages).map((s: any) => s.peakRssMiB)),
        rssWithin1GiB: Object.values(stages).every((s: any) => s.peakRssMiB * 2 ** 20 <= GIB),
        disk: { datasetBytes: dsBytes, datasetGB: +(dsBytes / 1e9).toFixed(3), bytesPerImage: Math.round(dsBytes / n) },
        loadavg1: [load0, os.loadavg()[0]],
      });
      // Each N as it completes (a long run interrupted later still leaves its figures).
      process.stderr.write(`[bench-scale] ${JSON.stringify(runs.at(-1))}\n`);
      if (!values.keep) fs.rmSync(work, { recursive: true, force: true });
    }
    // Linear in N: the largest N's per-image cost over the smallest's (1.0 = perfectly linear). CPU
    // seconds are the robust figure on a shared machine (other load stretches wall time, not CPU time).
    const perImage = (r: { n: number; stages: Record<string, any> }, stage: string, key: 'wallS' | 'cpuS') => r.stages[stage][key] / r.n;
    const linearity = (key: 'wallS' | 'cpuS') =>
      runs.length > 1
        ? Object.fromEntries(['prep', 'eval'].map((s) => [s, +(perImage(runs.at(-1)!, s, key) / perImage(runs[0]!, s, key)).toFixed(3)]))
        : null;
    console.log(
      JSON.stringify(
        {
          node: process.version,
          cpu: os.cpus()[0]?.model,
          cores: os.availableParallelism(),
          concurrency,
          threads,
          runs,
          linearityWall: linearity('wallS'),
          linearityCpu: linearity('cpuS'),
        },
        null,
        2,
      ),
    );
  } finally {
    if (!values.keep) fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

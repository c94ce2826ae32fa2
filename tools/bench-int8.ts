/**
 * int8 accuracy and speed on the real pretrained MobileNetV2 (../shared): calibrate on every 5th image of
 * imagenet-sample's val_label.txt, evaluate fp32 and int8 on the other 800 (never the calibration
 * images), for every calibration method; then int8 / fp32 throughput at batch 8 with 2 and 1 threads,
 * measured interleaved. Every figure is checked against issue #3's goals (`pass`).
 * Prints JSON on stdout. Usage: npx tsx tools/bench-int8.ts [--methods percentile,max] [--reps 21]
 *
 * Timing is fair by construction: both models run with the same session options (createSession:
 * graph optimization 'all', sequential, one inter-op thread, the same intra-op threads), and each
 * calibration is timed between two fp32 forward passes over the same calibration images, so machine
 * load drifting during the run hits both sides.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { sha256 } from '../plugins/modelzoo/src/lib/common/atomic';
import { topK } from '../plugins/modelzoo/src/lib/eval/metrics';
import { type Model, encodeModel, loadModel } from '../plugins/modelzoo/src/lib/onnx/proto';
import { decodeLikePillow } from '../plugins/modelzoo/src/lib/preprocess/decode';
import { planCrop } from '../plugins/modelzoo/src/lib/preprocess/geometry';
import { pillowResizeCrop } from '../plugins/modelzoo/src/lib/preprocess/pillow-resample';
import { type GeometrySpec, PRESETS, geometryKey } from '../plugins/modelzoo/src/lib/preprocess/spec';
import { type CalibrateMode, quantizeModel } from '../plugins/modelzoo/src/lib/quant';
import { foldNormalization } from '../plugins/modelzoo/src/lib/runtime/fold-normalization';
import { createSession, ort } from '../plugins/modelzoo/src/lib/runtime/session';
import { SAMPLE_DIR, TF_MODEL, hasShared } from '../test/helpers/shared';

const GOALS = {
  maxTop1Drop: 0.5,
  minTop1Agreement: 95.5,
  minFp32Top1InInt8Top5: 99.5,
  maxCalibrationOverFp32Forward: 2.0,
  minInt8OverFp32Throughput: 2.0,
};

const SIZE = 224;
const IMG = 3 * SIZE * SIZE;
const BATCH = 8;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** The preprocessing library's entry point when it exists, else its building blocks. */
async function loader(): Promise<(file: string, g: GeometrySpec) => Promise<Uint8Array>> {
  const candidate = path.join(__dirname, '..', 'plugins', 'modelzoo', 'src', 'lib', 'preprocess', 'preprocess');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(candidate) as { preprocessImage?: (f: string, g: GeometrySpec) => Promise<Uint8Array | { data: Uint8Array }> };
    if (typeof mod.preprocessImage === 'function') {
      const fn = mod.preprocessImage;
      return async (f, g) => {
        const r = await fn(f, g);
        return r instanceof Uint8Array ? r : r.data;
      };
    }
  } catch {
    /* not written yet */
  }
  return async (file, g) => {
    const img = await decodeLikePillow(file);
    return pillowResizeCrop(img, planCrop(img.width, img.height, g), 'bilinear');
  };
}

async function loadImages(entries: { file: string; label: number }[], g: GeometrySpec): Promise<Uint8Array> {
  const key = sha256(JSON.stringify({ files: entries.map((e) => e.file), g: geometryKey(g) })).slice(0, 16);
  const cache = path.join(os.tmpdir(), `modelzoo-bench-int8-${key}.u8`);
  if (fs.existsSync(cache) && fs.statSync(cache).size === entries.length * IMG) return new Uint8Array(fs.readFileSync(cache));
  const load = await loader();
  const out = new Uint8Array(entries.length * IMG);
  for (let i = 0; i < entries.length; i++) {
    out.set(await load(path.join(SAMPLE_DIR, entries[i]!.file), g), i * IMG);
    if (i % 100 === 99) process.stderr.write(`[bench-int8] preprocessed ${i + 1}/${entries.length}\n`);
  }
  fs.writeFileSync(cache, out);
  return out;
}

function batchesOf(images: Uint8Array, idx: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < idx.length; i += BATCH) {
    const group = idx.slice(i, i + BATCH);
    const d = new Uint8Array(group.length * IMG);
    group.forEach((k, j) => d.set(images.subarray(k * IMG, (k + 1) * IMG), j * IMG));
    out.push(d);
  }
  return out;
}

const tensor = (d: Uint8Array) => new ort.Tensor('uint8', d, [d.length / IMG, 3, SIZE, SIZE]);

/** Plain forward pass: session creation and one warm-up batch are not timed. */
async function logitsOf(model: Model, batches: Uint8Array[]): Promise<{ logits: Float32Array[]; seconds: number }> {
  const s = await createSession(encodeModel(model));
  await s.run({ image_u8: tensor(batches[0]!) });
  const t0 = performance.now();
  const logits: Float32Array[] = [];
  for (const b of batches) logits.push((await s.run({ image_u8: tensor(b) })).logits!.data as Float32Array);
  const seconds = (performance.now() - t0) / 1000;
  await s.release();
  return { logits, seconds };
}

function compare(fp: Float32Array[], q: Float32Array[], labels: number[]) {
  let n = 0;
  const hits = { fpTop1: 0, fpTop5: 0, qTop1: 0, qTop5: 0, agree: 0, contain: 0 };
  fp.forEach((a, b) => {
    const c = a.length / 1000;
    for (let i = 0; i < c; i++) {
      const label = labels[n++]!;
      const f = topK(a, i * 1000, 1000, 5);
      const g = topK(q[b]!, i * 1000, 1000, 5);
      if (f[0] === label) hits.fpTop1++;
      if (f.includes(label)) hits.fpTop5++;
      if (g[0] === label) hits.qTop1++;
      if (g.includes(label)) hits.qTop5++;
      if (f[0] === g[0]) hits.agree++;
      if (g.includes(f[0]!)) hits.contain++;
    }
  });
  const pct = (v: number) => Number(((100 * v) / n).toFixed(2));
  const top1Drop = Number((pct(hits.fpTop1) - pct(hits.qTop1)).toFixed(2));
  return {
    images: n,
    fp32: { top1: pct(hits.fpTop1), top5: pct(hits.fpTop5) },
    int8: { top1: pct(hits.qTop1), top5: pct(hits.qTop5) },
    top1Drop,
    top1Agreement: pct(hits.agree),
    fp32Top1InInt8Top5: pct(hits.contain),
    pass: {
      top1Drop: top1Drop <= GOALS.maxTop1Drop,
      top1Agreement: pct(hits.agree) >= GOALS.minTop1Agreement,
      fp32Top1InInt8Top5: pct(hits.contain) >= GOALS.minFp32Top1InInt8Top5,
    },
  };
}

/** V8's gc() without --expose-gc on the command line. */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/**
 * Throughput (images/s) of both models, alternating run by run so machine noise hits both alike, with
 * identical session options both sides. ONNX Runtime's idle intra-op workers spin by default, and with
 * two sessions alternating on 2 cores the idle session's spinning worker takes a core from the running
 * one (measured: fp32 at 2 threads 31 ms/batch vs 18 ms, int8 15 vs 8.5). The goal rows therefore run
 * with spinning off on both sides; rows with ONNX Runtime's default (spinning on) are reported as well.
 */
async function speed(fp: Model, q: Model, threads: number, batch: Uint8Array, reps: number, spinning: boolean) {
  const a = await createSession(encodeModel(fp), { threads, spinning });
  const b = await createSession(encodeModel(q), { threads, spinning });
  const feeds = { image_u8: tensor(batch) };
  for (let i = 0; i < 3; i++) {
    await a.run(feeds);
    await b.run(feeds);
  }
  const ta: number[] = [];
  const tb: number[] = [];
  for (let r = 0; r < reps; r++) {
    for (const [s, out] of r % 2 ? ([[b, tb], [a, ta]] as const) : ([[a, ta], [b, tb]] as const)) {
      const t0 = performance.now();
      await s.run(feeds);
      out.push(performance.now() - t0);
    }
  }
  await a.release();
  await b.release();
  const n = batch.length / IMG;
  const fpIps = (1000 * n) / median(ta);
  const qIps = (1000 * n) / median(tb);
  const ratio = Number((qIps / fpIps).toFixed(3));
  return {
    threads,
    batch: n,
    reps,
    fp32MedianMs: Number(median(ta).toFixed(2)),
    int8MedianMs: Number(median(tb).toFixed(2)),
    fp32ImagesPerS: Number(fpIps.toFixed(1)),
    int8ImagesPerS: Number(qIps.toFixed(1)),
    ratio,
    spinning,
    note: spinning ? "ONNX Runtime's default; the idle session spins on the other one's cores" : 'goal rows: spinning off both sides',
    pass: spinning ? null : ratio >= GOALS.minInt8OverFp32Throughput,
  };
}

async function main() {
  if (!hasShared) throw new Error(`bench-int8 needs ../shared (imagenet-sample and the pretrained model)`);
  const methods = arg('methods', 'percentile,max,kl_divergence,mse').split(',') as CalibrateMode[];
  const reps = Number(arg('reps', '15'));
  const preset = PRESETS['keras']!;
  const entries = fs
    .readFileSync(path.join(SAMPLE_DIR, 'val_label.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [file, label] = l.trim().split(/\s+/);
      return { file: file!, label: Number(label) };
    });
  const images = await loadImages(entries, preset.geometry);
  const calibIdx = entries.map((_, i) => i).filter((i) => i % 5 === 0);
  const evalIdx = entries.map((_, i) => i).filter((i) => i % 5 !== 0);
  const calib = batchesOf(images, calibIdx);
  const evalBatches = batchesOf(images, evalIdx);
  const labels = evalIdx.map((i) => entries[i]!.label);
  const fp = foldNormalization(await loadModel(TF_MODEL), preset.normalize);
  const loadBefore = os.loadavg()[0]!;
  const fpEval = await logitsOf(fp, evalBatches);
  const calibSource = (n = calibIdx.length) => ({
    images: n,
    batches: async function* () {
      for (const d of calib) yield { feeds: { image_u8: tensor(d) } };
    },
  });
  // JIT warm-up of the quantizer's JavaScript (untimed, 16 images), as the fp32 side gets a warm-up batch.
  await quantizeModel(fp, calibSource(16), { calibration_count: 16 }, () => {});
  const results: Record<string, unknown>[] = [];
  const timing: Record<string, unknown>[] = [];
  const speedRows: Awaited<ReturnType<typeof speed>>[] = [];
  const speedDefaultSpinning: Awaited<ReturnType<typeof speed>>[] = [];
  for (const method of methods) {
    // The 2x budget's baseline: a plain fp32 forward over the same calibration images, right before and
    // right after calibrating (their mean), so load changes during the run affect both sides alike.
    // Each timed section starts from a collected heap: earlier sections' garbage is not charged to it.
    collectGarbage();
    const before = await logitsOf(fp, calib);
    collectGarbage();
    const q = await quantizeModel(fp, calibSource(), { calibrate_mode: method, calibration_count: calibIdx.length }, () => {});
    collectGarbage();
    const after = await logitsOf(fp, calib);
    if (method === 'percentile') {
      // Throughput of the default model, measured as soon as it exists, after a full collection (V8's
      // parallel GC threads would compete with ONNX Runtime's for the 2 cores). Measured at the end of the
      // run instead, both models came out slower (fp32 19 vs 17.6 ms/batch at 2 threads; cause not found).
      collectGarbage();
      for (const threads of [2, 1]) speedRows.push(await speed(fp, q.model, threads, calib[0]!, reps, false));
      for (const threads of [2, 1]) speedDefaultSpinning.push(await speed(fp, q.model, threads, calib[0]!, reps, true));
    }
    const qEval = await logitsOf(q.model, evalBatches);
    const cal = q.details['calibration'] as { seconds: number };
    const fpSeconds = (before.seconds + after.seconds) / 2;
    const ratio = Number((cal.seconds / fpSeconds).toFixed(2));
    results.push({ method, ...compare(fpEval.logits, qEval.logits, labels) });
    timing.push({
      method,
      calibrationSeconds: cal.seconds,
      fp32ForwardSecondsSameImages: Number(fpSeconds.toFixed(3)),
      fp32ForwardBeforeAfter: [Number(before.seconds.toFixed(3)), Number(after.seconds.toFixed(3))],
      calibrationOverFp32Forward: ratio,
      pass: ratio <= GOALS.maxCalibrationOverFp32Forward,
    });
    process.stderr.write(`[bench-int8] ${JSON.stringify(results[results.length - 1])} ${JSON.stringify(timing[timing.length - 1])}\n`);
  }
  const ratios = timing.map((t) => t['calibrationOverFp32Forward'] as number);
  const out = {
    model: TF_MODEL,
    calibrationImages: calibIdx.length,
    evalImages: evalIdx.length,
    ortVersion: ort.env.versions?.common ?? 'unknown',
    cpus: os.cpus().length,
    loadAverage1m: { start: Number(loadBefore.toFixed(2)), end: Number(os.loadavg()[0]!.toFixed(2)) },
    goals: GOALS,
    accuracy: results,
    calibrationTime: {
      note: 'calibration: total wall time of statistics collection (sampling-graph build, ONNX Runtime session, all batches, histograms, hash); fp32 forward: the same images through a warm plain fp32 session, the mean of one pass before and one after',
      perMethod: timing,
      medianRatio: median(ratios),
      pass: median(ratios) <= GOALS.maxCalibrationOverFp32Forward,
    },
    speed: speedRows,
    speedSpinningOn: speedDefaultSpinning,
    allPass:
      results.every((r) => Object.values(r['pass'] as Record<string, boolean>).every(Boolean)) &&
      timing.every((t) => t['pass']) &&
      speedRows.every((r) => r.pass === true),
  };
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

main().catch((err) => {
  process.stderr.write(`bench-int8: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});

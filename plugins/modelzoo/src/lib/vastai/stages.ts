import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { exists, readJson, withAtomicDir, writeFileAtomic, writeJsonAtomic } from '../common/atomic';
import { UserError } from '../common/errors';
import { machineIdentity } from '../bench/machine';
import { GEOMETRY_FILE, type GeometryJson } from '../dataset/manifest';
import { openDataset } from '../dataset/reader';
import { CARD_FILE, MODEL_FILE } from '../export/export-model';
import { geometryKey, resolvePreset } from '../preprocess/spec';
import type { BenchResult, BuildManifest, EvalResult, ModelCard, StoredBenchConfigResult, StoredLatencyStats } from '../results';
import { checkGeneration, type Generation } from './generation';
import { verifyFile } from '../common/verify';
import { NPZ_DATALIST, NPZ_LABELS, NPZ_MANIFEST, type NpzDatasetManifest, npzSourceKey, verifyNpzDataset, writeNpzDataset } from './npz-dataset';
import { runVamcBuild, type VamcBuildDetails } from './vamc-build';
import type { CalibrateMode, VamcQuantization } from './vamc-config';
import { runVampBench } from './vamp-bench';
import { runVampEval } from './vamp-eval';

/**
 * The three pipeline stages (and dataset-prep's npz step) on the VastAI backend, as the executors call
 * them with `backend: 'vastai'`. They read and write the same build.json / bench.json / eval.json as
 * the onnxruntime path; what is VastAI-specific lives under `details` (build, eval) and `vastai` (bench rows).
 */
const BUILD_MANIFEST = 'build.json';
/** Where dataset-prep `format: npz` puts the npz inputs, inside its outputPath. */
export const NPZ_SUBDIR = 'npz';

const seconds = (s?: number) => (s === undefined ? undefined : Math.round(s * 1000));

// ---------------------------------------------------------------- dataset-prep, format: npz

/** Sibling of a dataset directory holding its npz files while dataset-prep rewrites the directory. */
const NPZ_RESUME_SUFFIX = '.npz-resume';

/**
 * dataset-prep rewrites its whole output directory (built under a temp name, then renamed), which would
 * throw away the npz files of a killed run. Call this first: it moves `<datasetDir>/npz` aside, and
 * writeDatasetNpz takes it back when it was written from the same images, so only the missing files
 * are written again (hours on the 50,000-image val set).
 */
export async function setAsideNpz(datasetDir: string): Promise<void> {
  const from = path.join(datasetDir, NPZ_SUBDIR);
  const aside = datasetDir + NPZ_RESUME_SUFFIX;
  if (await exists(from)) {
    await fs.rm(aside, { recursive: true, force: true });
    await fs.rename(from, aside);
  }
}

/** Writes `<datasetDir>/npz` (one .npz per image + vamp's datalist) from a prepared uint8 dataset. */
export async function writeDatasetNpz(datasetDir: string): Promise<{ dir: string; count: number; written: number; resumed: number }> {
  const ds = await openDataset(datasetDir);
  try {
    const dir = path.join(datasetDir, NPZ_SUBDIR);
    const aside = datasetDir + NPZ_RESUME_SUFFIX;
    if (await exists(aside)) {
      const previous = await readJson<NpzDatasetManifest>(path.join(aside, NPZ_MANIFEST), 'npz dataset').catch(() => undefined);
      // Files of other images (the dataset changed since) are never mixed in: start over.
      if (previous?.source.key === npzSourceKey(ds) && !(await exists(dir))) await fs.rename(aside, dir);
      else await fs.rm(aside, { recursive: true, force: true });
    }
    const r = await writeNpzDataset(ds, dir);
    return { dir, count: r.manifest.count, written: r.written, resumed: r.skipped };
  } finally {
    await ds.close();
  }
}

// ---------------------------------------------------------------- vamc-build

export interface VastaiBuildOptionsObject {
  generation?: Generation | number;
  vamcPath?: string;
  precision?: 'int8' | 'fp16';
  name?: string;
  extraSoftmax?: boolean;
  calibrationDir?: string;
  calibrationSuffix?: string;
  timeoutSeconds?: number;
}

export interface VastaiBuildStageOptions {
  /** onnx-export output directory (model.onnx + model-card.json). */
  model: string;
  /** dataset-prep output directory: geometry check and (int8) the calibration subset. */
  dataset: string;
  preprocess: string;
  precision: 'fp32' | 'int8';
  quantization?: Record<string, unknown>;
  outputPath: string;
  vastai: VastaiBuildOptionsObject;
}

/** The shared quantization options as vamc has them (vamc has no activation_type / sensitivity). */
export function vamcQuantization(q: Record<string, unknown> = {}): VamcQuantization {
  const mode = (q['calibrate_mode'] ?? q['quant_mode']) as CalibrateMode | undefined;
  const out: VamcQuantization = {};
  if (mode) out.calibrate_mode = mode;
  if ((mode ?? 'percentile') === 'percentile' && typeof q['percentile'] === 'number') out.percentile = q['percentile'];
  const perChannel = q['quantize_per_channel'] ?? q['per_channel'];
  if (typeof perChannel === 'boolean') out.per_channel = perChannel;
  if (Array.isArray(q['exclude_layers']) && q['exclude_layers'].length) out.exclude_layers = q['exclude_layers'] as string[];
  if (Array.isArray(q['skip_conv_layers']) && q['skip_conv_layers'].length) out.skip_conv_layers = q['skip_conv_layers'] as number[];
  if (typeof q['calibration_count'] === 'number') out.calibration_count = q['calibration_count'];
  return out;
}

export async function vastaiBuild(o: VastaiBuildStageOptions): Promise<BuildManifest> {
  const spec = resolvePreset(o.preprocess, 'vamc-build');
  const generation = checkGeneration(o.vastai.generation ?? '2025');
  const card = await readJson<ModelCard>(path.join(o.model, CARD_FILE), 'vamc-build option model');
  const dataset = await readJson<GeometryJson>(path.join(o.dataset, GEOMETRY_FILE), 'vamc-build option dataset');
  if (geometryKey(dataset.geometry) !== geometryKey(spec.geometry)) {
    throw new UserError(
      `dataset ${o.dataset} was prepared with geometry ${geometryKey(dataset.geometry)} but preset '${o.preprocess}' needs ${geometryKey(spec.geometry)}`,
    );
  }
  const [, c, h, w] = card.input.shape;
  if (h !== dataset.shape[1] || w !== dataset.shape[2]) {
    throw new UserError(`model input is ${h}x${w} but dataset ${o.dataset} holds ${dataset.shape[1]}x${dataset.shape[2]} images`);
  }
  // fp32 builds run fp16 on the card; an explicit vastai.precision wins.
  const precision = o.vastai.precision ?? (o.precision === 'int8' ? 'int8' : 'fp16');
  const modelOnnx = path.join(o.model, MODEL_FILE);
  // vamc reads the file itself: check it against the card before handing it over.
  await verifyFile(modelOnnx, card.sha256, 'exported model');
  let manifest: BuildManifest | undefined;
  await runVamcBuild({
    modelOnnx,
    outDir: o.outputPath,
    spec,
    precision,
    generation,
    quantization: precision === 'int8' ? vamcQuantization(o.quantization) : undefined,
    calibrationDataset: precision === 'int8' && !o.vastai.calibrationDir ? o.dataset : undefined,
    calibrationDir: o.vastai.calibrationDir,
    calibrationSuffix: o.vastai.calibrationSuffix,
    name: o.vastai.name,
    inputName: card.input.name,
    inputShape: [1, typeof c === 'number' ? c : 3, Number(h), Number(w)],
    extraSoftmax: o.vastai.extraSoftmax,
    vamcPath: o.vastai.vamcPath,
    timeoutMs: seconds(o.vastai.timeoutSeconds),
    onComplete: async (tmp, details: VamcBuildDetails) => {
      manifest = {
        backend: 'vastai',
        precision,
        model: details.modelPrefix,
        sha256: details.sha256,
        from: { file: modelOnnx, sha256: card.sha256 },
        weights: card.weights,
        // vamp is fed the prepared uint8 npz inputs; the vdsp_params normalize on the device.
        inputDtype: 'uint8',
        inputShape: details.inputShape,
        preprocess: o.preprocess,
        normalizationFolded: false,
        details: { ...details },
      };
      if (details.stand_in) manifest.stand_in = true;
      await writeJsonAtomic(path.join(tmp, BUILD_MANIFEST), manifest);
    },
  });
  return manifest!;
}

/** build.json of a vastai build, or a clear error naming how to get one. */
export async function readVastaiBuild(modelDir: string, stage: string): Promise<BuildManifest & { details: VamcBuildDetails }> {
  const build = await readJson<BuildManifest>(path.join(modelDir, BUILD_MANIFEST), `${stage} option model`);
  if (build.backend !== 'vastai') {
    throw new UserError(
      `${stage}: ${modelDir} was built with backend '${build.backend}'; backend 'vastai' needs a vamc-build with backend 'vastai' (nx ... -c vastai)`,
    );
  }
  return build as BuildManifest & { details: VamcBuildDetails };
}

// ---------------------------------------------------------------- vamp-bench

export interface VampToolOptions {
  vampPath?: string;
  batch?: number | number[];
  instances?: number;
  processes?: number;
  device?: number;
  timeoutSeconds?: number;
}

export interface VastaiBenchStageOptions {
  model: string;
  /** The target's own batch / instances, used when vastai.batch / vastai.instances are not set. */
  batch: number | number[];
  instances: number;
  outputPath: string;
  vastai: VampToolOptions;
}

const nullIfNaN = (v: number | undefined): number | null => (v === undefined || Number.isNaN(v) ? null : v);
const dash = (v: number | null | undefined, digits = 2) => (v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(digits));

export function formatVampBenchTable(rows: StoredBenchConfigResult[], standIn: boolean): string {
  const head = '| batch | processes | instances | img/s | p50 ms | p90 ms | p95 ms | p99 ms | mean ms |';
  const sep = '|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const body = rows.map(
    (r) =>
      `| ${r.batch} | ${r.threads} | ${r.instances} | ${r.throughput.toFixed(1)} | ${dash(r.latencyMs.p50)} | ${dash(r.latencyMs.p90)} | ${dash(r.latencyMs.p95)} | ${dash(r.latencyMs.p99)} | ${dash(r.latencyMs.mean)} |`,
  );
  const note = standIn ? ['', 'STAND-IN: figures from test/stand-ins/vamp (ONNX Runtime on this CPU), not VastAI hardware.'] : [];
  return [head, sep, ...body, ...note, '', '— : vamp did not report this figure.'].join('\n');
}

export async function vastaiBench(o: VastaiBenchStageOptions): Promise<BenchResult> {
  const build = await readVastaiBuild(o.model, 'vamp-bench');
  const batchOpt = o.vastai.batch ?? o.batch;
  const batches = Array.isArray(batchOpt) ? batchOpt : [batchOpt];
  const instances = o.vastai.instances ?? o.instances ?? 1;
  const results: StoredBenchConfigResult[] = [];
  let standIn = false;
  const result = await withAtomicDir(o.outputPath, async (tmp) => {
    for (const batch of batches) {
      const r = await runVampBench({
        modelPrefix: path.join(o.model, build.details.modelPrefix),
        vdspParams: path.join(o.model, build.details.vdspParams),
        batch,
        instances,
        processes: o.vastai.processes ?? 1,
        device: o.vastai.device,
        vampPath: o.vastai.vampPath,
        timeoutMs: seconds(o.vastai.timeoutSeconds),
        // vamp runs in the temp output directory, so nothing it writes lands in the build's outputs.
        cwd: tmp,
      });
      standIn ||= r.vastai.standIn;
      const latencyMs = Object.fromEntries(Object.entries(r.latencyMs).map(([k, v]) => [k, nullIfNaN(v)])) as StoredLatencyStats;
      results.push({ ...r, seconds: nullIfNaN(r.seconds), latencyMs, vastai: { ...r.vastai } });
      if (!process.env['MODELZOO_QUIET']) {
        process.stderr.write(`[vamp-bench] batch ${batch}: ${r.throughput.toFixed(1)} img/s${r.vastai.standIn ? ' (stand-in)' : ''}\n`);
      }
    }
    const bench: BenchResult = {
      backend: 'vastai',
      model: o.model,
      precision: build.precision,
      weights: build.weights,
      machine: machineIdentity(),
      results,
    };
    if (standIn) bench.stand_in = true;
    await writeJsonAtomic(path.join(tmp, 'bench.json'), bench);
    await writeFileAtomic(path.join(tmp, 'bench.md'), formatVampBenchTable(results, standIn) + '\n');
    return bench;
  });
  process.stdout.write(formatVampBenchTable(results, standIn) + '\n');
  return result;
}

// ---------------------------------------------------------------- vamp-eval

export interface VastaiEvalStageOptions {
  model: string;
  dataset: string;
  batch: number;
  instances?: number;
  limit?: number;
  reference?: { top1: number; top5: number; tolerance: number };
  outputPath: string;
  vastai: VampToolOptions & { npzDir?: string };
}

/** The npz inputs dataset-prep wrote (format: npz), checked complete and where the datalist says. */
export async function readNpzInputs(dir: string): Promise<{ manifest: NpzDatasetManifest; datalist: string; labels: string; files: string[] }> {
  const file = path.join(dir, NPZ_MANIFEST);
  const manifest = await readJson<NpzDatasetManifest & { complete?: boolean }>(file, 'vamp-eval npz inputs').catch(() => {
    throw new UserError(
      `vamp-eval: no npz inputs at ${dir} (${NPZ_MANIFEST} missing): run dataset-prep with format: 'npz' (the 'vastai' configuration does), or set vastai.npzDir`,
    );
  });
  if (!manifest.complete) throw new UserError(`vamp-eval: the npz inputs at ${dir} are incomplete (dataset-prep was interrupted); run dataset-prep again`);
  await verifyNpzDataset(dir, manifest);
  const datalist = path.join(dir, NPZ_DATALIST);
  const files = (await fs.readFile(datalist, 'utf8')).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (files.length !== manifest.count) throw new UserError(`vamp-eval: ${datalist} lists ${files.length} files, ${NPZ_MANIFEST} says ${manifest.count}`);
  if (files[0] && !(await fs.stat(files[0]).catch(() => undefined))) {
    throw new UserError(`vamp-eval: ${datalist} names ${files[0]}, which does not exist (was the workspace moved? run dataset-prep again with --skip-nx-cache)`);
  }
  return { manifest, datalist, labels: path.join(dir, NPZ_LABELS), files };
}

export async function vastaiEval(o: VastaiEvalStageOptions): Promise<EvalResult> {
  const build = await readVastaiBuild(o.model, 'vamp-eval');
  const npzDir = o.vastai.npzDir ?? path.join(o.dataset, NPZ_SUBDIR);
  const npz = await readNpzInputs(npzDir);
  const modelPrefix = path.join(o.model, build.details.modelPrefix);
  const vdspParams = path.join(o.model, build.details.vdspParams);
  const batch = typeof o.vastai.batch === 'number' ? o.vastai.batch : o.batch;
  const instances = o.vastai.instances ?? o.instances ?? 1;
  const result = await withAtomicDir(o.outputPath, async (tmp) => {
    let datalist = npz.datalist;
    if (o.limit !== undefined && o.limit < npz.files.length) {
      datalist = path.join(tmp, 'npz_datalist.limit.txt');
      await writeFileAtomic(datalist, npz.files.slice(0, o.limit).join('\n') + '\n');
    }
    const outputDir = path.join(tmp, 'vamp-output');
    const r = await runVampEval({
      modelPrefix,
      vdspParams,
      batch,
      instances,
      processes: o.vastai.processes ?? 1,
      device: o.vastai.device,
      vampPath: o.vastai.vampPath,
      timeoutMs: seconds(o.vastai.timeoutSeconds),
      npzDatalist: datalist,
      outputDir,
      labels: npz.labels,
      meta: { model: o.model, precision: build.precision, weights: build.weights, demoData: npz.manifest.demo },
      predictionsCsv: path.join(tmp, 'predictions.csv'),
    });
    // One output npz per image is a copy of what predictions.csv records; keep the output small.
    await fs.rm(outputDir, { recursive: true, force: true });
    r.details = {
      generation: build.details.generation,
      modelPrefix: build.details.modelPrefix,
      vdspParams: build.details.vdspParams,
      npzDatalist: npz.datalist,
      npzImages: r.images,
      batch,
      instances,
      processes: o.vastai.processes ?? 1,
    };
    if (build.stand_in) r.stand_in = true;
    if (o.reference) {
      const passed = Math.abs(r.top1 - o.reference.top1) <= o.reference.tolerance && Math.abs(r.top5 - o.reference.top5) <= o.reference.tolerance;
      r.reference = { ...o.reference, passed };
    }
    await writeJsonAtomic(path.join(tmp, 'eval.json'), r);
    return r;
  });
  process.stdout.write(
    `top-1 ${result.top1.toFixed(2)}%  top-5 ${result.top5.toFixed(2)}%  on ${result.images} images (vastai${result.stand_in ? ' STAND-IN, not VastAI hardware' : ''})` +
      `${result.demoData ? ' (DEMO data, not ImageNet val)' : ''}${result.weights === 'random-init' ? ' [random-init weights]' : ''}\n`,
  );
  if (result.reference && !result.reference.passed) {
    throw new UserError(
      `accuracy gate failed: top-1 ${result.top1.toFixed(2)} / top-5 ${result.top5.toFixed(2)} vs reference ${o.reference!.top1} / ${o.reference!.top5} (tolerance ${o.reference!.tolerance} points)`,
    );
  }
  return result;
}

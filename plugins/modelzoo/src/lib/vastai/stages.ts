import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { exists, readJson, withAtomicDir, writeFileAtomic, writeJsonAtomic } from '../common/atomic';
import { UserError } from '../common/errors';
import { BENCH_FILE, benchBatches, type BenchSettings, renderBenchMarkdown, uniqueLabels } from '../bench/bench-model';
import { median } from '../bench/latency';
import { benchEnvironment, loadAverage } from '../bench/machine';
import { coefficientOfVariation, pairedRatio } from '../bench/stats';
import { GEOMETRY_FILE, type GeometryJson } from '../dataset/manifest';
import { openDataset } from '../dataset/reader';
import { evalProvenance } from '../eval/evaluate-model';
import { CARD_FILE, MODEL_FILE } from '../export/export-model';
import { geometryKey, resolvePreset } from '../preprocess/spec';
import { BENCH_FORMAT, type BenchResult, type BuildManifest, type EvalProvenance, type EvalResult, type ModelCard, type PairedRatio, type StoredBenchConfigResult, type StoredLatencyStats } from '../results';
import { checkGeneration, type Generation } from './generation';
import { verifyFile } from '../common/verify';
import { NPZ_DATALIST, NPZ_LABELS, NPZ_MANIFEST, type NpzDatasetManifest, npzSourceKey, verifyNpzDataset, writeNpzDataset } from './npz-dataset';
import { runVamcBuild, type VamcBuildDetails } from './vamc-build';
import type { CalibrateMode, VamcQuantization } from './vamc-config';
import type { VampBenchConfigResult } from './vamp-output';
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
    await removeNpzAside(aside);
    await fs.rename(from, aside);
  }
}

/**
 * The set-aside folder sits beside the output, outside its marker: it is removed only when it holds the
 * npz manifest a previous dataset-prep wrote, never a folder someone else happened to name so.
 */
async function removeNpzAside(aside: string): Promise<void> {
  if (!(await exists(aside))) return;
  if (!(await exists(path.join(aside, NPZ_MANIFEST)))) {
    throw new UserError(`dataset-prep: ${aside} exists but was not left by dataset-prep (it holds no ${NPZ_MANIFEST}); move or remove it yourself, then run again`);
  }
  await fs.rm(aside, { recursive: true, force: true });
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
      else await removeNpzAside(aside);
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

export interface VastaiBenchStageOptions extends BenchSettings {
  /** vamc-build (backend vastai) output directories, measured together; the first is every ratio's baseline. */
  models: string[];
  outputPath: string;
  vastai: VampToolOptions;
}

const nullIfNaN = (v: number | undefined): number | null => (v === undefined || Number.isNaN(v) ? null : v);

/** The median of each latency figure over the reps (null where vamp never printed it). */
function medianLatency(reps: StoredLatencyStats[]): StoredLatencyStats {
  const keys = ['min', 'mean', 'p50', 'p90', 'p95', 'p99', 'max'] as const;
  return Object.fromEntries(
    keys.map((k) => {
      const vs = reps.map((r) => r[k]).filter((v): v is number => v !== null);
      return [k, vs.length === reps.length && vs.length > 0 ? median(vs) : null];
    }),
  ) as StoredLatencyStats;
}

/** The content hash vamc-build recorded over the compiled model's files (names and bytes, several files: not
 * the single-file scheme of common/verify.ts), recomputed before they are run. */
async function verifyVastaiModel(dir: string, build: BuildManifest & { details: VamcBuildDetails }): Promise<void> {
  const hash = createHash('sha256');
  for (const f of build.details.modelFiles) hash.update(path.basename(f)).update(await fs.readFile(path.join(dir, f)));
  const actual = hash.digest('hex');
  if (actual !== build.details.sha256) {
    throw new UserError(`vamp-bench: the model files of ${dir} hash to ${actual}, but build.json records ${build.details.sha256}; rebuild it (nx run <project>:vamc-build -c vastai --skip-nx-cache)`);
  }
}

/**
 * vamp over every listed build, interleaved run by run (ABBA) at each batch: one vamp run per build per
 * rep, so a slow phase of the card or host hits every build alike. The same bench.json as onnxruntime.
 */
export async function vastaiBench(o: VastaiBenchStageOptions): Promise<BenchResult> {
  const builds: (BuildManifest & { details: VamcBuildDetails })[] = [];
  for (const dir of o.models) {
    const build = await readVastaiBuild(dir, 'vamp-bench');
    await verifyVastaiModel(dir, build);
    builds.push(build);
  }
  const { batches, reportBatch } = benchBatches({ batch: o.vastai.batch ?? o.batch, reportBatch: o.reportBatch });
  const instances = o.vastai.instances ?? o.instances ?? 1;
  const labels = uniqueLabels(builds.map((b) => b.precision));
  const results: StoredBenchConfigResult[][] = builds.map(() => []);
  const pairs: PairedRatio[] = [];
  let standIn = false;
  const startedAt = new Date().toISOString();
  const before = loadAverage();
  const result = await withAtomicDir(o.outputPath, async (tmp) => {
    for (const batch of batches) {
      const perRep = builds.map(() => [] as number[]);
      const runs = builds.map(() => [] as VampBenchConfigResult[]);
      for (let rep = 0; rep < o.reps; rep++) {
        const order = builds.map((_, i) => i);
        if (rep % 2 === 1) order.reverse();
        for (const m of order) {
          const r = await runVampBench({
            modelPrefix: path.join(o.models[m]!, builds[m]!.details.modelPrefix),
            vdspParams: path.join(o.models[m]!, builds[m]!.details.vdspParams),
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
          perRep[m]!.push(r.throughput);
          runs[m]!.push(r);
        }
      }
      builds.forEach((_, m) => {
        const rs = runs[m]!;
        const cv = coefficientOfVariation(perRep[m]!);
        const secs = rs.map((r) => r.seconds).filter((v) => !Number.isNaN(v));
        const row: StoredBenchConfigResult = {
          batch,
          threads: rs[0]!.threads,
          instances: rs[0]!.instances,
          iterations: rs.reduce((a, r) => a + r.iterations, 0),
          seconds: secs.length === rs.length ? secs.reduce((a, v) => a + v, 0) : null,
          throughput: median(perRep[m]!),
          latencyMs: medianLatency(rs.map((r) => Object.fromEntries(Object.entries(r.latencyMs).map(([k, v]) => [k, nullIfNaN(v)])) as StoredLatencyStats)),
          reps: perRep[m]!,
          cv,
          unstable: cv > o.cvThreshold,
          vastai: { ...rs[0]!.vastai },
        };
        results[m]!.push(row);
        if (!process.env['MODELZOO_QUIET']) {
          process.stderr.write(`[vamp-bench] ${labels[m]} batch ${batch}: ${row.throughput.toFixed(1)} img/s (CV ${(cv * 100).toFixed(1)}%)${standIn ? ' (stand-in)' : ''}\n`);
        }
      });
      for (let m = 1; m < builds.length; m++) {
        const p = pairedRatio(perRep[0]!, perRep[m]!);
        pairs.push({ batch, of: labels[m]!, over: labels[0]!, ratio: p.median, cv: p.cv, unstable: p.cv > o.cvThreshold, ratios: p.ratios });
      }
    }
    const bench: BenchResult = {
      format: BENCH_FORMAT,
      backend: 'vastai',
      startedAt,
      finishedAt: new Date().toISOString(),
      load: { before, after: loadAverage() },
      machine: benchEnvironment(),
      runtime: { name: standIn ? 'vamp stand-in (ONNX Runtime on this CPU)' : 'vamp', version: null },
      settings: { batches, threads: o.vastai.processes ?? 1, instances, warmup: 0, reps: o.reps, durationSec: null, iterations: null, cvThreshold: o.cvThreshold },
      reportBatch,
      models: builds.map((b, m) => ({
        label: labels[m]!,
        model: o.models[m]!,
        sha256: b.details.sha256,
        precision: b.precision,
        weights: b.weights,
        ...(b.stand_in || results[m]!.some((r) => r.vastai?.['standIn']) ? { stand_in: true } : {}),
        results: results[m]!,
      })),
      pairs,
    };
    if (standIn) bench.stand_in = true;
    const md = renderBenchMarkdown(bench);
    await writeJsonAtomic(path.join(tmp, BENCH_FILE), bench);
    await writeFileAtomic(path.join(tmp, 'bench.md'), md + '\n' + (standIn ? '\nSTAND-IN: figures from test/stand-ins/vamp (ONNX Runtime on this CPU), not VastAI hardware.\n' : ''));
    return bench;
  });
  process.stdout.write(renderBenchMarkdown(result) + '\n');
  return result;
}

// ---------------------------------------------------------------- vamp-eval

export interface VastaiEvalStageOptions {
  model: string;
  dataset: string;
  batch: number;
  instances?: number;
  limit?: number;
  holdout?: boolean;
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
    // The prepared dataset beside the npz files: its calibration subset (holdout, overlap) and identity.
    const ds = await openDataset(o.dataset);
    let prov: EvalProvenance;
    let indices: number[];
    try {
      if (ds.entries.length !== npz.files.length) {
        throw new UserError(`vamp-eval: ${npzDir} holds ${npz.files.length} npz inputs but ${o.dataset} has ${ds.entries.length} images; rerun dataset-prep -c vastai`);
      }
      const subset = await ds.calibrationIndices();
      const inSubset = new Set(subset);
      indices = ds.entries.map((_, i) => i).filter((i) => !o.holdout || !inSubset.has(i));
      if (indices.length === 0) throw new UserError(`vamp-eval: option holdout leaves no image to evaluate: every image of ${o.dataset} is in its calibration subset`);
      if (o.limit !== undefined) indices = indices.slice(0, o.limit);
      prov = evalProvenance(o.dataset, ds, indices, o.holdout ?? false, build, subset);
    } finally {
      await ds.close();
    }
    let datalist = npz.datalist;
    if (indices.length < npz.files.length) {
      datalist = path.join(tmp, 'npz_datalist.subset.txt');
      await writeFileAtomic(datalist, indices.map((i) => npz.files[i]!).join('\n') + '\n');
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
    Object.assign(r, prov);
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

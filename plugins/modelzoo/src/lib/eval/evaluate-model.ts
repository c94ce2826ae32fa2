import * as path from 'node:path';
import { readJson, withAtomicDir, writeFileAtomic, writeJsonAtomic } from '../common/atomic';
import { UserError } from '../common/errors';
import { readVerified } from '../common/verify';
import { BUILD_MANIFEST } from '../build/build-model';
import { sha256 } from '../common/atomic';
import { calibrationOverlap } from '../dataset/calibration';
import { type OpenDataset, openDataset } from '../dataset/reader';
import type { BuildManifest, EvalProvenance, EvalResult } from '../results';
import { runEval } from './run-eval';

export interface EvaluateOptions {
  model: string;
  dataset: string;
  batch: number;
  threads: number;
  limit?: number;
  /** Evaluate only images outside the dataset's calibration subset (fp32 and int8 alike: a fair pair). */
  holdout?: boolean;
  /** Reference figures (e.g. the zoo table's) and the tolerance in points; only gated when set. */
  reference?: { top1: number; top5: number; tolerance: number };
  outputPath: string;
  /** How eval.json names the model (the option as written, workspace-relative); default: `model`. */
  modelName?: string;
  /** `project:target` that wrote `model` / `dataset`, named when an artefact fails its sha256 check. */
  producers?: { model?: string; dataset?: string };
}

/** Writes eval.json (EvalResult) and predictions.csv (file, label, top-5) into outputPath. */
export async function evaluateModel(o: EvaluateOptions): Promise<EvalResult> {
  const build = await readJson<BuildManifest>(path.join(o.model, BUILD_MANIFEST), 'vamp-eval option model');
  // Read once, hashed in memory against build.json, and handed to ONNX Runtime as bytes.
  const modelBytes = await readVerified(path.join(o.model, build.model), build.sha256, 'built model', o.producers?.model);
  const ds = await openDataset(o.dataset, { producer: o.producers?.dataset });
  try {
    const subset = await ds.calibrationIndices();
    const inSubset = new Set(subset);
    const all = ds.entries.map((_, i) => i).filter((i) => !o.holdout || !inSubset.has(i));
    if (all.length === 0) throw new UserError(`vamp-eval: option holdout leaves no image to evaluate: all ${ds.entries.length} images of ${o.dataset} are in its calibration subset; prepare more images or a smaller calibrationSize`);
    const indices = o.limit ? all.slice(0, o.limit) : all;
    const run = await runEval({ model: modelBytes, dataset: ds, batch: o.batch, threads: o.threads, indices });
    const s = run.counter.summary();
    const result: EvalResult = {
      backend: 'onnxruntime',
      model: o.modelName ?? o.model,
      precision: build.precision,
      weights: build.weights,
      demoData: ds.manifest.demo,
      images: s.images,
      top1: s.top1,
      top5: s.top5,
      perClass: s.perClass,
      seconds: run.seconds,
      throughput: run.throughput,
      ...evalProvenance(o.dataset, ds, indices, o.holdout ?? false, build, subset),
    };
    if (o.reference) {
      const passed =
        Math.abs(s.top1 - o.reference.top1) <= o.reference.tolerance && Math.abs(s.top5 - o.reference.top5) <= o.reference.tolerance;
      result.reference = { ...o.reference, passed };
    }
    const lines = ['file,label,top5'];
    for (const idx of indices) {
      const e = ds.entries[idx]!;
      // Stryker disable next-line ArrayDeclaration: unreachable fallback: runEval adds a prediction for every evaluated index
      lines.push(`${JSON.stringify(e.file)},${e.label},${(run.counter.predictions.get(idx) ?? []).join(' ')}`);
    }
    await withAtomicDir(o.outputPath, async (dir) => {
      await writeJsonAtomic(path.join(dir, 'eval.json'), result);
      await writeFileAtomic(path.join(dir, 'predictions.csv'), lines.join('\n') + '\n');
    });
    process.stdout.write(
      `${result.calibration!.overlap} of the ${result.calibration!.images} ${result.calibration!.source === 'build' ? 'images this int8 model was calibrated on' : "images of the dataset's calibration subset"} are among the ${s.images} evaluated${o.holdout ? ' (holdout)' : ''}\n` +
      `top-1 ${s.top1.toFixed(2)}%  top-5 ${s.top5.toFixed(2)}%  on ${s.images} images` +
        `${ds.manifest.demo ? ' (DEMO data, not ImageNet val)' : ''}${build.weights === 'random-init' ? ' [random-init weights]' : ''}\n`,
    );
    if (result.reference && !result.reference.passed) {
      throw new UserError(
        `accuracy gate failed: top-1 ${s.top1.toFixed(2)} / top-5 ${s.top5.toFixed(2)} vs reference ${o.reference!.top1} / ${o.reference!.top5} (tolerance ${o.reference!.tolerance} points)`,
      );
    }
    return result;
  } finally {
    await ds.close();
  }
}

/**
 * What was evaluated and how it relates to calibration: the dataset's identity (a content fingerprint of
 * the evaluated tensors and labels, not of file dates), and how many calibration images were scored. An
 * int8 build counts its own calibration images (build.json); an fp32 build the dataset's subset.
 */
export function evalProvenance(
  datasetDir: string,
  ds: Pick<OpenDataset, 'entries' | 'manifest'>,
  indices: readonly number[],
  holdout: boolean,
  build: Pick<BuildManifest, 'details'>,
  subset: readonly number[],
): EvalProvenance {
  const evaluated = indices.map((i) => ds.entries[i]!);
  const list = evaluated.map((e) => `${e.file} ${e.label}\n`).join('');
  const fingerprint = sha256(ds.manifest.shards.map((s) => s.sha256).join('\n') + '\n' + sha256(list));
  const buildFiles = (build.details?.['calibration'] as { files?: unknown } | undefined)?.files;
  const calibFiles = Array.isArray(buildFiles) ? (buildFiles as string[]) : subset.map((i) => ds.entries[i]!.file);
  return {
    dataset: {
      // The dataset project's output folder names it (dist/datasets/<project>[/vastai]/<geometry>): the
      // image folder's own path is not recorded, so results stay the same wherever the images live.
      name: ds.manifest.demo ? 'demo' : datasetName(datasetDir),
      prepared: path.basename(datasetDir),
      images: evaluated.length,
      total: ds.entries.length,
      fingerprint,
      demo: ds.manifest.demo,
    },
    holdout,
    calibration: {
      source: Array.isArray(buildFiles) ? 'build' : 'dataset',
      images: calibFiles.length,
      overlap: calibrationOverlap(calibFiles, evaluated.map((e) => e.file)),
    },
  };
}

function datasetName(datasetDir: string): string {
  const parts = path.resolve(datasetDir).split(path.sep).slice(0, -1).filter((p) => p !== 'vastai');
  // Stryker disable next-line StringLiteral: unreachable fallback: a resolved path splits into at least [''], so parts is never empty
  return parts[parts.length - 1] ?? 'dataset';
}

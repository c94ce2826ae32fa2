import * as path from 'node:path';
import { readJson, withAtomicDir, writeFileAtomic, writeJsonAtomic } from '../common/atomic';
import { UserError } from '../common/errors';
import { readVerified } from '../common/verify';
import { BUILD_MANIFEST } from '../build/build-model';
import { openDataset } from '../dataset/reader';
import type { BuildManifest, EvalResult } from '../results';
import { runEval } from './run-eval';

export interface EvaluateOptions {
  model: string;
  dataset: string;
  batch: number;
  threads: number;
  limit?: number;
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
    const all = ds.entries.map((_, i) => i);
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
    };
    if (o.reference) {
      const passed =
        Math.abs(s.top1 - o.reference.top1) <= o.reference.tolerance && Math.abs(s.top5 - o.reference.top5) <= o.reference.tolerance;
      result.reference = { ...o.reference, passed };
    }
    const lines = ['file,label,top5'];
    for (const idx of indices) {
      const e = ds.entries[idx]!;
      lines.push(`${JSON.stringify(e.file)},${e.label},${(run.counter.predictions.get(idx) ?? []).join(' ')}`);
    }
    await withAtomicDir(o.outputPath, async (dir) => {
      await writeJsonAtomic(path.join(dir, 'eval.json'), result);
      await writeFileAtomic(path.join(dir, 'predictions.csv'), lines.join('\n') + '\n');
    });
    process.stdout.write(
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

import type { OpenDataset } from '../dataset/reader';
import { Progress } from '../common/progress';
import { createSession, ort } from '../runtime/session';
import { AccuracyCounter } from './metrics';

export interface EvalOptions {
  model: string | Uint8Array;
  dataset: OpenDataset;
  batch: number;
  threads: number;
  /** Evaluate only these datalist indices (default: all). */
  indices?: number[];
  label?: string;
}

export interface EvalRun {
  counter: AccuracyCounter;
  seconds: number;
  throughput: number;
  classes: number;
}

/**
 * Inference over the datalist. The dataset reader already reads batch k+1 while batch k is in
 * session.run, so loading overlaps inference.
 */
export async function runEval(opts: EvalOptions): Promise<EvalRun> {
  const session = await createSession(opts.model, { threads: opts.threads });
  try {
    const inputName = session.inputNames[0]!;
    const outputName = session.outputNames[0]!;
    const { dataset } = opts;
    const indices = opts.indices ?? dataset.entries.map((_, i) => i);
    // The class count must agree before the first batch runs, not as a wrong top-1 later. The probe is a
    // full batch so it also warms ONNX Runtime's buffers for that batch size outside the timed loop.
    const probeBatch = Math.max(1, Math.min(opts.batch, indices.length));
    const probe = await session.run({
      [inputName]: new ort.Tensor('uint8', new Uint8Array(dataset.imageBytes * probeBatch), [probeBatch, ...dataset.manifest.shape]),
    });
    const classes = probe[outputName]!.dims[1]!;
    const maxLabel = Math.max(...indices.map((i) => dataset.entries[i]!.label));
    if (classes !== dataset.manifest.classes || maxLabel >= classes) {
      throw new Error(
        `the model has ${classes} output classes but the dataset's labels are for ${dataset.manifest.classes} classes (max label ${maxLabel}); ` +
          `use a model with ${dataset.manifest.classes} classes or set the dataset's 'classes' option`,
      );
    }
    const counter = new AccuracyCounter(classes);
    const progress = new Progress(opts.label ?? 'eval', indices.length);
    const start = process.hrtime.bigint();
    let done = 0;
    for await (const b of dataset.batches(indices, opts.batch)) {
      const input = new ort.Tensor('uint8', b.data, [b.indices.length, ...dataset.manifest.shape]);
      const out = await session.run({ [inputName]: input });
      const logits = out[outputName]!.data as Float32Array;
      b.indices.forEach((idx, k) => counter.add(idx, dataset.entries[idx]!.label, logits, k * classes));
      done += b.indices.length;
      progress.tick(done);
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return { counter, seconds, throughput: indices.length / seconds, classes };
  } finally {
    await session.release();
  }
}

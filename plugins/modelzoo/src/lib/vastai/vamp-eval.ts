import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { writeFileAtomic } from '../common/atomic';
import { UserError } from '../common/errors';
import { AccuracyCounter } from '../eval/metrics';
import type { EvalResult, WeightsLabel } from '../results';
import { decodeNpz, npyToFloat64 } from './npy';
import { npzStem, readNpzLabels } from './npz-dataset';
import { runVamp, type VampCommon } from './vamp-run';

/**
 * vamp's eval outputs (one npz per input, `output_0`) decoded into the shared EvalResult. Outputs are
 * paired with inputs by file name, never by sorted order: the zoo's script zips the datalist with
 * sorted(os.listdir(output)), which mislabels every image as soon as the two orders differ.
 */
export interface DecodedOutputs {
  counter: AccuracyCounter;
  /** Datalist paths, in datalist order (the counter's indices). */
  inputs: string[];
  classes: number;
}

/** Output file for an input: same name, in the output directory (the vamp stand-in's naming). */
export function outputFileFor(outputDir: string, input: string): string {
  return path.join(outputDir, `${npzStem(input)}.npz`);
}

export async function decodeVampOutputs(
  datalist: string,
  outputDir: string,
  labels: ReadonlyMap<string, number>,
  classes?: number,
): Promise<DecodedOutputs> {
  const inputs = (await fs.readFile(datalist, 'utf8')).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const present = new Set(await fs.readdir(outputDir).catch(() => [] as string[]));
  const missing = inputs.filter((f) => !present.has(path.basename(outputFileFor(outputDir, f))));
  if (missing.length) {
    throw new UserError(
      `vamp-eval: ${missing.length} of ${inputs.length} inputs have no output in ${outputDir} (first: ${missing[0]} -> ${path.basename(outputFileFor(outputDir, missing[0]!))}); ` +
        'outputs are paired with inputs by file name',
    );
  }
  let counter: AccuracyCounter | undefined;
  for (let i = 0; i < inputs.length; i++) {
    const file = outputFileFor(outputDir, inputs[i]!);
    const out = decodeNpz(await fs.readFile(file), file)['output_0'];
    if (!out) throw new UserError(`vamp-eval: ${file} has no output_0`);
    const logits = npyToFloat64(out);
    const n = classes ?? logits.length;
    if (logits.length !== n) throw new UserError(`vamp-eval: ${file} holds ${logits.length} values, expected ${n} classes`);
    counter ??= new AccuracyCounter(n);
    const label = labels.get(npzStem(inputs[i]!));
    if (label === undefined) throw new UserError(`vamp-eval: no label for ${inputs[i]}`);
    counter.add(i, label, logits);
  }
  if (!counter) throw new UserError(`vamp-eval: datalist ${datalist} is empty`);
  return { counter, inputs, classes: counter.classes };
}

export interface VampEvalOptions extends VampCommon {
  /** npz datalist (writeNpzDataset's `datalist`): absolute paths, one per line. */
  npzDatalist: string;
  /** vamp's --path_output; emptied first so no earlier run's outputs can be picked up. */
  outputDir: string;
  /** writeNpzDataset's labels file, or labels by npz file name (without .npz). */
  labels: string | ReadonlyMap<string, number>;
  classes?: number;
  /** What EvalResult records about the model. */
  meta: { model: string; precision: string; weights: WeightsLabel; demoData: boolean };
  /** Also write predictions.csv (file, label, top-5) here. */
  predictionsCsv?: string;
}

export async function runVampEval(o: VampEvalOptions): Promise<EvalResult> {
  const outputDir = path.resolve(o.outputDir);
  await fs.rm(outputDir, { recursive: true, force: true });
  await fs.mkdir(outputDir, { recursive: true });
  const labels = typeof o.labels === 'string' ? await readNpzLabels(o.labels) : o.labels;
  const { report, seconds } = await runVamp(o, ['--datalist', path.resolve(o.npzDatalist), '--path_output', outputDir], outputDir);
  const decoded = await decodeVampOutputs(o.npzDatalist, outputDir, labels, o.classes);
  const s = decoded.counter.summary();
  const result: EvalResult = {
    backend: 'vastai',
    model: o.meta.model,
    precision: o.meta.precision,
    weights: o.meta.weights,
    demoData: o.meta.demoData,
    images: s.images,
    top1: s.top1,
    top5: s.top5,
    perClass: s.perClass,
    seconds: report.forwardSeconds ?? seconds,
    throughput: report.throughputQps ?? s.images / seconds,
  };
  if (report.standIn) result.stand_in = true;
  if (o.predictionsCsv) {
    const lines = ['file,label,top5'];
    decoded.inputs.forEach((f, i) => {
      lines.push(`${JSON.stringify(f)},${labels.get(npzStem(f))},${(decoded.counter.predictions.get(i) ?? []).join(' ')}`);
    });
    await writeFileAtomic(o.predictionsCsv, lines.join('\n') + '\n');
  }
  return result;
}

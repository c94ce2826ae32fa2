import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { sha256, withAtomicDir, writeJsonAtomic } from '../common/atomic';
import { UserError } from '../common/errors';
import { readFileBounded } from '../common/limits';
import { buildMobileNetV2, type MobileNetV2Options } from '../onnx/mobilenetv2';
import { type Model, decodeModel, encodeModel } from '../onnx/proto';
import { graphStats } from '../onnx/stats';
import { resolvePreset } from '../preprocess/spec';
import type { ModelCard } from '../results';
import { type CheckpointWeights, type FrameworkToolOptions, exportCheckpoint } from './checkpoint-source';
import type { CheckpointFormat } from '../checkpoints/mobilenetv2-keys';

export interface ExportOptions {
  source: 'builtin' | 'onnx' | 'checkpoint';
  model: string;
  variant: string;
  preprocess: string;
  outputPath: string;
  /** builtin: width multiplier (default 1.0); checkpoint: checked against the file when given. */
  width?: number;
  inputSize: number;
  /** builtin: default 1000; checkpoint: checked against the file when given. */
  classes?: number;
  rounding: MobileNetV2Options['rounding'];
  padding: MobileNetV2Options['padding'];
  bnEpsilon: number;
  /** builtin: PaddleClas's extra 1x1 expand conv in the t = 1 block. */
  expandT1?: boolean;
  seed: number;
  opset: number;
  /** onnx: path of an existing model */
  file?: string;
  /**
   * onnx: what the card says about the weights (default 'pretrained').
   * checkpoint: the checkpoint, a local path (relative to baseDir) or { url, sha256 }.
   * builtin is always random-init.
   */
  weights?: CheckpointWeights;
  /** checkpoint: torchvision | timm | mmcls | keras | paddle; inferred from the file when absent. */
  format?: CheckpointFormat;
  /** checkpoint: 'native' (default, no Python) or 'framework' (the framework's own exporter). */
  exporter?: 'native' | 'framework';
  /** checkpoint + framework: Python interpreter (default $MODELZOO_PYTHON, else python3). */
  python?: string;
  framework?: FrameworkToolOptions;
  /** Where relative checkpoint paths resolve (the workspace root). */
  baseDir?: string;
  cacheDir?: string;
}

/** The card plus, for checkpoints, the library's own counts beside the graph's. */
export interface ExportCard extends ModelCard {
  /** The checkpoint library's own parameter count (its convention: see countConvention). */
  libraryParams?: number;
  /** That library's MobileNetV2 multiply-accumulates at this input size (conv + classifier). */
  libraryMacs?: number;
  countConvention?: string;
}

export const MODEL_FILE = 'model.onnx';
export const CARD_FILE = 'model-card.json';

/** Writes `model.onnx` and `model-card.json` into outputPath (atomically, as one directory). */
export async function exportModel(o: ExportOptions): Promise<ExportCard> {
  resolvePreset(o.preprocess, 'onnx-export');
  let bytes: Uint8Array;
  let weights: string;
  let details: Record<string, unknown>;
  let library: { params: number; macs: number; convention: string } | undefined;
  if (o.source === 'checkpoint') {
    const r = await exportCheckpoint({
      weights: o.weights,
      format: o.format,
      exporter: o.exporter,
      python: o.python,
      framework: o.framework,
      width: o.width,
      classes: o.classes,
      inputSize: o.inputSize,
      opset: o.opset,
      baseDir: o.baseDir,
      cacheDir: o.cacheDir,
    });
    bytes = r.bytes;
    weights = r.label;
    details = r.details;
    library = r.library;
  } else if (o.source === 'builtin') {
    const options: Partial<MobileNetV2Options> = {
      width: o.width ?? 1.0,
      inputSize: o.inputSize,
      classes: o.classes ?? 1000,
      rounding: o.rounding,
      padding: o.padding,
      bnEpsilon: o.bnEpsilon,
      ...(o.expandT1 ? { expandT1: true } : {}),
      opset: o.opset,
      seed: o.seed,
    };
    bytes = encodeModel(buildMobileNetV2(options));
    weights = 'random-init';
    details = { builder: 'mobilenetv2', ...options };
  } else {
    if (!o.file) throw new UserError(`option 'file' is required when source is 'onnx'`);
    bytes = await readFileBounded(o.file, "option 'file': ONNX model");
    if (o.weights !== undefined && typeof o.weights !== 'string') throw new UserError(`option 'weights' must be a label (a string) when source is 'onnx'`);
    weights = o.weights ?? 'pretrained';
    details = { file: o.file };
  }
  const where = o.source === 'onnx' ? o.file! : `${o.source} model`;
  let model: Model;
  let stats;
  try {
    model = decodeModel(bytes, where);
    stats = graphStats(model);
  } catch (err) {
    const msg = (err as Error).message;
    throw new UserError(msg.startsWith(where) ? msg : `${where}: ${msg}`);
  }
  const card: ExportCard = {
    model: o.model,
    variant: o.variant,
    source: o.source,
    weights,
    params: stats.params,
    macs: stats.macs,
    macsComplete: stats.macsComplete,
    input: stats.input,
    output: stats.output,
    opset: stats.opset,
    classes: stats.classes,
    preprocess: o.preprocess,
    sha256: sha256(bytes),
    file: MODEL_FILE,
    details,
    ...(library ? { libraryParams: library.params, libraryMacs: library.macs, countConvention: library.convention } : {}),
  };
  await withAtomicDir(o.outputPath, async (dir) => {
    await fs.writeFile(path.join(dir, MODEL_FILE), bytes);
    await writeJsonAtomic(path.join(dir, CARD_FILE), card);
  });
  return card;
}

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { sha256, withAtomicDir, writeJsonAtomic } from '../common/atomic';
import { UserError } from '../common/errors';
import { buildMobileNetV2, type MobileNetV2Options } from '../onnx/mobilenetv2';
import { type Model, decodeModel, encodeModel } from '../onnx/proto';
import { graphStats } from '../onnx/stats';
import { resolvePreset } from '../preprocess/spec';
import type { ModelCard } from '../results';

export interface ExportOptions {
  source: 'builtin' | 'onnx';
  model: string;
  variant: string;
  preprocess: string;
  outputPath: string;
  /** builtin */
  width: number;
  inputSize: number;
  classes: number;
  rounding: MobileNetV2Options['rounding'];
  padding: MobileNetV2Options['padding'];
  bnEpsilon: number;
  seed: number;
  opset: number;
  /** onnx: path of an existing model */
  file?: string;
  /** What the card says about the weights; builtin without a checkpoint is always random-init. */
  weights?: string;
}

export const MODEL_FILE = 'model.onnx';
export const CARD_FILE = 'model-card.json';

/** Writes `model.onnx` and `model-card.json` into outputPath (atomically, as one directory). */
export async function exportModel(o: ExportOptions): Promise<ModelCard> {
  resolvePreset(o.preprocess, 'onnx-export');
  let bytes: Uint8Array;
  let weights: string;
  let details: Record<string, unknown>;
  if (o.source === 'builtin') {
    const options: Partial<MobileNetV2Options> = {
      width: o.width,
      inputSize: o.inputSize,
      classes: o.classes,
      rounding: o.rounding,
      padding: o.padding,
      bnEpsilon: o.bnEpsilon,
      opset: o.opset,
      seed: o.seed,
    };
    bytes = encodeModel(buildMobileNetV2(options));
    weights = 'random-init';
    details = { builder: 'mobilenetv2', ...options };
  } else {
    if (!o.file) throw new UserError(`option 'file' is required when source is 'onnx'`);
    try {
      bytes = new Uint8Array(await fs.readFile(o.file));
    } catch (err) {
      throw new UserError(`option 'file': cannot read ${o.file}: ${(err as Error).message}`);
    }
    weights = o.weights ?? 'pretrained';
    details = { file: o.file };
  }
  let model: Model;
  let stats;
  try {
    model = decodeModel(bytes, o.file ?? 'builtin model');
    stats = graphStats(model);
  } catch (err) {
    throw new UserError(`${o.file ?? 'builtin model'}: ${(err as Error).message}`);
  }
  const card: ModelCard = {
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
  };
  await withAtomicDir(o.outputPath, async (dir) => {
    await fs.writeFile(path.join(dir, MODEL_FILE), bytes);
    await writeJsonAtomic(path.join(dir, CARD_FILE), card);
  });
  return card;
}

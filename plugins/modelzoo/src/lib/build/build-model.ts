import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { readJson, sha256, withAtomicDir, writeJsonAtomic } from '../common/atomic';
import { UserError } from '../common/errors';
import { readVerified } from '../common/verify';
import { GEOMETRY_FILE, type GeometryJson } from '../dataset/manifest';
import { CARD_FILE, MODEL_FILE } from '../export/export-model';
import { type Model, decodeModel } from '../onnx/proto';
import { geometryKey, resolvePreset } from '../preprocess/spec';
import type { BuildManifest, ModelCard } from '../results';
import { optimizeOffline } from '../runtime/build';
import { foldNormalization } from '../runtime/fold-normalization';

export interface BuildOptions {
  /** Directory written by onnx-export (model.onnx + model-card.json). */
  model: string;
  /** Directory written by dataset-prep: its geometry must match the preset's. */
  dataset: string;
  preprocess: string;
  precision: 'fp32' | 'int8';
  optimization: 'basic' | 'extended';
  outputPath: string;
  /** int8 only: passed to the quantizer. */
  quantization?: Record<string, unknown>;
  /** `project:target` that wrote `model` / `dataset`, named when an artefact fails its sha256 check. */
  producers?: { model?: string; dataset?: string };
}

export const BUILD_MANIFEST = 'build.json';

export type Quantizer = (
  model: Model,
  datasetDir: string,
  quantization: Record<string, unknown>,
) => Promise<{ model: Model; details: Record<string, unknown>; extraFiles?: Record<string, string> }>;

/**
 * fp32: the variant's normalization folded in front of the exported graph (uint8 input), then ONNX
 * Runtime's offline optimization. int8: the same folded graph, quantized by the QDQ quantizer.
 */
export async function buildModel(o: BuildOptions, quantize?: Quantizer): Promise<BuildManifest> {
  const spec = resolvePreset(o.preprocess, 'vamc-build');
  const card = await readJson<ModelCard>(path.join(o.model, CARD_FILE), 'vamc-build option model');
  const dataset = await readJson<GeometryJson>(path.join(o.dataset, GEOMETRY_FILE), 'vamc-build option dataset');
  if (geometryKey(dataset.geometry) !== geometryKey(spec.geometry)) {
    throw new UserError(
      `dataset ${o.dataset} was prepared with geometry ${geometryKey(dataset.geometry)} but preset '${o.preprocess}' needs ${geometryKey(spec.geometry)}`,
    );
  }
  const [, , h, w] = card.input.shape;
  if (h !== dataset.shape[1] || w !== dataset.shape[2]) {
    throw new UserError(`model input is ${h}x${w} but dataset ${o.dataset} holds ${dataset.shape[1]}x${dataset.shape[2]} images`);
  }
  // The bytes the card's sha256 vouches for, or nothing: a corrupted export must not be built and
  // then cached under the card's hash.
  const exported = await readVerified(path.join(o.model, MODEL_FILE), card.sha256, 'exported model', o.producers?.model);
  const folded = foldNormalization(decodeModel(exported, path.join(o.model, MODEL_FILE)), spec.normalize);
  let bytes: Uint8Array;
  let details: Record<string, unknown> = { optimization: o.optimization };
  const extraFiles: Record<string, string> = {};
  if (o.precision === 'int8') {
    if (!quantize) throw new UserError('int8 builds need the quantizer, which is not available in this build');
    const q = await quantize(folded, o.dataset, o.quantization ?? {});
    bytes = await optimizeOffline(q.model, 'basic');
    details = { ...details, ...q.details };
    Object.assign(extraFiles, q.extraFiles ?? {});
  } else {
    bytes = await optimizeOffline(folded, o.optimization);
  }
  const manifest: BuildManifest = {
    backend: 'onnxruntime',
    precision: o.precision,
    model: 'model.onnx',
    sha256: sha256(bytes),
    // The file name only: build.json is a cache input downstream and must not depend on the checkout's path.
    from: { file: MODEL_FILE, sha256: card.sha256 },
    weights: card.weights,
    inputDtype: 'uint8',
    inputShape: card.input.shape,
    preprocess: o.preprocess,
    normalizationFolded: true,
    details,
  };
  await withAtomicDir(o.outputPath, async (dir) => {
    await fs.writeFile(path.join(dir, 'model.onnx'), bytes);
    for (const [name, text] of Object.entries(extraFiles)) await fs.writeFile(path.join(dir, name), text);
    await writeJsonAtomic(path.join(dir, BUILD_MANIFEST), manifest);
  });
  return manifest;
}

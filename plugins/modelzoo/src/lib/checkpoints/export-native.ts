import { type MobileNetV2Options, buildMobileNetV2 } from '../onnx/mobilenetv2';
import type { Model } from '../onnx/proto';
import { type CheckpointMeta, type LoadOptions, loadCheckpoint } from './load';
import type { CheckpointFormat } from './mobilenetv2-keys';

export interface NativeExportOptions extends LoadOptions {
  /** Checkpoint file (resolve URLs first with resolveWeights). */
  file: string;
  /** Auto-detected from the file when absent. */
  format?: CheckpointFormat;
  inputSize?: number;
  opset?: number;
  foldBatchNorm?: boolean;
}

export interface NativeExport {
  model: Model;
  /** The exact builder options used (minus the weights callback): goes on the model card. */
  builder: Omit<Partial<MobileNetV2Options>, 'weights'>;
  meta: CheckpointMeta;
}

/** Checkpoint -> ONNX with the framework's semantics, no Python involved. */
export async function exportNative(o: NativeExportOptions): Promise<NativeExport> {
  const ck = await loadCheckpoint(o.file, o.format, { width: o.width, classes: o.classes });
  const builder: Partial<MobileNetV2Options> = { ...ck.builder };
  if (o.inputSize !== undefined) builder.inputSize = o.inputSize;
  if (o.opset !== undefined) builder.opset = o.opset;
  if (o.foldBatchNorm) builder.foldBatchNorm = true;
  const model = buildMobileNetV2(builder);
  const { weights: _w, ...card } = builder;
  return { model, builder: card, meta: ck.meta };
}

import type { Model } from '../onnx/proto';
import {
  type CalibrationInput,
  type ProgressCallback,
  collectStatistics,
  defaultProgress,
  samplesPerImage,
  toSource,
} from './calibrate';
import { type CalibrateMode, type Int8Options, resolveInt8Options } from './options';
import { calibratedTensors, planQuantization } from './plan';
import { foldInputNormalization } from './input-fold';
import { prepareGraph } from './prepare';
import { type QParams, activationParams, buildQdqModel } from './qdq';
import { chooseRange } from './ranges';
import { type LayerSensitivity, measureSensitivity } from './sensitivity';

export interface QuantizeResult {
  model: Model;
  /** For the build manifest (build.json `details`). */
  details: Record<string, unknown>;
  /** Present when options.sensitivity: worst layers first. */
  sensitivity?: LayerSensitivity[];
}

export const QUANTIZER_ID = 'modelzoo-qdq/1';

/**
 * Whether a mode reads the histogram's atoms (exact zeros and clip hits): KL and MSE fit the histogram's
 * shape and treat both spikes apart; the others skip the per-value count.
 */
const COUNTS_ATOMS: Record<CalibrateMode, boolean> = {
  // Stryker disable next-line BooleanLiteral: percentile reads only the bin counts (quantile()), so counting atoms as well changes no range, only the time
  percentile: false,
  // Stryker disable next-line BooleanLiteral: max samples nothing (samplesPerImage 0), so there are no values to count atoms in
  max: false,
  kl_divergence: true,
  mse: true,
};

/**
 * Post-training static quantization of a float ONNX model into a QDQ graph ONNX Runtime fuses into
 * QLinearConv/QLinearAdd/QGemm/...: uint8 asymmetric activations, int8 symmetric (per-channel) weights,
 * int32 biases. `options` may be partial or a raw `quantization` block (vamc spellings accepted).
 */
export async function quantizeModel(
  model: Model,
  calibration: CalibrationInput,
  options: Partial<Int8Options> | Record<string, unknown> = {},
  progress?: ProgressCallback,
): Promise<QuantizeResult> {
  const opts = resolveInt8Options(options as Record<string, unknown>);
  const source = toSource(calibration);
  if (opts.sensitivity && !source.reiterable) {
    throw new Error('int8 option sensitivity needs a second pass over the calibration set: pass a function or a CalibrationSource, not a one-shot iterable');
  }
  const prepared = prepareGraph(model);
  // The fold may only rewrite quantized Convs: it is handed every quantized node and itself keeps to Convs.
  const inputFold = foldInputNormalization(prepared, planQuantization(prepared, opts).quantized, new Set(opts.exclude_layers));
  // Planned again on the folded graph (the same plan when nothing was folded: planning reads the graph only).
  const plan = planQuantization(prepared, opts);
  const tensors = calibratedTensors(plan);
  const clipHighs = new Map<string, number>();
  for (const p of plan.points) if (p.clip && Number.isFinite(p.clip.hi)) clipHighs.set(p.tensor, p.clip.hi);
  const nonNegative = new Set(plan.points.filter((p) => p.clip && p.clip.lo >= 0).map((p) => p.tensor));
  // percentile, KL and MSE take the range from the sample's histogram (the exact max would only clamp
  // it), and a clip-capped tensor's range ends at the cap anyway: its max comes from the sample.
  const sampledMax = opts.calibrate_mode === 'max' ? new Set<string>() : new Set([...clipHighs.keys()].filter((t) => nonNegative.has(t)));
  const stats = await collectStatistics(prepared.model, tensors, clipHighs, source, {
    maxImages: opts.calibration_count,
    nonNegative,
    atoms: COUNTS_ATOMS[opts.calibrate_mode],
    samplesPerImage: samplesPerImage(opts.calibrate_mode),
    sampledExtremes: sampledMax,
    progress: progress ?? defaultProgress('int8 calibration'),
  });

  const params = new Map<string, QParams>();
  const tensorDetails: Record<string, unknown> = {};
  for (const p of plan.points) {
    if (p.alias) continue;
    if (p.fixed) {
      const { scale, zeroPoint } = p.fixed;
      const q: QParams = { scale, zeroPoint, type: 'uint8', range: { lo: scale * -zeroPoint, hi: scale * (255 - zeroPoint) } };
      params.set(p.tensor, q);
      tensorDetails[p.tensor] = { scale, zero_point: zeroPoint, range: [q.range.lo, q.range.hi], dequantized_from: p.fixed.quantized };
      continue;
    }
    const h = stats.histograms.get(p.tensor)!;
    // No cap at p.clip.hi: the tensor is the activation's output, so every range ends at or below its max
    // (h.max <= clip.hi), which chooseRange never exceeds.
    const r = chooseRange(h, opts.calibrate_mode, opts.percentile);
    const q = activationParams(r, opts.activation_type);
    params.set(p.tensor, q);
    tensorDetails[p.tensor] = {
      scale: q.scale,
      zero_point: q.zeroPoint,
      range: [q.range.lo, q.range.hi],
      observed: [h.min, h.max],
      ...(p.clip ? { folded_clip: [p.clip.lo, p.clip.hi] } : {}),
    };
  }
  for (const p of plan.points) if (p.alias) tensorDetails[p.tensor] = { same_as: p.alias };

  const built = buildQdqModel(prepared.model, plan, params, opts.per_channel);
  const details: Record<string, unknown> = {
    quantizer: QUANTIZER_ID,
    calibrate_mode: opts.calibrate_mode,
    ...(opts.calibrate_mode === 'percentile' ? { percentile: opts.percentile } : {}),
    per_channel: opts.per_channel,
    activation_type: opts.activation_type,
    weight_type: 'int8',
    bias_type: 'int32',
    calibration: {
      images: stats.images,
      batches: stats.batches,
      samples_per_image: samplesPerImage(opts.calibrate_mode),
      // Tensors whose max came from the sample (clip-capped ones, except for max), not a full reduction.
      sampled_max_tensors: sampledMax.size,
      sha256: stats.sha256,
      seconds: Number(stats.seconds.toFixed(3)),
    },
    exclude_layers: opts.exclude_layers,
    skip_conv_layers: opts.skip_conv_layers,
    excluded_nodes: plan.excluded,
    quantized_nodes: plan.quantized.size,
    folded_activations: [...plan.folded.keys()],
    ...(inputFold
      ? {
          input_folded: {
            tensor: inputFold.tensor,
            input: inputFold.input,
            scale: inputFold.scale,
            zero_point: inputFold.zeroPoint,
            removed_nodes: inputFold.removed,
            convs: inputFold.convs,
            max_pad_error: Number(inputFold.padError.toPrecision(4)),
          },
        }
      : {}),
    tensors: tensorDetails,
  };
  const result: QuantizeResult = { model: built.model, details };
  if (opts.sensitivity) {
    const points = plan.points
      .filter((p) => !p.alias)
      .map((p) => ({ tensor: p.tensor, node: p.producer ?? p.tensor }));
    result.sensitivity = await measureSensitivity(prepared.model, built.model, points, source, {
      maxImages: opts.calibration_count,
      progress: progress ?? defaultProgress('int8 sensitivity'),
    });
    details['sensitivity'] = result.sensitivity;
  }
  return result;
}

import * as path from 'node:path';
import YAML from 'yaml';
import type { PreprocessSpec } from '../preprocess/spec';
import type { Generation } from './generation';
import { vastNormalization } from './normalization';

/**
 * vamc configs generated from the variant's spec and the build options, for both generations:
 * 2023 `vamc build` (model / engine / dataset / workspace) and 2025 `vamc compile` (name / frontend /
 * backend / graph / dataset / workspace). Only what the caller set explicitly beyond the zoo's usual
 * keys is written, so a default build yields the zoo's own config (see the golden tests).
 */
export type CalibrateMode = 'percentile' | 'max' | 'kl_divergence' | 'mse';

/** The onnxruntime int8 build's option names (quant/options.ts), as far as vamc has an equivalent. */
export interface VamcQuantization {
  calibrate_mode?: CalibrateMode;
  percentile?: number;
  per_channel?: boolean;
  exclude_layers?: string[];
  skip_conv_layers?: number[];
  calibration_count?: number;
}

export interface VamcCalibrationSource {
  /** Directory of calibration images (vamc's `dataset.path`). */
  path: string;
  /** File suffix vamc's sampler picks up: JPEG for ILSVRC2012, png for writeCalibrationImages. */
  suffix: string;
  /**
   * true when the images already have the model's input geometry (writeCalibrationImages writes the
   * prepared calibration subset): then no Resize/CenterCrop is emitted and calibration sees exactly
   * the pixels eval sees, whatever resampler vamc's own Resize uses.
   */
  prepared?: boolean;
}

export interface VamcInput {
  /** Model name (2023 `model.name`; vamc names the output files after it). */
  name: string;
  /** 2025 top-level `name` (the output directory); default `<name>_<precision>`. */
  configName?: string;
  /** The model file handed to vamc (ONNX, or a Keras .h5). */
  checkpoint: string;
  inputName?: string;
  /** [N, C, H, W]. */
  inputShape: number[];
  spec: PreprocessSpec;
  precision: 'int8' | 'fp16';
  quantization?: VamcQuantization;
  /** Append a softmax to the graph (the zoo does for torchvision and timm). */
  extraSoftmax?: boolean;
  calibration: VamcCalibrationSource;
  /** vamc's output directory, relative to the directory vamc runs in. Default './deploy_weights/'. */
  workDir?: string;
}

export const DEFAULT_CALIBRATE_MODE: CalibrateMode = 'percentile';
export const DEFAULT_CALIBRATION_COUNT = 1000;
export const DEFAULT_WORK_DIR = './deploy_weights/';

/** Python-style booleans are what the zoo writes for div255; YAML reads both the same. */
export function transformOps(spec: PreprocessSpec, prepared: boolean): Record<string, unknown>[] {
  const g = spec.geometry;
  const ops: Record<string, unknown>[] = [{ type: 'DecodeImage' }];
  if (!prepared) {
    // An int size resizes the shorter side (torchvision's Resize(int)); a pair squashes to that size.
    ops.push({ type: 'Resize', size: g.resize === 'square' ? [g.resizeSize, g.resizeSize] : g.resizeSize });
    ops.push({ type: 'CenterCrop', crop_size: [g.cropSize, g.cropSize] });
  }
  if (spec.normalize.channelOrder === 'BGR') ops.push({ type: 'CvtColor', code: 'RGB2BGR' });
  const n = vastNormalization(spec.normalize);
  ops.push(
    n.type === 'DIV255_MINUSMEAN_DIVSTD'
      ? { type: 'Normalize', mean: n.mean, std: n.std }
      : { type: 'Normalize', div255: false, mean: n.mean, std: n.std },
  );
  ops.push({ type: 'ToTensor' });
  return ops;
}

function frontendType(checkpoint: string): string {
  const ext = path.extname(checkpoint).toLowerCase();
  if (ext === '.onnx') return 'onnx';
  if (ext === '.h5') return 'keras';
  throw new Error(`vamc: checkpoint ${checkpoint} must be .onnx or .h5 (got '${ext || 'no extension'}')`);
}

function checkInput(i: VamcInput): void {
  if (i.inputShape.length !== 4 || !i.inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`vamc: inputShape must be [N, C, H, W] positive integers, got [${i.inputShape}]`);
  }
  const q = i.quantization ?? {};
  if (q.percentile !== undefined && !(q.percentile > 0.5 && q.percentile <= 100)) {
    throw new Error(`vamc: quantization.percentile must be a fraction in (0.5, 1] or a percentage, got ${q.percentile}`);
  }
  if (q.calibration_count !== undefined && !(Number.isInteger(q.calibration_count) && q.calibration_count > 0)) {
    throw new Error(`vamc: quantization.calibration_count must be a positive integer, got ${q.calibration_count}`);
  }
}

function quantBlock(q: VamcQuantization, gen: Generation): Record<string, unknown> {
  const out: Record<string, unknown> = gen === '2023'
    ? { quant_mode: q.calibrate_mode ?? DEFAULT_CALIBRATE_MODE, per_channel: q.per_channel ?? true }
    : { calibrate_mode: q.calibrate_mode ?? DEFAULT_CALIBRATE_MODE, quantize_per_channel: q.per_channel ?? true };
  // vamc takes the percentile as a percentage (99.999), our option as a fraction (0.99999).
  if (q.percentile !== undefined) out['percentile'] = q.percentile <= 1 ? Number((q.percentile * 100).toPrecision(12)) : q.percentile;
  if (q.skip_conv_layers?.length) out['skip_conv_layers'] = [...q.skip_conv_layers];
  if (q.exclude_layers?.length) out['exclude_layers'] = [...q.exclude_layers];
  return out;
}

export function generateVamcConfig(input: VamcInput, generation: Generation): Record<string, unknown> {
  checkInput(input);
  const inputName = input.inputName ?? 'input';
  const shape = [...input.inputShape];
  const q = input.quantization ?? {};
  const int8 = input.precision === 'int8';
  const sampler = { suffix: input.calibration.suffix, get_data_num: q.calibration_count ?? DEFAULT_CALIBRATION_COUNT };
  const ops = transformOps(input.spec, input.calibration.prepared ?? false);
  const workDir = input.workDir ?? DEFAULT_WORK_DIR;
  if (generation === '2023') {
    const engine: Record<string, unknown> = {
      type: 'vacc',
      common: { do_quantization: int8 },
      add_extra_ops_to_graph: { type: input.extraSoftmax ? 'softmax' : null },
    };
    if (int8) engine['calibration'] = quantBlock(q, '2023');
    return {
      model: { name: input.name, inputs: { [inputName]: shape }, checkpoint: input.checkpoint },
      engine,
      dataset: { path: input.calibration.path, sampler, transform_ops: ops },
      workspace: { work_dir: workDir, enable_ir: false, save_log: true },
    };
  }
  const backend: Record<string, unknown> = { type: 'tvm_vacc', dtype: input.precision, compile: { cluster_mode: 0 } };
  if (int8) {
    // Stryker disable next-line StringLiteral: quantBlock only tests gen === '2023', so any other string (even '') builds the same 2025 block
    const gen: Generation = '2025';
    backend['quantize'] = quantBlock(q, gen);
  }
  const out: Record<string, unknown> = {
    name: input.configName ?? `${input.name}_${input.precision}`,
    frontend: { shape: { [inputName]: shape }, type: frontendType(input.checkpoint), checkpoint: input.checkpoint, dtype: 'fp32' },
    backend,
  };
  if (input.extraSoftmax) out['graph'] = { extra_ops: { type: 'softmax' } };
  out['dataset'] = { type: 'tvm', path: input.calibration.path, sampler, process_ops: ops };
  out['workspace'] = { path: workDir };
  return out;
}

export function vamcConfigToYaml(obj: unknown): string {
  return YAML.stringify(obj, { indent: 2, lineWidth: 0 });
}

export function parseVamcYaml(text: string, where: string): unknown {
  try {
    return YAML.parse(text);
  } catch (err) {
    throw new Error(`${where}: invalid YAML: ${(err as Error).message}`);
  }
}

/** Which generation a parsed config is written for (2025 has top-level `frontend`). */
export function detectGeneration(obj: unknown): Generation | undefined {
  if (!obj || typeof obj !== 'object') return undefined;
  if ('frontend' in obj || 'backend' in obj) return '2025';
  if ('model' in obj || 'engine' in obj) return '2023';
  return undefined;
}

/**
 * Where vamc puts the built model (the `-m` prefix vamp takes), relative to the directory vamc ran in:
 * 2023 `<work_dir>/<name>-<int8-mode|fp16>-<C_H_W>-vacc/<name>`, 2025 `<workspace.path>/<name>/mod`.
 */
export function vamcModelPrefix(config: Record<string, unknown>, generation: Generation): string {
  if (generation === '2023') {
    const m = config['model'] as { name: string; inputs: Record<string, number[]> };
    const e = config['engine'] as { common: { do_quantization: boolean }; calibration?: { quant_mode?: string } };
    const w = (config['workspace'] as { work_dir: string }).work_dir;
    const shape = Object.values(m.inputs)[0]!.slice(1).join('_');
    const kind = e.common.do_quantization ? `int8-${e.calibration?.quant_mode ?? DEFAULT_CALIBRATE_MODE}` : 'fp16';
    return path.join(w, `${m.name}-${kind}-${shape}-vacc`, m.name);
  }
  const w = (config['workspace'] as { path: string }).path;
  return path.join(w, String(config['name']), 'mod');
}

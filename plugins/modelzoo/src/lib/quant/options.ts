import { UserError } from '../common/errors';
/**
 * int8 build options, named as in the vamc configs so one `quantization` block serves both the VastAI
 * build and the embedded ONNX Runtime one. The 2023 (`calibration: {quant_mode, per_channel}`) and 2025
 * (`quantize: {calibrate_mode, quantize_per_channel}`) spellings are accepted as aliases.
 */
export type CalibrateMode = 'percentile' | 'max' | 'kl_divergence' | 'mse';
export type ActivationType = 'uint8' | 'int8';

export interface Int8Options {
  calibrate_mode: CalibrateMode;
  /** Fraction of values kept inside the range by `percentile` (each tail loses 1 - percentile). */
  percentile: number;
  /** int8 weights with one scale per output channel; per-tensor weights ruin depthwise convolutions. */
  per_channel: boolean;
  /** Node names left in float. */
  exclude_layers: string[];
  /** Conv nodes left in float, by their index among the graph's Conv nodes (vamc's convention). */
  skip_conv_layers: number[];
  /** Images of the dataset's calibration subset used; fewer are used when the subset is smaller. */
  calibration_count: number;
  /** uint8 (asymmetric) fuses everywhere on x86; int8 activations leave residual Adds unfused. */
  activation_type: ActivationType;
  /** Per-layer SNR of int8 vs fp32 activations over the calibration set (a second pass). */
  sensitivity: boolean;
}

export const CALIBRATE_MODES: readonly CalibrateMode[] = ['percentile', 'max', 'kl_divergence', 'mse'];

export const DEFAULT_INT8_OPTIONS: Int8Options = {
  calibrate_mode: 'percentile',
  percentile: 0.99999,
  per_channel: true,
  exclude_layers: [],
  skip_conv_layers: [],
  calibration_count: 1000,
  activation_type: 'uint8',
  sensitivity: false,
};

/** JSON-schema properties for an executor's schema.json (`quantization` object). */
export const INT8_OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    calibrate_mode: {
      type: 'string',
      enum: [...CALIBRATE_MODES],
      default: DEFAULT_INT8_OPTIONS.calibrate_mode,
      description: 'How activation ranges are chosen from the calibration statistics (vamc 2025 calibrate_mode).',
    },
    quant_mode: {
      type: 'string',
      enum: [...CALIBRATE_MODES],
      description: 'vamc 2023 spelling of calibrate_mode.',
    },
    percentile: {
      type: 'number',
      exclusiveMinimum: 0.5,
      maximum: 1,
      default: DEFAULT_INT8_OPTIONS.percentile,
      description: 'percentile mode: fraction of values kept inside the range (0.99999 clips 1e-5 per tail).',
    },
    per_channel: {
      type: 'boolean',
      default: DEFAULT_INT8_OPTIONS.per_channel,
      description: 'int8 weights with one scale per output channel.',
    },
    quantize_per_channel: { type: 'boolean', description: 'vamc 2025 spelling of per_channel.' },
    exclude_layers: {
      type: 'array',
      items: { type: 'string' },
      default: [],
      description: 'Node names kept in float.',
    },
    skip_conv_layers: {
      type: 'array',
      items: { type: 'integer', minimum: 0 },
      default: [],
      description: 'Conv nodes kept in float, by index among the Conv nodes in graph order.',
    },
    calibration_count: {
      type: 'integer',
      minimum: 1,
      default: DEFAULT_INT8_OPTIONS.calibration_count,
      description: "Images of dataset-prep's calibration subset used for calibration.",
    },
    activation_type: {
      type: 'string',
      enum: ['uint8', 'int8'],
      default: DEFAULT_INT8_OPTIONS.activation_type,
      description: 'Activation type; int8 activations do not fuse next to residual Adds on x86 and run slower.',
    },
    sensitivity: {
      type: 'boolean',
      default: DEFAULT_INT8_OPTIONS.sensitivity,
      description: 'Write a per-layer SNR report (int8 vs fp32 activations), worst layers first.',
    },
  },
} as const;

const ALIASES: Record<string, keyof Int8Options> = {
  quant_mode: 'calibrate_mode',
  quantize_per_channel: 'per_channel',
};

/**
 * Validated options from a user's `quantization` block: unknown keys and wrong types are errors naming
 * the option, so a typo never silently falls back to a default.
 */
export function resolveInt8Options(raw: Record<string, unknown> = {}, where = 'quantization'): Int8Options {
  const out: Int8Options = { ...DEFAULT_INT8_OPTIONS, exclude_layers: [], skip_conv_layers: [] };
  const seen = new Map<keyof Int8Options, string>();
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const name = (ALIASES[key] ?? key) as keyof Int8Options;
    if (!(name in DEFAULT_INT8_OPTIONS)) {
      const known = [...Object.keys(DEFAULT_INT8_OPTIONS), ...Object.keys(ALIASES)].join(', ');
      throw new UserError(`${where}: unknown option '${key}' (known: ${known})`);
    }
    const prev = seen.get(name);
    if (prev !== undefined) throw new UserError(`${where}: '${key}' and '${prev}' both set ${name}: keep one`);
    seen.set(name, key);
    const bad = (what: string) => new Error(`${where}.${key} must be ${what}, got ${JSON.stringify(value)}`);
    switch (name) {
      case 'calibrate_mode':
        // A value that is not a string is no mode name either.
        if (!CALIBRATE_MODES.includes(value as CalibrateMode)) {
          throw bad(`one of ${CALIBRATE_MODES.join(', ')}`);
        }
        out.calibrate_mode = value as CalibrateMode;
        break;
      case 'percentile': {
        // vamc-style configs sometimes write the percentile as 99.999 (above 100 the fraction is above 1, refused below).
        const p = typeof value === 'number' && value > 1 ? Number((value / 100).toPrecision(12)) : value;
        if (typeof p !== 'number' || !(p > 0.5 && p <= 1)) throw bad('a fraction in (0.5, 1] (or a percentage)');
        out.percentile = p;
        break;
      }
      case 'per_channel':
      case 'sensitivity':
        if (typeof value !== 'boolean') throw bad('true or false');
        out[name] = value;
        break;
      case 'exclude_layers':
        if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw bad('a list of node names');
        out.exclude_layers = [...value];
        break;
      case 'skip_conv_layers':
        if (!Array.isArray(value) || !value.every((v) => Number.isInteger(v) && v >= 0)) {
          throw bad('a list of Conv indices (integers >= 0)');
        }
        out.skip_conv_layers = [...(value as number[])];
        break;
      case 'calibration_count':
        if (!Number.isInteger(value) || (value as number) < 1) throw bad('a positive integer');
        out.calibration_count = value as number;
        break;
      case 'activation_type':
        if (value !== 'uint8' && value !== 'int8') throw bad("'uint8' or 'int8'");
        out.activation_type = value;
        break;
    }
  }
  return out;
}

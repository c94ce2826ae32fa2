import Ajv, { type ErrorObject } from 'ajv';
import type { Generation } from './generation';

/**
 * JSON schemas of the two vamc config generations. Every object is closed (additionalProperties:
 * false) because the real tool ignores keys it does not know: the zoo ships a YAML with
 * `alibrate_mode`, which vamc silently treats as "use the default calibration".
 */
const strict = (properties: Record<string, unknown>, required: string[] = Object.keys(properties)) => ({
  type: 'object',
  additionalProperties: false,
  required,
  properties,
});

const shape = { type: 'array', minItems: 4, maxItems: 4, items: { type: 'integer', minimum: 1 } };
const triple = { type: 'array', minItems: 3, maxItems: 3, items: { type: 'number' } };
const pair = { type: 'array', minItems: 2, maxItems: 2, items: { type: 'integer', minimum: 1 } };
const calibrateMode = { enum: ['percentile', 'max', 'kl_divergence', 'mse'] };
const quantExtras = {
  percentile: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
  skip_conv_layers: { type: 'array', items: { type: 'integer', minimum: 0 } },
  exclude_layers: { type: 'array', items: { type: 'string' } },
};

const op = {
  type: 'object',
  required: ['type'],
  additionalProperties: false,
  properties: {
    type: { enum: ['DecodeImage', 'Resize', 'CenterCrop', 'CvtColor', 'Normalize', 'ToTensor'] },
    size: { oneOf: [{ type: 'integer', minimum: 1 }, pair] },
    crop_size: { oneOf: [{ type: 'integer', minimum: 1 }, pair] },
    code: { enum: ['RGB2BGR', 'BGR2RGB'] },
    div255: { type: 'boolean' },
    mean: triple,
    std: triple,
  },
  allOf: [
    { if: { properties: { type: { const: 'Resize' } } }, then: { required: ['size'] } },
    { if: { properties: { type: { const: 'CenterCrop' } } }, then: { required: ['crop_size'] } },
    { if: { properties: { type: { const: 'CvtColor' } } }, then: { required: ['code'] } },
    { if: { properties: { type: { const: 'Normalize' } } }, then: { required: ['mean', 'std'] } },
  ],
};

const sampler = strict({ suffix: { type: 'string', minLength: 1 }, get_data_num: { type: 'integer', minimum: 1 } });
const inputs = { type: 'object', minProperties: 1, maxProperties: 1, additionalProperties: shape };

export const VAMC_SCHEMA_2023 = strict({
  model: strict({ name: { type: 'string', minLength: 1 }, inputs, checkpoint: { type: 'string', minLength: 1 } }),
  engine: strict(
    {
      type: { const: 'vacc' },
      common: strict({ do_quantization: { type: 'boolean' } }),
      add_extra_ops_to_graph: strict({ type: { enum: [null, 'softmax'] } }),
      calibration: strict({ quant_mode: calibrateMode, per_channel: { type: 'boolean' }, ...quantExtras }, ['quant_mode']),
    },
    ['type', 'common'],
  ),
  dataset: strict({ path: { type: 'string', minLength: 1 }, sampler, transform_ops: { type: 'array', items: op } }),
  workspace: strict({ work_dir: { type: 'string', minLength: 1 }, enable_ir: { type: 'boolean' }, save_log: { type: 'boolean' } }, ['work_dir']),
});

export const VAMC_SCHEMA_2025 = strict(
  {
    name: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9_.-]+$' },
    frontend: strict({
      shape: inputs,
      type: { enum: ['onnx', 'keras', 'pytorch', 'paddle', 'tensorflow'] },
      checkpoint: { type: 'string', minLength: 1 },
      dtype: { enum: ['fp32', 'fp16'] },
    }),
    backend: strict(
      {
        type: { const: 'tvm_vacc' },
        dtype: { enum: ['int8', 'fp16'] },
        compile: strict({ cluster_mode: { type: 'integer', minimum: 0 } }),
        quantize: strict({ calibrate_mode: calibrateMode, quantize_per_channel: { type: 'boolean' }, ...quantExtras }, ['calibrate_mode']),
      },
      ['type', 'dtype'],
    ),
    graph: strict({ extra_ops: strict({ type: { enum: ['softmax'] } }) }),
    dataset: strict({ type: { const: 'tvm' }, path: { type: 'string', minLength: 1 }, sampler, process_ops: { type: 'array', items: op } }),
    workspace: strict({ path: { type: 'string', minLength: 1 } }),
  },
  ['name', 'frontend', 'backend', 'dataset', 'workspace'],
);

// strictRequired off: the per-op if/then requirements name properties declared one level up.
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const validators = { '2023': ajv.compile(VAMC_SCHEMA_2023), '2025': ajv.compile(VAMC_SCHEMA_2025) };

function describe(e: ErrorObject): string {
  const at = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(top level)';
  if (e.keyword === 'additionalProperties') {
    return `${at}: unknown key '${(e.params as { additionalProperty: string }).additionalProperty}'`;
  }
  if (e.keyword === 'enum') return `${at}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  return `${at}: ${e.message}`;
}

/** Problems with a config, one line each; empty when it is valid for the generation. */
export function vamcConfigErrors(obj: unknown, generation: Generation): string[] {
  const v = validators[generation];
  if (v(obj)) return [];
  // if/then and oneOf report a summary error beside the real one; the specific messages suffice.
  const errs = (v.errors ?? []).filter((e) => e.keyword !== 'if' && e.keyword !== 'oneOf');
  return [...new Set((errs.length ? errs : v.errors ?? []).map(describe))];
}

export function validateVamcConfig(obj: unknown, generation: Generation, where = `vamc ${generation} config`): void {
  const errors = vamcConfigErrors(obj, generation);
  if (errors.length) throw new Error(`${where} is invalid for the ${generation} schema:\n  ${errors.join('\n  ')}`);
}

/**
 * The `vastai` option objects take effect with `backend: 'vastai'` (the Nx configuration `vastai` sets both).
 * JSON-schema fragments for the executors' schema.json files: a `vastai` object on vamc-build,
 * vamp-bench and vamp-eval (present = use the VastAI backend), and `format` on dataset-prep.
 */
const tool = (name: 'vamc' | 'vamp', env: string) => ({
  type: 'string',
  description: `Path to the ${name} executable (default: $${env}, else ${name} on PATH; test/stand-ins/${name} runs on ONNX Runtime).`,
});

const common = {
  generation: {
    type: 'string',
    enum: ['2023', '2025'],
    default: '2025',
    description: "Tool-format generation: '2023' (vamc build, vdsp_op_type params) or '2025' (vamc compile, OpType params).",
  },
  vampPath: tool('vamp', 'VAMP_PATH'),
  batch: { type: 'integer', minimum: 1, description: "vamp -b (default: the target's own batch option)" },
  instances: { type: 'integer', minimum: 1, description: "vamp -i: model instances per device (default: the target's instances option, else 1)" },
  processes: { type: 'integer', minimum: 1, default: 1, description: 'vamp -p' },
  device: { type: 'integer', minimum: 0, description: 'vamp -d: device id' },
  timeoutSeconds: { type: 'number', exclusiveMinimum: 0, description: 'Kill the tool after this many seconds.' },
};

export const VASTAI_OPTIONS_SCHEMA = {
  'vamc-build': {
    type: 'object',
    additionalProperties: false,
    properties: {
      generation: common.generation,
      vamcPath: tool('vamc', 'VAMC_PATH'),
      precision: { type: 'string', enum: ['int8', 'fp16'], description: 'Device dtype (fp32 builds map to fp16 on VastAI).' },
      name: { type: 'string', default: 'mobilenet_v2', description: 'vamc model name (names the output files).' },
      extraSoftmax: { type: 'boolean', default: false, description: 'Append a softmax to the graph (top-k is unchanged).' },
      calibrationDir: {
        type: 'string',
        description: "Raw calibration images for vamc to resize itself; default: the dataset's prepared calibration subset as PNGs.",
      },
      calibrationSuffix: { type: 'string', default: 'JPEG', description: 'File suffix of calibrationDir images.' },
      timeoutSeconds: common.timeoutSeconds,
    },
  },
  'vamp-bench': {
    type: 'object',
    additionalProperties: false,
    properties: {
      vampPath: common.vampPath,
      batch: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 1, description: "vamp -b, one run per value (default: the target's batch option)" },
      instances: common.instances,
      processes: common.processes,
      device: common.device,
      timeoutSeconds: common.timeoutSeconds,
    },
  },
  'vamp-eval': {
    type: 'object',
    additionalProperties: false,
    properties: {
      vampPath: common.vampPath,
      batch: common.batch,
      instances: common.instances,
      processes: common.processes,
      device: common.device,
      npzDir: { type: 'string', description: "Where the npz inputs are (default: <dataset>/npz, written by dataset-prep with format: npz)." },
      timeoutSeconds: common.timeoutSeconds,
    },
  },
} as const;

export const NPZ_FORMAT_SCHEMA = {
  format: {
    type: 'string',
    enum: ['uint8', 'npz'],
    default: 'uint8',
    description: "'npz' also writes one .npz per image (input_0, uint8 CHW) and npz_datalist.txt for vamp; resumable.",
  },
} as const;

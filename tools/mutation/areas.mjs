// The correctness core under mutation testing, split into areas (docs/mutation.md). Each area is one
// Stryker run with its own incremental file (docs/mutation/incremental/<area>.json), so areas can be
// measured separately and a rerun retests only what changed in that area. `tools/mutation/run.mjs`
// runs them and merges the reports into one score.
export const lib = 'plugins/modelzoo/src/lib';

// Unit files that existed when mutation testing began (and the first property tests): every area lists
// them first, so a mutant stops at the oldest test that catches it and `killedBy` shows what the older
// suite already caught.
const base = [
  'test/unit/metrics.test.ts',
  'test/unit/pickle.test.ts',
  'test/unit/quant-ranges.test.ts',
  'test/unit/options.test.ts',
  'test/unit/preprocess-geometry.test.ts',
  'test/unit/dataset-calibration.test.ts',
  'test/unit/atomic.test.ts',
  'test/unit/vastai-config.test.ts',
  'test/unit/vastai-golden.test.ts',
  'test/unit/vastai-npz.test.ts',
  'test/unit/vastai-tools.test.ts',
  'test/unit/executors-vastai.test.ts',
  'test/unit/metrics-rank.test.ts',
  'test/unit/eval-order.test.ts',
  'test/unit/pickle-allowlist.test.ts',
  'test/unit/quant-defaults.test.ts',
  'test/unit/atomic-failure.test.ts',
  'test/unit/*.property.test.ts',
];

// The mutation-* files written for the first ten modules (before areas existed).
const firstModules = [
  'test/unit/mutation-atomic-labels.test.ts',
  'test/unit/mutation-atomic-lock.test.ts',
  'test/unit/mutation-codecs-ranges.test.ts',
  'test/unit/mutation-histogram-edges.test.ts',
  'test/unit/mutation-histogram-npy.test.ts',
  'test/unit/mutation-labels-paths.test.ts',
  'test/unit/mutation-npy-edges.test.ts',
  'test/unit/mutation-pickle.test.ts',
  'test/unit/mutation-quant-options.test.ts',
  'test/unit/mutation-vamp-lines.test.ts',
  'test/unit/mutation-vamp-output.test.ts',
];

const area = (dir, files, tests = []) => ({
  mutate: files.map((f) => `${lib}/${dir}/${f}.ts`),
  tests,
});

/**
 * name -> { mutate: source files, tests: unit test files beyond `base` }. Each area also runs its own
 * `test/unit/mutation-<name>-*.test.ts` files.
 */
export const areas = {
  eval: area('eval', ['metrics', 'run-eval', 'evaluate-model']),
  dataset: {
    mutate: [...area('dataset', ['labels', 'calibration', 'reader']).mutate, `${lib}/common/atomic.ts`],
    tests: [],
  },
  'checkpoints-pickle': area('checkpoints', ['pickle', 'numpy-globals', 'ndarray', 'state-dict']),
  'checkpoints-files': area('checkpoints', ['torch-file', 'keras-h5', 'load']),
  // Its own files first, then the older ones that pin options, histogram and ranges; not
  // quant-ranges.test.ts, whose full-size histograms turn every slowed KL search into a 2-minute timeout.
  'quant-calibration': {
    ...area('quant', ['options', 'histogram', 'ranges', 'calibrate', 'sensitivity', 'dataset-source', 'quantize'], [
      'test/unit/quant-defaults.test.ts',
      'test/unit/options.test.ts',
      'test/unit/metrics-ranges.property.test.ts',
      'test/unit/mutation-quant-options.test.ts',
      'test/unit/mutation-histogram-edges.test.ts',
      'test/unit/mutation-histogram-npy.test.ts',
      'test/unit/mutation-codecs-ranges.test.ts',
    ]),
    ownTestsOnly: true,
  },
  'quant-graph': area('quant', ['qdq', 'plan']),
  'quant-prepare': area('quant', ['prepare', 'shapes', 'input-fold']),
  // Only its own files: the base list's dataset tests also run the resamplers, and a mutant that breaks
  // the SIMD kernels sends them to the worker-thread fallback (~1 min per mutant on 2 cores).
  'preprocess-pillow': {
    ...area('preprocess', ['geometry', 'spec', 'pillow-resample', 'pillow-simd'], ['test/unit/preprocess-geometry.test.ts']),
    ownTestsOnly: true,
  },
  'preprocess-cv2': area('preprocess', ['cv2-resize']),
  vastai: area('vastai', ['vdsp-params', 'vamc-config', 'vamp-output', 'npy', 'fp16']),
};

export function testFilesOf(name) {
  const a = areas[name];
  const own = `test/unit/mutation-${name}-*.test.ts`;
  // ownTestsOnly: the area's own files first (a mutant stops at the first file that fails), then `tests`.
  if (a.ownTestsOnly) return [...new Set([own, ...a.tests])];
  return [...new Set([...base, ...firstModules, ...a.tests, own])];
}

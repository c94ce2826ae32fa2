import type { TargetConfiguration } from '@nx/devkit';

/**
 * The Nx configuration `vastai`: `nx run-many -t vamp-eval vamp-bench -c vastai` takes every variant
 * through VastAI's vamc / vamp instead of ONNX Runtime. Nx runs a dependency with the same
 * configuration when the dependency has it, so the dataset-prep targets carry a `vastai` configuration
 * too (npz inputs for vamp) and onnx-export, which has none, is shared by both backends.
 *
 * Every output of the configuration goes to its own folder (`<dir>/vastai/<name>`), so its outputs and
 * cache entries never mix with the onnxruntime ones.
 */
export const VASTAI_CONFIGURATION = 'vastai';

/** `dist/models/m/row/build-int8` -> `dist/models/m/row/vastai/build-int8`. */
export function vastaiOutputPath(p: string): string {
  const parts = p.replace(/\/+$/, '').split('/');
  const last = parts.pop()!;
  return [...parts, VASTAI_CONFIGURATION, last].join('/');
}

/** dataset-prep's `vastai` configuration: the uint8 shards plus npz inputs, in their own folder. */
export function vastaiDatasetConfiguration(outputPath: string): Record<string, unknown> {
  return { format: 'npz', outputPath: vastaiOutputPath(outputPath) };
}

const EXECUTOR = '@modelzoo/nx-plugin:';

/**
 * Adds the `vastai` configuration to a variant's vamc-build / vamp-bench / vamp-eval targets. The
 * VastAI tools are found through the vastai.vamcPath / vastai.vampPath options, else the VAMC_PATH /
 * VAMP_PATH environment variables, else PATH (see docs/vastai.md).
 */
export function addVastaiConfigurations(targets: Record<string, TargetConfiguration>): void {
  for (const t of Object.values(targets)) {
    const o = (t.options ?? {}) as Record<string, unknown>;
    const outputPath = o['outputPath'] as string | undefined;
    if (!outputPath) continue;
    let c: Record<string, unknown>;
    switch (t.executor) {
      case `${EXECUTOR}vamc-build`:
        // model is onnx-export's folder, shared by both backends; the dataset is the npz-prepared copy.
        c = { backend: 'vastai', dataset: vastaiOutputPath(o['dataset'] as string), vastai: { generation: '2025' } };
        break;
      case `${EXECUTOR}vamp-bench`:
        // The pair measured on the card: the vastai builds of both precisions, interleaved as on ONNX Runtime
        // (fewer reps: each is a whole vamp run of its own).
        c = { backend: 'vastai', models: (o['models'] as string[]).map(vastaiOutputPath), reps: 3, vastai: {} };
        break;
      case `${EXECUTOR}vamp-eval`:
        c = { backend: 'vastai', model: vastaiOutputPath(o['model'] as string), dataset: vastaiOutputPath(o['dataset'] as string), vastai: {} };
        break;
      default:
        continue;
    }
    t.configurations = { ...t.configurations, [VASTAI_CONFIGURATION]: { ...c, outputPath: vastaiOutputPath(outputPath) } };
  }
}

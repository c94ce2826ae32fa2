import type { ProjectConfiguration, TargetConfiguration } from '@nx/devkit';
import { PRESETS, resolvePreset, sameGeometry } from '../preprocess/spec';
import { type VariantSpec, datasetTargetFor, variantProject } from './variant-project';
import { VASTAI_CONFIGURATION, vastaiDatasetConfiguration } from './vastai-configuration';

/**
 * What the plugin infers (src/plugins/variants.ts): a variant's targets come from variantProject(), the
 * one source of their shape; this file only adds what `nx show project` shows about each of them and
 * the dataset project's prep targets, one per geometry the variants need.
 */

const DESCRIPTIONS: Record<string, (t: TargetConfiguration) => string> = {
  '@modelzoo/nx-plugin:vamc-build': (t) => `Builds the ${opt(t, 'precision')} model (normalization folded in, offline-optimized) from the export and the prepared dataset. -c ${VASTAI_CONFIGURATION}: VastAI vamc.`,
  '@modelzoo/nx-plugin:vamp-bench': () => `Benchmarks throughput and latency over batch sizes, threads and instances. -c ${VASTAI_CONFIGURATION}: VastAI vamp.`,
  '@modelzoo/nx-plugin:vamp-eval': (t) => `Evaluates top-1/top-5 of ${opt(t, 'model')} over the prepared dataset. -c ${VASTAI_CONFIGURATION}: VastAI vamp.`,
  '@modelzoo/nx-plugin:dataset-prep': (t) => `Prepares uint8 tensor shards, datalist and calibration subset for the ${opt(t, 'preprocess')} geometry. -c ${VASTAI_CONFIGURATION}: plus npz inputs for vamp.`,
};

function opt(t: TargetConfiguration, key: string): string {
  const v = (t.options as Record<string, unknown> | undefined)?.[key];
  return Array.isArray(v) ? v.join(' and ') : String(v);
}

/** Gives every target that has none a metadata.description (what `nx show project` prints). */
export function describeTargets(targets: Record<string, TargetConfiguration>): void {
  for (const t of Object.values(targets)) {
    const describe = t.executor ? DESCRIPTIONS[t.executor] : undefined;
    if (describe && !(t.metadata as { description?: string } | undefined)?.description) t.metadata = { ...t.metadata, description: describe(t) };
  }
}

/**
 * A variant's inferred project: variantProject() plus descriptions, keyed for createNodes (no root).
 *
 * Nx layers nx.json targetDefaults over inferred targets, so an inferred `inputs` would be replaced by
 * onnx-export's default; that default is `["plugin", "..."]`, which spreads the inferred list after
 * `plugin`. The inferred list therefore drops its own `plugin` (it would be there twice).
 */
export function inferVariantProject(v: VariantSpec, root: string): Omit<ProjectConfiguration, 'root'> {
  const { root: _root, ...p } = variantProject(v, root);
  const targets = p.targets ?? {};
  for (const t of Object.values(targets)) {
    if (t.executor === EXPORT_EXECUTOR && t.inputs) t.inputs = t.inputs.filter((i) => i !== 'plugin');
  }
  describeTargets(targets);
  return p;
}

const EXPORT_EXECUTOR = '@modelzoo/nx-plugin:onnx-export';

/** The first preset (in PRESETS order) with a geometry: the one a shared prep target is configured with. */
export function canonicalPreset(preprocess: string): string {
  const g = resolvePreset(preprocess).geometry;
  return Object.values(PRESETS).find((p) => sameGeometry(p.geometry, g))!.name;
}

/**
 * The dataset project's prep targets: one per geometry any of `preprocesses` needs, with the same
 * names and output paths variantProject()'s dependsOn point at. `options` (the project's
 * metadata.modelzoo.dataset) go to every one of them.
 */
export function datasetPrepTargets(preprocesses: Iterable<string>, options: Record<string, unknown> = {}): Record<string, TargetConfiguration> {
  const targets: Record<string, TargetConfiguration> = {};
  const needed = new Set([...preprocesses].map(canonicalPreset));
  for (const pre of Object.keys(PRESETS).filter((p) => needed.has(p))) {
    const { target, outputPath } = datasetTargetFor(pre);
    if (targets[target]) continue;
    targets[target] = {
      executor: '@modelzoo/nx-plugin:dataset-prep',
      options: { preprocess: pre, ...options, outputPath },
      configurations: { [VASTAI_CONFIGURATION]: vastaiDatasetConfiguration(outputPath) },
    };
  }
  describeTargets(targets);
  return targets;
}

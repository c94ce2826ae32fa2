import type { ProjectConfiguration } from '@nx/devkit';
import { geometryKey, resolvePreset } from '../preprocess/spec';
import type { ZooReference } from '../report/variants';
import { type ExportTargetSpec, onnxExportTarget } from '../export/export-target';
import { addVastaiConfigurations } from './vastai-configuration';

/** A variant: what its export builds (ExportTargetSpec: row, width, framework semantics, weights) and more. */
export interface VariantSpec extends ExportTargetSpec {
  zoo?: ZooReference;
  /**
   * Evaluate fp32 and int8 on the images outside the calibration subset (both eval targets, so the pair
   * stays fair). Per variant, not per dataset: a dataset option would rerun prep and every build for a
   * change that only selects which images are scored.
   */
  holdout?: boolean;
  /** The dataset project holding one prepared copy per preprocessing geometry. */
  datasetProject?: string;
}

export const DATASET_PROJECT = 'imagenet-val';

/** Dataset-prep target and output for a geometry, shared by every variant with that geometry. */
export function datasetTargetFor(preprocess: string): { target: string; outputPath: string } {
  const g = resolvePreset(preprocess).geometry;
  const key = `${g.backend === 'pillow' ? 'pil' : g.backend}-${g.interpolation}`;
  const exact = geometryKey(g) === `${g.backend}-${g.interpolation}-shorter256-crop224`;
  const name = exact ? key : geometryKey(g);
  return { target: `dataset-prep-${name}`, outputPath: `dist/datasets/${DATASET_PROJECT}/${name}` };
}

export function variantProjectName(v: Pick<VariantSpec, 'model' | 'row'>): string {
  return `${v.model}-${v.row}`;
}

/**
 * The project.json of one variant: export, fp32 and int8 builds and evals, and one paired bench of both.
 * Outputs go to dist/ (gitignored), never into the project folder, so they are never hashed as inputs.
 */
export function variantProject(v: VariantSpec, root: string): ProjectConfiguration {
  const name = variantProjectName(v);
  const out = `dist/models/${v.model}/${v.row}`;
  const dataset = datasetTargetFor(v.preprocess);
  const datasetDep = { projects: [v.datasetProject ?? DATASET_PROJECT], target: dataset.target };
  const targets: ProjectConfiguration['targets'] = {
    'onnx-export': onnxExportTarget(v, `${out}/export`),
  };
  for (const precision of ['fp32', 'int8'] as const) {
    const s = precision === 'int8' ? '-int8' : '';
    targets[`vamc-build${s}`] = {
      executor: '@modelzoo/nx-plugin:vamc-build',
      dependsOn: ['onnx-export', datasetDep],
      options: {
        model: `${out}/export`,
        dataset: dataset.outputPath,
        preprocess: v.preprocess,
        precision,
        outputPath: `${out}/build${s}`,
      },
    };
    targets[`vamp-eval${s}`] = {
      executor: '@modelzoo/nx-plugin:vamp-eval',
      dependsOn: [`vamc-build${s}`, datasetDep, ...(s ? [] : ['vamp-eval-int8'])],
      options: { model: `${out}/build${s}`, dataset: dataset.outputPath, outputPath: `${out}/eval${s}`, ...(v.holdout ? { holdout: true } : {}) },
    };
  }
  // One paired benchmark per variant: fp32 and int8 measured in one run, interleaved, so the speedup
  // is never a ratio of two runs made under different load; a change to either build reruns both.
  targets['vamp-bench'] = {
    executor: '@modelzoo/nx-plugin:vamp-bench',
    dependsOn: ['vamc-build', 'vamc-build-int8'],
    options: { models: [`${out}/build`, `${out}/build-int8`], outputPath: `${out}/bench` },
  };
  addVastaiConfigurations(targets);
  return {
    name,
    root,
    projectType: 'application',
    tags: ['variant', `model:${v.model}`, `preprocess:${v.preprocess}`],
    metadata: v.zoo ? { zoo: v.zoo } : undefined,
    implicitDependencies: [v.datasetProject ?? DATASET_PROJECT],
    targets,
  } as ProjectConfiguration;
}

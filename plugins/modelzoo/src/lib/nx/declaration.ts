import { OFFICIAL_WEIGHTS } from '../checkpoints/official';
import type { CheckpointFormat } from '../checkpoints/mobilenetv2-keys';
import type { CheckpointWeights } from '../export/checkpoint-source';
import type { ExportTargetSpec, PretrainedSpec } from '../export/export-target';
import { validateOptions } from '../common/options';
import type { ZooReference } from '../report/variants';
import { DATASET_PROJECT, type VariantSpec } from './variant-project';
import schema from './declaration.schema.json';

/**
 * What a variant's project.json declares under `metadata.modelzoo.variant`: the facts its targets
 * follow from. The plugin's createNodes (src/plugins/variants.ts) turns it into a VariantSpec and the
 * targets into variantProject(); the variant generator writes it. declaration.schema.json is its schema.
 */
export interface VariantDeclaration
  extends Pick<ExportTargetSpec, 'model' | 'row' | 'preprocess' | 'rounding' | 'padding' | 'bnEpsilon' | 'expandT1' | 'inputSize' | 'classes'>,
    Partial<Pick<ExportTargetSpec, 'width'>> {
  /** builtin (default; random-init graph), onnx (`file`) or checkpoint (`weights`). */
  source?: 'builtin' | 'onnx' | 'checkpoint';
  file?: string;
  weights?: CheckpointWeights;
  format?: CheckpointFormat;
  exporter?: 'native' | 'framework';
  python?: string;
  /** The row's official weights (`-c pretrained`): an OFFICIAL_WEIGHTS row name, or { url, sha256, format }. */
  pretrained?: string | PretrainedSpec;
  /** The zoo page's figures for this row (report columns, page order). */
  zoo?: ZooReference & { order?: number };
  /** The dataset project that prepares this variant's geometry (default imagenet-val). */
  dataset?: string;
}

/** `metadata.modelzoo` of a project.json: a variant, or the dataset project whose prep targets are inferred. */
export interface ModelzooMetadata {
  variant?: VariantDeclaration;
  /** Options given to every inferred dataset-prep target of this project (e.g. classes, limit). */
  dataset?: Record<string, unknown>;
}

export function officialPretrainedByName(name: string, where: string): PretrainedSpec {
  const w = OFFICIAL_WEIGHTS.find((o) => o.row === name);
  if (!w) {
    throw new Error(`${where}: 'pretrained' names no official weights row '${name}' (one of ${OFFICIAL_WEIGHTS.map((o) => o.row).join(', ')}), or give { url, sha256, format }`);
  }
  return { url: w.url, sha256: w.sha256, format: w.format, source: w.source };
}

/** The declaration of a project.json as a VariantSpec; `where` names the file in errors. */
export function declarationToSpec(raw: unknown, where: string): VariantSpec {
  const d = validateOptions<VariantDeclaration>(schema, raw, { project: where, target: 'metadata.modelzoo.variant' });
  const source = d.source ?? (d.file !== undefined ? 'onnx' : d.weights !== undefined ? 'checkpoint' : 'builtin');
  if (source === 'onnx' && !d.file) throw new Error(`${where}: metadata.modelzoo.variant.source is 'onnx': give 'file' (the ONNX model)`);
  if (source === 'checkpoint' && d.weights === undefined) throw new Error(`${where}: metadata.modelzoo.variant.source is 'checkpoint': give 'weights'`);
  if (source !== 'onnx' && d.file !== undefined) throw new Error(`${where}: metadata.modelzoo.variant.file applies to source 'onnx'`);
  if (source !== 'checkpoint' && d.weights !== undefined) throw new Error(`${where}: metadata.modelzoo.variant.weights applies to source 'checkpoint'`);
  const spec: VariantSpec = { model: d.model, row: d.row, preprocess: d.preprocess, width: d.width ?? 1 };
  for (const k of ['rounding', 'padding', 'bnEpsilon', 'expandT1', 'inputSize', 'classes'] as const) {
    if (d[k] !== undefined) (spec as unknown as Record<string, unknown>)[k] = d[k];
  }
  if (source === 'onnx') spec.onnxFile = d.file;
  if (source === 'checkpoint') {
    spec.checkpoint = { weights: d.weights! };
    if (d.format) spec.checkpoint.format = d.format;
    if (d.exporter) spec.checkpoint.exporter = d.exporter;
    if (d.python) spec.checkpoint.python = d.python;
  }
  if (d.pretrained !== undefined) {
    spec.pretrained = typeof d.pretrained === 'string' ? officialPretrainedByName(d.pretrained, where) : d.pretrained;
  }
  if (d.zoo) spec.zoo = d.zoo;
  if (d.dataset && d.dataset !== DATASET_PROJECT) spec.datasetProject = d.dataset;
  return spec;
}

/** The shortest declaration of a spec (what the generator and the seed writer put in project.json). */
export function specToDeclaration(v: VariantSpec, officialName?: string): VariantDeclaration {
  const d: VariantDeclaration = { model: v.model, row: v.row, preprocess: v.preprocess, width: v.width };
  for (const k of ['rounding', 'padding', 'bnEpsilon', 'expandT1', 'inputSize', 'classes'] as const) {
    if (v[k] !== undefined) (d as unknown as Record<string, unknown>)[k] = v[k];
  }
  if (v.onnxFile !== undefined) Object.assign(d, { source: 'onnx', file: v.onnxFile });
  if (v.checkpoint) {
    Object.assign(d, { source: 'checkpoint', weights: v.checkpoint.weights });
    if (v.checkpoint.format) d.format = v.checkpoint.format;
    if (v.checkpoint.exporter) d.exporter = v.checkpoint.exporter;
    if (v.checkpoint.python) d.python = v.checkpoint.python;
  }
  if (v.pretrained) d.pretrained = officialName ?? { url: v.pretrained.url, sha256: v.pretrained.sha256, format: v.pretrained.format };
  if (v.zoo) d.zoo = v.zoo;
  if (v.datasetProject) d.dataset = v.datasetProject;
  return d;
}

/** A variant's short project.json: name, the declaration; everything else is inferred. */
export function declarationProjectJson(d: VariantDeclaration, schemaPath: string): Record<string, unknown> {
  return { $schema: schemaPath, name: `${d.model}-${d.row}`, metadata: { modelzoo: { variant: d } } };
}

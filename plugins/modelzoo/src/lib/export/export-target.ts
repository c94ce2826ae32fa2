import type { TargetConfiguration } from '@nx/devkit';
import type { CheckpointFormat } from '../checkpoints/mobilenetv2-keys';
import type { CheckpointWeights } from './checkpoint-source';
import { WEIGHTS_LOCK_FILE } from '../checkpoints/weights-lock';

/** A variant whose default export reads a checkpoint (a local path or a pinned URL). */
export interface CheckpointSpec {
  weights: CheckpointWeights;
  format?: CheckpointFormat;
  exporter?: 'native' | 'framework';
  python?: string;
}

/** A row's official pretrained weights: the `pretrained` configuration of its onnx-export target. */
export interface PretrainedSpec {
  url: string;
  /** The publisher's sha256 (or its published prefix); null where none is published. */
  sha256: string | null;
  format: CheckpointFormat;
  /** Where the URL and checksum come from. */
  source?: string;
}

export const PRETRAINED_CONFIGURATION = 'pretrained';

/** The builder-relevant part of a variant (VariantSpec extends it). */
export interface ExportTargetSpec {
  model: string;
  /** Row name, e.g. torchvision, ppcls-x0.5. */
  row: string;
  preprocess: string;
  width: number;
  rounding?: 'torchvision' | 'paddle';
  padding?: 'symmetric' | 'tf-same';
  bnEpsilon?: number;
  /** PaddleClas: the t = 1 block keeps its 1x1 expand conv. */
  expandT1?: boolean;
  inputSize?: number;
  classes?: number;
  /** The variant's own checkpoint: its onnx-export reads it by default instead of the builtin graph. */
  checkpoint?: CheckpointSpec;
  /** An existing ONNX classifier (source 'onnx'): its onnx-export copies and cards it. */
  onnxFile?: string;
  /** The row's official weights: onnx-export's `pretrained` configuration. */
  pretrained?: PretrainedSpec;
}

const shellArg = (s: string) => (/^[\w./@:+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/**
 * onnx-export for a variant. By default the builtin MobileNetV2 with deterministic random-init weights
 * (offline, byte-reproducible, labelled `random-init` on every card and report row), or the variant's
 * own checkpoint when it has one. Rows with official weights get an Nx configuration `pretrained`
 * (`nx run-many -t vamp-eval -c pretrained`) that exports that checkpoint, downloaded once and verified
 * against the published sha256: the URL and checksum are options, so they key Nx's cache.
 *
 * Local checkpoint files are content-hashed through a runtime input (tools/fingerprint.mjs weights):
 * Nx hashes neither files outside the workspace nor gitignored ones, where big checkpoints usually live.
 * Target-level inputs replace nx.json's targetDefaults, so the `plugin` named input is repeated.
 */
export function onnxExportTarget(v: ExportTargetSpec, outputPath: string): TargetConfiguration {
  const options: Record<string, unknown> = {
    source: v.onnxFile !== undefined ? 'onnx' : v.checkpoint ? 'checkpoint' : 'builtin',
    model: v.model,
    variant: v.row,
    preprocess: v.preprocess,
  };
  if (v.checkpoint) {
    options['weights'] = v.checkpoint.weights;
    if (v.checkpoint.format) options['format'] = v.checkpoint.format;
    if (v.checkpoint.exporter) options['exporter'] = v.checkpoint.exporter;
    if (v.checkpoint.python) options['python'] = v.checkpoint.python;
  }
  if (v.onnxFile !== undefined) options['file'] = v.onnxFile;
  else options['width'] = v.width;
  options['outputPath'] = outputPath;
  if (!v.checkpoint && v.onnxFile === undefined) {
    if (v.rounding && v.rounding !== 'torchvision') options['rounding'] = v.rounding;
    if (v.padding && v.padding !== 'symmetric') options['padding'] = v.padding;
    if (v.bnEpsilon !== undefined) options['bnEpsilon'] = v.bnEpsilon;
    if (v.expandT1) options['expandT1'] = true;
  }
  if (v.inputSize !== undefined) options['inputSize'] = v.inputSize;
  if (v.classes !== undefined) options['classes'] = v.classes;

  const target: TargetConfiguration = { executor: '@modelzoo/nx-plugin:onnx-export', options };
  const p = v.pretrained;
  if (p) {
    // The checkpoint brings its framework's semantics (rounding, padding, BN epsilon), so only the
    // source changes; width stays as the row's check on the file.
    target.configurations = {
      [PRETRAINED_CONFIGURATION]: { source: 'checkpoint', weights: { url: p.url, sha256: p.sha256 }, format: p.format },
    };
  }
  const description = v.onnxFile !== undefined
    ? `Copies and cards the ONNX model ${v.onnxFile}.`
    : v.checkpoint
    ? `Exports the checkpoint ${typeof v.checkpoint.weights === 'string' ? v.checkpoint.weights : v.checkpoint.weights.url}.`
    : 'Default: the builtin MobileNetV2 with deterministic random-init weights (offline; chance-level accuracy; labelled random-init).';
  const pre = p
    ? ` -c ${PRETRAINED_CONFIGURATION}: the official ${p.format} weights ${p.url} (${
        p.sha256 ? `published sha256 ${p.sha256}${p.sha256.length < 64 ? '…' : ''}` : `no published checksum: pinned on first use in ${WEIGHTS_LOCK_FILE}`
      }).`
    : '';
  target.metadata = { description: description + pre };

  const local = [v.checkpoint?.weights, v.onnxFile].filter((w): w is string => typeof w === 'string');
  // Weights without a published checksum are pinned in the lock file on first use: a pin change reruns the export.
  const unpinned = [v.checkpoint?.weights, p && { url: p.url, sha256: p.sha256 }].some((w) => typeof w === 'object' && w !== null && !w.sha256);
  if (local.length > 0 || unpinned) {
    target.inputs = [
      'plugin',
      ...(unpinned ? [`{workspaceRoot}/${WEIGHTS_LOCK_FILE}`] : []),
      ...(local.length > 0 ? [{ runtime: `node tools/fingerprint.mjs weights ${local.map(shellArg).join(' ')}` }] : []),
    ];
  }
  return target;
}

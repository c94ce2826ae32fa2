import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256File } from '../common/atomic';
import { UserError } from '../common/errors';
import { exportNative } from '../checkpoints/export-native';
import { frameworkCounts } from '../checkpoints/counts';
import { type FrameworkExportOptions, runFrameworkExporter } from '../checkpoints/frameworks';
import { loadCheckpoint } from '../checkpoints/load';
import { CHECKPOINT_FORMATS, type CheckpointFormat } from '../checkpoints/mobilenetv2-keys';
import { resolveWeights } from '../checkpoints/weights';
import { pinnedWeights } from '../checkpoints/weights-lock';
import { encodeModel } from '../onnx/proto';

/** onnx-export `weights` for source 'checkpoint': a local path (workspace-relative or absolute) or a pinned URL. */
export type CheckpointWeights = string | { url: string; sha256?: string | null };

/** Options of the framework exporters that the native exporter does not need. */
export interface FrameworkToolOptions {
  modelName?: string;
  mmclsRoot?: string;
  mmclsConfig?: string;
  paddleModelDir?: string;
  paddle2onnx?: string;
}

export interface CheckpointExportOptions {
  weights?: CheckpointWeights;
  format?: CheckpointFormat;
  exporter?: 'native' | 'framework';
  python?: string;
  framework?: FrameworkToolOptions;
  /** Checked against the checkpoint when given (the row's width / class count). */
  width?: number;
  classes?: number;
  inputSize: number;
  opset: number;
  /** Relative local weights resolve against this (the workspace root). */
  baseDir?: string;
  /** Download cache (default: resolveWeights' user cache). */
  cacheDir?: string;
}

export interface CheckpointExport {
  bytes: Uint8Array;
  /** The checkpoint's identity for cards and reports: "<file name> sha256:<first 12 hex>". */
  label: string;
  details: Record<string, unknown>;
  library: { params: number; macs: number; convention: string };
}

const DEFAULT_MODEL_NAME: Partial<Record<CheckpointFormat, string>> = { torchvision: 'mobilenet_v2', timm: 'mobilenetv2_100' };

/** Names the option (and the file, once) in every error, whatever layer raised it. */
function optionError(err: unknown, option: string, file?: string): UserError {
  const msg = (err as Error).message ?? String(err);
  if (msg.startsWith('option ')) return new UserError(msg);
  if (!file || msg.includes(file)) return new UserError(`${option}: ${msg}`);
  return new UserError(`${option} (${file}): ${msg}`);
}

/** A shape mismatch under an explicit width/classes: say which options asked for it. */
function widthHint(err: UserError, o: CheckpointExportOptions): UserError {
  if (!/does not match/.test(err.message) || (o.width === undefined && o.classes === undefined)) return err;
  const set = [o.width !== undefined ? `'width' is ${o.width}` : '', o.classes !== undefined ? `'classes' is ${o.classes}` : ''].filter(Boolean);
  return new UserError(`${err.message}\n  (option ${set.join(' and option ')}: the checkpoint must match; remove the option to take the checkpoint's own)`);
}

export function weightsName(spec: CheckpointWeights, file: string): string {
  if (typeof spec === 'string') return path.basename(file);
  return decodeURIComponent(new URL(spec.url).pathname.split('/').pop() || path.basename(file));
}

/**
 * The library's own figures (libraryParams/libraryMacs on the card) come from frameworkCounts: that
 * library's MobileNetV2 at the checkpoint's width and class count, counted by its own convention. They
 * do not depend on how the graph was exported (torch.onnx folds BN into Conv; the native graph keeps it).
 *
 * source 'checkpoint': resolve the weights (local file or verified download), read the checkpoint with
 * the safe readers, and export it natively (default) or with the framework's own exporter.
 */
export async function exportCheckpoint(o: CheckpointExportOptions): Promise<CheckpointExport> {
  let spec = o.weights;
  if (spec === undefined || spec === '') throw new UserError(`option 'weights' is required when source is 'checkpoint' (a local path, or { url, sha256 })`);
  if (o.format !== undefined && !CHECKPOINT_FORMATS.includes(o.format)) {
    throw new UserError(`option 'format' must be one of ${CHECKPOINT_FORMATS.join(', ')}`);
  }
  // No published checksum: pinned on first use in models/weights.lock.json (refused in frozen mode).
  if (typeof spec === 'object' && !spec.sha256) {
    try {
      spec = await pinnedWeights(spec, { workspaceRoot: o.baseDir ?? process.cwd(), cacheDir: o.cacheDir });
    } catch (err) {
      throw optionError(err, `option 'weights'`);
    }
  }
  let file: string;
  try {
    file = await resolveWeights(spec as string | { url: string; sha256: string }, { baseDir: o.baseDir, cacheDir: o.cacheDir });
  } catch (err) {
    throw optionError(err, `option 'weights'`);
  }
  const sha = await sha256File(file);
  const name = weightsName(spec, file);
  const label = `${name} sha256:${sha.slice(0, 12)}`;
  const checkpoint = { weights: spec, file: name, sha256: sha };
  const exporter = o.exporter ?? 'native';

  if (exporter === 'native') {
    let r;
    try {
      r = await exportNative({ file, format: o.format, width: o.width, classes: o.classes, inputSize: o.inputSize, opset: o.opset });
    } catch (err) {
      throw widthHint(optionError(err, `option 'weights'`, file), o);
    }
    const counts = frameworkCounts(r.meta.format, { width: r.meta.width, classes: r.meta.classes, inputSize: o.inputSize });
    const { file: _f, ...meta } = r.meta;
    return {
      bytes: encodeModel(r.model),
      label,
      details: { exporter: 'native', checkpoint: { ...checkpoint, ...meta }, builder: { builder: 'mobilenetv2', ...r.builder } },
      library: { params: counts.params, macs: counts.macs, convention: counts.convention },
    };
  }

  // Framework exporter: the checkpoint is still read natively first, so a hostile pickle is refused
  // before any framework's loader sees it, and the format/width/classes come from the file.
  let meta;
  try {
    meta = (await loadCheckpoint(file, o.format, { width: o.width, classes: o.classes })).meta;
  } catch (err) {
    throw widthHint(optionError(err, `option 'weights'`, file), o);
  }
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'modelzoo-framework-export-'));
  try {
    const fw: FrameworkExportOptions = {
      library: meta.format,
      outDir: tmp,
      python: o.python,
      size: o.inputSize,
      classes: meta.classes,
      width: meta.width,
      weights: file,
      opset: o.opset,
      ...o.framework,
      modelName: o.framework?.modelName ?? DEFAULT_MODEL_NAME[meta.format],
    };
    const r = await runFrameworkExporter(fw);
    const bytes = new Uint8Array(await fs.readFile(r.onnxFile));
    const counts = frameworkCounts(meta.format, { width: meta.width, classes: meta.classes, inputSize: o.inputSize });
    const { file: _f, ...m } = meta;
    return {
      bytes,
      label,
      details: { exporter: 'framework', checkpoint: { ...checkpoint, ...m }, command: r.command.map((a) => (a === tmp || a.startsWith(tmp + path.sep) ? `<out>${a.slice(tmp.length)}` : a)) },
      library: { params: counts.params, macs: counts.macs, convention: counts.convention },
    };
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

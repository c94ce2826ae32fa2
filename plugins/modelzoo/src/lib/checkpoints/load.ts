import * as fs from 'node:fs/promises';
import { UserError } from '../common/errors';
import { readFileBounded } from '../common/limits';
import { type MobileNetV2Options, type WeightSource } from '../onnx/mobilenetv2';
import { bindWeights } from './bind';
import { isHdf5, readKerasH5 } from './keras-h5';
import { CHECKPOINT_FORMATS, type CheckpointFormat, FRAMEWORK_SEMANTICS } from './mobilenetv2-keys';
import { type StateDict, extractStateDict } from './state-dict';
import { parseTorch } from './torch-file';

export interface CheckpointMeta {
  file: string;
  format: CheckpointFormat;
  /** How the file was stored: torch zip, legacy torch, plain pickle (Paddle), HDF5 (Keras). */
  container: 'torch-zip' | 'torch-legacy' | 'pickle' | 'hdf5';
  /** Key under which the state dict was found (e.g. 'state_dict'), if wrapped. */
  wrapper?: string;
  /** Key naming that matched ('paddle-structured' or 'paddle-params' for Paddle). */
  keys: string;
  width: number;
  classes: number;
  tensors: number;
  /** What the framework's own model outputs beyond the logits this graph returns. */
  notes: string[];
}

export interface LoadedCheckpoint {
  weights: WeightSource;
  /** Builder options giving the framework's exact semantics (pass through to buildMobileNetV2). */
  builder: Partial<MobileNetV2Options>;
  meta: CheckpointMeta;
}

export interface LoadOptions {
  width?: number;
  classes?: number;
}

/** Reads the file's tensors; format from the caller, else from the container and key names. */
async function readState(file: string): Promise<{ state: StateDict; container: CheckpointMeta['container']; wrapper?: string }> {
  let head: Uint8Array;
  try {
    const fh = await fs.open(file, 'r');
    try {
      head = new Uint8Array(8);
      await fh.read(head, 0, 8, 0);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw new UserError(`cannot read checkpoint ${file}: ${(err as Error).message}`);
  }
  if (isHdf5(head)) return { state: (await readKerasH5(file)).state, container: 'hdf5' };
  const data = await readFileBounded(file, 'checkpoint');
  const { value, container } = parseTorch(data, file);
  const { state, wrapper } = extractStateDict(value, file);
  return { state, container, wrapper };
}

export function detectFormat(state: StateDict, container: CheckpointMeta['container']): CheckpointFormat | undefined {
  if (container === 'hdf5') return 'keras';
  const has = (k: string) => state.has(k);
  if (has('features.0.0.weight')) return 'torchvision';
  if (has('conv_stem.weight')) return 'timm';
  if (has('backbone.conv1.conv.weight')) return 'mmcls';
  if (has('conv1._conv.weight') || has('conv1_1_weights')) return 'paddle';
  return undefined;
}

/**
 * Loads a MobileNetV2 checkpoint of any supported framework and maps it onto the builder's layers.
 * Never runs code from the file (see pickle.ts). Errors name the file and the offending keys.
 */
export async function loadCheckpoint(file: string, format?: CheckpointFormat, opts: LoadOptions = {}): Promise<LoadedCheckpoint> {
  if (format && !CHECKPOINT_FORMATS.includes(format)) {
    throw new UserError(`unknown checkpoint format '${String(format)}' (expected one of ${CHECKPOINT_FORMATS.join(', ')})`);
  }
  let read;
  try {
    read = await readState(file);
  } catch (err) {
    if (err instanceof UserError) throw err;
    // Every message names the file: most start with it, some raised deep in the unpickler do not.
    const msg = (err as Error).message;
    throw new UserError(msg.startsWith(file) ? msg : `${file}: ${msg}`);
  }
  const detected = detectFormat(read.state, read.container);
  const fmt = format ?? detected;
  if (!fmt) {
    const sample = [...read.state.keys()].slice(0, 8).join(', ');
    throw new UserError(`${file}: cannot tell which framework wrote this checkpoint (first keys: ${sample}); pass the format explicitly`);
  }
  if (fmt === 'keras' && read.container !== 'hdf5') throw new UserError(`${file}: Keras weights must be an HDF5 (.h5) file`);
  if (fmt !== 'keras' && read.container === 'hdf5') throw new UserError(`${file}: an HDF5 file cannot be a ${fmt} checkpoint`);
  let binding;
  try {
    binding = bindWeights(read.state, fmt, file, opts);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  const notes: string[] = [];
  if (fmt === 'keras') notes.push('Keras applies softmax in its predictions layer; this graph outputs the logits before it');
  if (fmt === 'paddle') notes.push('PaddleClas Linear weights are stored [in, out] and transposed into Gemm [out, in]');
  return {
    weights: binding.weights,
    builder: { ...FRAMEWORK_SEMANTICS[fmt], width: binding.width, classes: binding.classes, weights: binding.weights },
    meta: {
      file,
      format: fmt,
      container: read.container,
      wrapper: read.wrapper,
      keys: binding.keys,
      width: binding.width,
      classes: binding.classes,
      tensors: read.state.size,
      notes,
    },
  };
}

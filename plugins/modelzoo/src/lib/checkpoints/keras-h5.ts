import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatBytes, maxArchiveBytes, maxFileBytes } from '../common/limits';
import { type DType, NdArray, contiguousStrides } from './ndarray';
import type { StateDict } from './state-dict';

/**
 * Keras HDF5 weights, read with h5wasm (no Python): full-model files (`model_weights/` group, with
 * `model_config`) and weights-only files (`save_weights`, layer groups at the root). Each layer
 * group lists its variables in the `weight_names` attribute (e.g. `Conv1/kernel:0`); tensors come back
 * keyed `<layer>/<variable>` in Keras's own layouts.
 */
interface H5Attr {
  value: unknown;
}
interface H5Node {
  attrs: Record<string, H5Attr>;
  keys?: () => string[];
  get?: (p: string) => H5Node | null;
  shape?: number[] | null;
  dtype?: unknown;
  value?: unknown;
}
interface H5File extends H5Node {
  file_id: bigint;
  close(): void;
}
interface H5Module {
  ready: Promise<unknown>;
  File: new (file: string, mode: string) => H5File;
}

let h5: Promise<H5Module> | undefined;

/** h5wasm ships ESM only; Node >= 20.19 require()s it from its file path (its exports map has no require). */
function loadH5wasm(): Promise<H5Module> {
  h5 ??= (async () => {
    let dir = __dirname;
    for (;;) {
      const candidate = path.join(dir, 'node_modules', 'h5wasm', 'dist', 'node', 'hdf5_hl.js');
      if (fs.existsSync(candidate)) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const m = require(candidate) as H5Module;
        await m.ready;
        return m;
      }
      const up = path.dirname(dir);
      // Reached only where no node_modules/h5wasm exists from here up to /, which a test cannot arrange
      // without uninstalling it: the `false` mutant would loop there, and the message is never seen.
      // Stryker disable next-line ConditionalExpression,StringLiteral: untestable with h5wasm installed (see above)
      if (up === dir) throw new Error('h5wasm is not installed (needed to read Keras .h5 files)');
      dir = up;
    }
  })();
  return h5;
}

export const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

export function isHdf5(head: Uint8Array): boolean {
  return HDF5_MAGIC.every((b, i) => head[i] === b);
}

function names(v: unknown): string[] {
  if (v == null) return [];
  const arr = Array.isArray(v) || ArrayBuffer.isView(v) ? Array.from(v as ArrayLike<unknown>) : [v];
  return arr.map((x) => (x instanceof Uint8Array ? Buffer.from(x).toString('utf8') : String(x)));
}

const H5_FLOATS: Record<string, DType> = { '<f': 'float32', '>f': 'float32', '<d': 'float64', '>d': 'float64' };

/**
 * The element type, from the dataset's HDF5 type before anything is read ('<f', '>d': h5wasm returns
 * big-endian floats in native order). h5wasm cannot read half floats, and it returns integer datasets
 * as typed arrays too (uint16 as a Uint16Array): neither may be taken for weights.
 */
function dtypeOf(h5dtype: unknown, where: string): DType {
  const t = String(h5dtype);
  const dtype = H5_FLOATS[t];
  if (dtype) return dtype;
  const hint = t.endsWith('e') ? '; float16 datasets cannot be read, re-save the weights as float32' : '';
  throw new Error(`${where}: unsupported dataset type ${t} (expected float32 or float64 weights${hint})`);
}

export interface KerasWeights {
  state: StateDict;
  fullModel: boolean;
  kerasVersion?: string;
  layerNames: string[];
}

export async function readKerasH5(file: string): Promise<KerasWeights> {
  if (!fs.existsSync(file)) throw new Error(`cannot read Keras weights ${file}: no such file`);
  const size = fs.statSync(file).size;
  if (size > maxFileBytes()) {
    throw new Error(`${file} is ${formatBytes(size)}, more than ${formatBytes(maxFileBytes())}; refused (set MODELZOO_MAX_FILE_BYTES to raise the cap)`);
  }
  const mod = await loadH5wasm();
  // h5wasm does not throw for a file HDF5 cannot open: the handle is invalid (-1), and reading it would
  // fail later with an error naming nothing ('name not defined').
  const f = new mod.File(file, 'r');
  // Stryker disable next-line EqualityOperator: HDF5 never hands out id 0 (valid ids carry their type in the high bits), so `<= 0` is equivalent
  if (f.file_id < 0) throw new Error(`${file}: not a readable HDF5 file (damaged, truncated, or not HDF5 past its signature)`);
  try {
    const mw = f.get!('model_weights');
    const fullModel = mw != null && 'model_config' in f.attrs;
    const root = fullModel ? mw! : f;
    if (!('layer_names' in root.attrs)) {
      throw new Error(
        `${file}: not a Keras HDF5 weights file (no 'layer_names' attribute${fullModel ? ' in model_weights' : ''}); ` +
          `Keras 3 '.weights.h5' files are not supported, re-save with model.save('x.h5')`,
      );
    }
    const layerNames = names(root.attrs['layer_names']!.value);
    const state: StateDict = new Map();
    // Datasets may be compressed: their declared shapes, not the file size, say what reading them allocates.
    const cap = maxArchiveBytes();
    let total = 0;
    for (const layer of layerNames) {
      const g = root.get!(layer);
      if (!g) throw new Error(`${file}: layer '${layer}' listed in layer_names has no group`);
      for (const wn of names(g.attrs['weight_names']?.value)) {
        const ds = g.get!(wn);
        if (!ds || ds.shape == null) throw new Error(`${file}: weight '${layer}/${wn}' is missing`);
        const declared = ds.shape.map(Number);
        // HDF5 dimensions are unsigned: a huge one (past 2^53) is what this catches; `d >= 0` is a guard only.
        const dimOk = (d: number) =>
          Number.isSafeInteger(d) &&
          // Stryker disable next-line ConditionalExpression: h5wasm never reports a negative dimension (`d >= 0` -> true is equivalent)
          d >= 0;
        if (!declared.every(dimOk)) throw new Error(`${file}: weight '${layer}/${wn}' has a bad shape [${declared}]`);
        // 8 bytes per element bounds every accepted dtype (float32/64).
        total += declared.reduce((a, d) => a * d, 1) * 8;
        if (total > cap) {
          throw new Error(
            `${file}: weights up to '${layer}/${wn}' declare more than ${formatBytes(cap)}; refused (set MODELZOO_MAX_ARCHIVE_BYTES to raise the cap for a trusted file)`,
          );
        }
        const dtype = dtypeOf(ds.dtype, `${file}: weight '${layer}/${wn}'`);
        // h5wasm reads '<f'/'>f' as a Float32Array and '<d'/'>d' as a Float64Array, in native order; a
        // scalar dataset (shape []) as a plain number.
        const raw = ds.value;
        const tv = typeof raw === 'number' ? (dtype === 'float32' ? Float32Array : Float64Array).of(raw) : (raw as Float32Array);
        const bytes = new Uint8Array(tv.buffer, tv.byteOffset, tv.byteLength);
        const shape = ds.shape.map(Number);
        const variable = wn.split('/').pop()!.replace(/:\d+$/, '');
        state.set(`${layer}/${variable}`, new NdArray({ dtype, bytes, name: `${file}:${layer}/${wn}` }, shape, contiguousStrides(shape), 0));
      }
    }
    const kv = f.attrs['keras_version']?.value ?? root.attrs['keras_version']?.value;
    return { state, fullModel, kerasVersion: names(kv)[0], layerNames };
  } finally {
    f.close();
  }
}

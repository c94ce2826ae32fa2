import * as path from 'node:path';
import { unzipBounded } from '../common/bounded-zip';
import { readFileBounded } from '../common/limits';
import { type DType, DTYPE_BYTES, NdArray, type Storage, viewBytes } from './ndarray';
import { NUMPY_GLOBALS } from './numpy-globals';
import { BASE_GLOBALS, type GlobalTable, type PyGlobal, UnpicklingError, pyGlobal, unpickle } from './pickle';

/**
 * torch.save files, both layouts: the zip archive (torch >= 1.6: `<root>/data.pkl` plus one entry per
 * storage under `<root>/data/`) and the legacy stream (magic, protocol, sys-info pickles, the object
 * pickle, the storage-key list, then each storage's raw bytes). Tensors come back as NdArray views.
 */
const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

interface StorageType extends PyGlobal {
  storageDtype: DType;
}

// Errors thrown here are plain Errors: the unpickler re-raises them as UnpicklingErrors naming the file,
// the callable and the pickle offset (an UnpicklingError would pass through without them).
function rebuildTensor(args: unknown[]): NdArray {
  const [storage, offset, size, stride] = args;
  if (!storage || typeof storage !== 'object' || !('dtype' in storage)) throw new Error('tensor rebuild without a storage');
  const ints = (v: unknown, what: string) => {
    if (!Array.isArray(v) || !v.every((d) => typeof d === 'number')) throw new Error(`tensor ${what} is not a tuple of ints`);
    return v as number[];
  };
  if (!isCount(offset)) throw new Error('tensor storage offset is not a non-negative int');
  const shape = ints(size, 'size');
  const strides = ints(stride, 'stride');
  if (!shape.every(isCount) || !strides.every(isCount) || shape.length !== strides.length) {
    throw new Error(`tensor size [${shape}] / stride [${strides}] are not non-negative ints of equal rank`);
  }
  // The view must fit its storage; checked again (NdArray.toFloat32) once legacy storages are filled in.
  const bytes = (storage as Storage).bytes;
  if (bytes) {
    const need = viewBytes(shape, strides, offset, DTYPE_BYTES[(storage as Storage).dtype]);
    if (need > bytes.byteLength) {
      throw new Error(`${(storage as Storage).name}: tensor of size [${shape}] needs ${need} bytes, its storage has ${bytes.byteLength}`);
    }
  }
  return new NdArray(storage as Storage, shape, strides, offset);
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function torchGlobals(): GlobalTable {
  const t: GlobalTable = {
    'torch._utils._rebuild_tensor_v2': pyGlobal('torch._utils._rebuild_tensor_v2', rebuildTensor),
    'torch._utils._rebuild_tensor': pyGlobal('torch._utils._rebuild_tensor', rebuildTensor),
    // A Parameter is its data tensor; requires_grad and hooks do not matter for inference.
    'torch._utils._rebuild_parameter': pyGlobal('torch._utils._rebuild_parameter', (a) => a[0]),
    'torch._utils._rebuild_parameter_with_state': pyGlobal('torch._utils._rebuild_parameter_with_state', (a) => a[0]),
    'torch.Size': pyGlobal('torch.Size', (a) => (Array.isArray(a[0]) ? a[0] : [])),
  };
  for (const [name, dtype] of Object.entries(STORAGE_DTYPES)) {
    const g: StorageType = {
      qualname: `torch.${name}`,
      storageDtype: dtype,
      call: () => {
        throw new Error(`torch.${name} may only appear as a storage type`);
      },
    };
    t[`torch.${name}`] = g;
  }
  return t;
}

export const TORCH_GLOBALS: GlobalTable = { ...BASE_GLOBALS, ...NUMPY_GLOBALS, ...torchGlobals() };

function storageDtype(t: unknown, where: string): DType {
  if (t && typeof t === 'object' && 'storageDtype' in t) return (t as StorageType).storageDtype;
  throw new UnpicklingError(`${where}: persistent id names an unknown storage type`);
}

export function isZip(data: Uint8Array): boolean {
  return data[0] === 0x50 && data[1] === 0x4b && data[2] === 0x03 && data[3] === 0x04;
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

export type PickleContainer = 'torch-zip' | 'torch-legacy' | 'pickle';

export async function readTorchFile(file: string): Promise<{ value: unknown; container: PickleContainer }> {
  return parseTorch(await readFileBounded(file, 'checkpoint'), file);
}

/**
 * A torch.save file (zip or legacy), or a plain pickle such as Paddle's `.pdparams` (numpy arrays);
 * the same allowlist applies to all three.
 */
export function parseTorch(data: Uint8Array, where: string): { value: unknown; container: PickleContainer } {
  if (isZip(data)) return { value: parseZip(data, where), container: 'torch-zip' };
  if (data[0] === 0x80) return parseLegacy(data, where);
  if (data.length > 262 && Buffer.from(data.subarray(257, 262)).toString('latin1') === 'ustar') {
    throw new Error(`${where}: the pre-0.4 tar torch format is not supported; re-save it with torch.save`);
  }
  throw new Error(`${where}: ${notRecognised(where)}`);
}

/** Said by content, named after what the file's extension promised. */
function notRecognised(where: string): string {
  const ext = path.extname(where).toLowerCase();
  if (ext === '.h5' || ext === '.hdf5' || ext === '.keras') return 'not an HDF5 file (no HDF5 signature at its start)';
  if (ext === '.pdparams') return 'not a Paddle .pdparams file (not a pickle)';
  return 'not a torch checkpoint (neither a zip archive nor a pickle)';
}

function parseZip(data: Uint8Array, where: string): unknown {
  const entries = unzipBounded(data, where);
  const pkl = Object.keys(entries).find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (!pkl) throw new Error(`${where}: zip archive has no data.pkl (not a torch.save file)`);
  const root = pkl.slice(0, -'data.pkl'.length);
  const order = entries[`${root}byteorder`];
  const littleEndian = !order || Buffer.from(order).toString('latin1').trim() !== 'big';
  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid[0] !== 'storage') throw new UnpicklingError(`${where}: unsupported persistent id`);
    const [, type, key] = pid as [string, unknown, unknown];
    const k = String(key);
    const cached = storages.get(k);
    if (cached) return cached;
    const bytes = entries[`${root}data/${k}`];
    if (!bytes) throw new UnpicklingError(`${where}: storage ${k} missing from the archive`);
    const s: Storage = { dtype: storageDtype(type, where), bytes, name: `${where}:data/${k}` };
    storages.set(k, s);
    return s;
  };
  if (!littleEndian) throw new Error(`${where}: big-endian torch archives are not supported`);
  return unpickle(entries[pkl]!, { globals: TORCH_GLOBALS, persistentLoad, where: `${where}:${pkl}` }).value;
}

function parseLegacy(data: Uint8Array, where: string): { value: unknown; container: PickleContainer } {
  const plain = { globals: TORCH_GLOBALS, where };
  const magic = unpickle(data, plain, 0);
  if (magic.value !== LEGACY_MAGIC) return { value: magic.value, container: 'pickle' };
  const proto = unpickle(data, plain, magic.end);
  if (proto.value !== 1001) throw new Error(`${where}: unsupported legacy torch protocol ${String(proto.value)}`);
  const sys = unpickle(data, plain, proto.end);
  const roots = new Map<string, Storage & { numel?: number }>();
  const views: { view: Storage; root: string; offset: number; size: number }[] = [];
  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid[0] !== 'storage') throw new UnpicklingError(`${where}: unsupported persistent id`);
    const [, type, rootKey, , , view] = pid as [string, unknown, unknown, unknown, unknown, unknown];
    // Legacy storages are filled in after the object pickle; their views are checked then.
    const k = String(rootKey);
    let root = roots.get(k);
    if (!root) {
      root = { dtype: storageDtype(type, where), name: `${where}:storage ${k}` };
      roots.set(k, root);
    }
    if (Array.isArray(view)) {
      const [viewKey, offset, size] = view as [unknown, unknown, unknown];
      if (!isCount(offset) || !isCount(size)) throw new UnpicklingError(`${where}: storage view ${String(viewKey)} has a bad offset or size`);
      const v: Storage = { dtype: root.dtype, name: `${where}:view ${String(viewKey)}` };
      views.push({ view: v, root: k, offset, size });
      return v;
    }
    return root;
  };
  const main = unpickle(data, { globals: TORCH_GLOBALS, persistentLoad, where }, sys.end);
  const keys = unpickle(data, plain, main.end);
  if (!Array.isArray(keys.value)) throw new Error(`${where}: legacy storage key list missing`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = keys.end;
  for (const key of keys.value) {
    const s = roots.get(String(key));
    if (pos + 8 > data.length) throw new Error(`${where}: truncated before storage ${String(key)}`);
    const declared = dv.getBigInt64(pos, true);
    pos += 8;
    const width = DTYPE_BYTES[s?.dtype ?? 'uint8'];
    // The declared element count is only trusted as far as the file's own bytes go: no allocation.
    if (declared < 0n || declared * BigInt(width) > BigInt(data.length - pos)) {
      throw new Error(`${where}: storage ${String(key)} declares ${declared} elements, more than the ${data.length - pos} bytes left in the file hold`);
    }
    const numel = Number(declared);
    if (s) s.bytes = data.subarray(pos, pos + numel * width);
    pos += numel * width;
  }
  for (const v of views) {
    const r = roots.get(v.root)!;
    const w = DTYPE_BYTES[r.dtype];
    if (r.bytes && (v.offset + v.size) * w > r.bytes.byteLength) {
      throw new Error(`${where}: ${v.view.name} reaches past the end of its storage (${r.bytes.byteLength} bytes)`);
    }
    v.view.bytes = r.bytes?.subarray(v.offset * w, (v.offset + v.size) * w);
  }
  return { value: main.value, container: 'torch-legacy' };
}

import { zipSync } from 'fflate';
import { ZipLimitError, unzipBounded } from '../common/bounded-zip';
import { fromFp16Bits } from './fp16';

/**
 * The .npy and .npz formats, as numpy writes them, so vamp can read our inputs and we can read vamp's
 * outputs without Python. An npz is a ZIP of `<name>.npy` members; np.savez stores them uncompressed,
 * np.savez_compressed deflates them; both are read here.
 */
export type NpyDtype = '|u1' | '|i1' | '<u2' | '<i2' | '<i4' | '<i8' | '<f2' | '<f4' | '<f8';

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** Raw little-endian element bytes, C order. */
  data: Uint8Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ITEM_SIZE: Record<NpyDtype, number> = {
  '|u1': 1, '|i1': 1, '<u2': 2, '<i2': 2, '<i4': 4, '<i8': 8, '<f2': 2, '<f4': 4, '<f8': 8,
};

export function encodeNpy(arr: NpyArray): Uint8Array {
  const count = arr.shape.reduce((a, d) => a * d, 1);
  if (count * ITEM_SIZE[arr.dtype] !== arr.data.length) {
    throw new Error(`npy: shape [${arr.shape}] of ${arr.dtype} needs ${count * ITEM_SIZE[arr.dtype]} bytes, got ${arr.data.length}`);
  }
  const shape = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${arr.dtype}', 'fortran_order': False, 'shape': ${shape}, }`;
  // numpy pads the header with spaces so the data starts 64-byte aligned; the header ends with '\n'.
  const total = MAGIC.length + 2 + 2 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(MAGIC.length + 4 + header.length + arr.data.length);
  out.set(MAGIC, 0);
  out[6] = 1; // version 1.0
  out[7] = 0;
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  // Stryker disable next-line EqualityOperator: i <= header.length only writes charCodeAt(length) = NaN -> 0 at the first data byte, which out.set(arr.data) overwrites next (or past the end, a no-op, when there is no data)
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(arr.data, 10 + header.length);
  return out;
}

export function decodeNpy(bytes: Uint8Array, where: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new Error(`${where}: not an .npy array`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [headerLen, start] = major === 1 ? [view.getUint16(8, true), 10] : [view.getUint32(8, true), 12];
  const header = Buffer.from(bytes.subarray(start, start + headerLen)).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`${where}: unreadable .npy header ${JSON.stringify(header)}`);
  const dtype = (descr === '<u1' || descr === '>u1' ? '|u1' : descr === '<i1' ? '|i1' : descr) as NpyDtype;
  if (!(dtype in ITEM_SIZE)) throw new Error(`${where}: unsupported dtype '${descr}'`);
  if (fortran === 'True') throw new Error(`${where}: Fortran-order arrays are not supported`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`${where}: bad .npy shape (${shapeText})`);
  const count = shape.reduce((a, d) => a * d, 1);
  const dataStart = start + headerLen;
  const need = count * ITEM_SIZE[dtype];
  if (bytes.length - dataStart < need) throw new Error(`${where}: truncated (${bytes.length - dataStart} of ${need} data bytes)`);
  return { dtype, shape, data: bytes.slice(dataStart, dataStart + need) };
}

/** Fixed member timestamps keep npz bytes identical across runs (Nx hashes outputs). */
const ZIP_MTIME = new Date('1980-01-01T00:00:00Z');

export function encodeNpz(arrays: Record<string, NpyArray>): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0; mtime: Date }]> = {};
  for (const [name, arr] of Object.entries(arrays)) files[`${name}.npy`] = [encodeNpy(arr), { level: 0, mtime: ZIP_MTIME }];
  return zipSync(files);
}

export function decodeNpz(bytes: Uint8Array, where: string): Record<string, NpyArray> {
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) throw new Error(`${where}: not a readable .npz (zip) file: no zip signature`);
  let members: Record<string, Uint8Array>;
  try {
    members = unzipBounded(bytes, where);
  } catch (err) {
    if (err instanceof ZipLimitError) throw err;
    throw new Error(`${where}: not a readable .npz (zip) file: ${(err as Error).message}`);
  }
  const out: Record<string, NpyArray> = {};
  for (const [name, data] of Object.entries(members)) {
    if (!name.endsWith('.npy')) continue;
    out[name.slice(0, -4)] = decodeNpy(data, `${where}:${name}`);
  }
  return out;
}

/** Element values as float64 whatever the stored dtype (outputs are fp16 or fp32 depending on the model). */
export function npyToFloat64(arr: NpyArray): Float64Array {
  const n = arr.data.length / ITEM_SIZE[arr.dtype];
  const v = new DataView(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    switch (arr.dtype) {
      case '|u1': out[i] = v.getUint8(i); break;
      case '|i1': out[i] = v.getInt8(i); break;
      case '<u2': out[i] = v.getUint16(2 * i, true); break;
      case '<i2': out[i] = v.getInt16(2 * i, true); break;
      case '<i4': out[i] = v.getInt32(4 * i, true); break;
      case '<i8': out[i] = Number(v.getBigInt64(8 * i, true)); break;
      case '<f2': out[i] = fromFp16Bits(v.getUint16(2 * i, true)); break;
      case '<f4': out[i] = v.getFloat32(4 * i, true); break;
      case '<f8': out[i] = v.getFloat64(8 * i, true); break;
    }
  }
  return out;
}

export function float32Npy(values: Float32Array, shape: number[]): NpyArray {
  return { dtype: '<f4', shape, data: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)) };
}

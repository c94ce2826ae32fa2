/**
 * A strided array as checkpoints store it (torch tensor views over a storage, numpy arrays), kept lazy
 * so only the tensors a model maps are ever converted to float32.
 */
export type DType =
  | 'float16'
  | 'bfloat16'
  | 'float32'
  | 'float64'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'bool';

export const DTYPE_BYTES: Record<DType, number> = {
  float16: 2,
  bfloat16: 2,
  float32: 4,
  float64: 8,
  int8: 1,
  uint8: 1,
  int16: 2,
  int32: 4,
  int64: 8,
  bool: 1,
};

/** Raw element bytes; `bytes` may be filled after the tensors that view it are created (legacy torch files). */
export interface Storage {
  dtype: DType;
  bytes?: Uint8Array;
  /** Where the bytes come from, for error messages. */
  name: string;
}

export class NdArray {
  constructor(
    readonly storage: Storage,
    readonly shape: number[],
    /** Element strides. */
    readonly strides: number[],
    /** Element offset into the storage. */
    readonly offset: number,
    readonly littleEndian = true,
  ) {}

  get dtype(): DType {
    return this.storage.dtype;
  }

  get size(): number {
    return this.shape.reduce((a, d) => a * d, 1);
  }

  /** Values in row-major (C) order as float32, whatever the stored dtype, layout or byte order. */
  toFloat32(): Float32Array {
    const bytes = this.storage.bytes;
    if (!bytes) throw new Error(`${this.storage.name}: tensor data was never loaded`);
    const dt = this.storage.dtype;
    const width = DTYPE_BYTES[dt];
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const le = this.littleEndian;
    const read = readerFor(dt, view, le);
    const n = this.size;
    // Before allocating (an empty view needs 0 bytes and reads nothing): a header may declare any shape, the storage's bytes are what really exist.
    const need = viewBytes(this.shape, this.strides, this.offset, width);
    if (need > bytes.byteLength) {
      throw new Error(`${this.storage.name}: tensor of shape [${this.shape}] needs ${need} bytes, storage has ${bytes.byteLength}`);
    }
    const out = new Float32Array(n);
    const nd = this.shape.length;
    const idx = new Array<number>(nd).fill(0);
    let pos = this.offset;
    for (let i = 0; i < n; i++) {
      out[i] = read(pos * width);
      // Odometer increment over the strided index.
      for (let d = nd - 1; d >= 0; d--) {
        idx[d]!++;
        pos += this.strides[d]!;
        if (idx[d]! < this.shape[d]!) break;
        pos -= this.strides[d]! * this.shape[d]!;
        idx[d] = 0;
      }
    }
    return out;
  }
}

/** Bytes of storage a strided view reaches (0 for an empty view); callers compare it to the storage. */
export function viewBytes(shape: readonly number[], strides: readonly number[], offset: number, width: number): number {
  if (shape.some((d) => d === 0)) return 0;
  const maxIndex = offset + shape.reduce((a, d, i) => a + (d - 1) * strides[i]!, 0);
  return (maxIndex + 1) * width;
}

export function contiguousStrides(shape: number[]): number[] {
  const s: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

function readerFor(dt: DType, v: DataView, le: boolean): (byte: number) => number {
  switch (dt) {
    case 'float32':
      return (b) => v.getFloat32(b, le);
    case 'float64':
      return (b) => v.getFloat64(b, le);
    case 'float16':
      return (b) => halfToFloat(v.getUint16(b, le));
    case 'bfloat16': {
      const f = new DataView(new ArrayBuffer(4));
      return (b) => {
        f.setUint32(0, v.getUint16(b, le) << 16);
        return f.getFloat32(0);
      };
    }
    case 'int8':
      return (b) => v.getInt8(b);
    case 'uint8':
    case 'bool':
      return (b) => v.getUint8(b);
    case 'int16':
      return (b) => v.getInt16(b, le);
    case 'int32':
      return (b) => v.getInt32(b, le);
    case 'int64':
      return (b) => Number(v.getBigInt64(b, le));
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

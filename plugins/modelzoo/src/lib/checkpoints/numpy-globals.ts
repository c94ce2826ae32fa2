import { type DType, DTYPE_BYTES, NdArray, contiguousStrides } from './ndarray';
import { type Buildable, type GlobalTable, SETSTATE, UnpicklingError, pyGlobal } from './pickle';

/**
 * Emulations of the numpy globals that `pickle.dump(ndarray)` emits (PaddlePaddle's `.pdparams` are a
 * pickled dict of ndarrays): `_reconstruct` + BUILD state, `dtype`, `scalar` and `_frombuffer`.
 */
export class NpDtype implements Buildable {
  byteorder: string;
  constructor(readonly code: string) {
    this.byteorder = '=';
  }
  [SETSTATE](state: unknown): void {
    if (Array.isArray(state) && typeof state[1] === 'string') this.byteorder = state[1];
  }
  get dtype(): DType {
    return dtypeFromCode(this.code);
  }
  get littleEndian(): boolean {
    return this.byteorder !== '>';
  }
}

const CODES: Record<string, DType> = {
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
  i1: 'int8',
  u1: 'uint8',
  i2: 'int16',
  i4: 'int32',
  i8: 'int64',
  b1: 'bool',
  '?': 'bool',
};

function dtypeFromCode(code: string): DType {
  const c = code.replace(/^[<>=|]/, '');
  const d = CODES[c];
  if (!d) throw new UnpicklingError(`numpy dtype '${code}' is not supported in checkpoints (numeric arrays only)`);
  return d;
}

/** An ndarray under reconstruction: `_reconstruct` makes it empty, BUILD fills shape, dtype and bytes. */
export class NpArray implements Buildable {
  array?: NdArray;
  [SETSTATE](state: unknown): void {
    if (!Array.isArray(state) || state.length < 5) throw new UnpicklingError('numpy array state is not a 5-tuple');
    const [, shape, dt, fortran, raw] = state as [unknown, unknown, unknown, unknown, unknown];
    if (!(dt instanceof NpDtype)) throw new UnpicklingError('numpy array state has no dtype');
    if (!(raw instanceof Uint8Array)) {
      throw new UnpicklingError(`numpy array of dtype ${dt.code} holds Python objects; only numeric arrays are read`);
    }
    this.array = makeArray(raw, dt, toShape(shape), fortran === true);
  }
}

function toShape(v: unknown): number[] {
  if (!Array.isArray(v) || !v.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new UnpicklingError('numpy array shape is not a tuple of integers');
  }
  return v as number[];
}

function makeArray(raw: Uint8Array, dt: NpDtype, shape: number[], fortran: boolean): NdArray {
  const dtype = dt.dtype;
  const n = shape.reduce((a, d) => a * d, 1);
  if (raw.length !== n * DTYPE_BYTES[dtype]) {
    throw new UnpicklingError(`numpy array [${shape}] ${dt.code}: expected ${n * DTYPE_BYTES[dtype]} bytes, got ${raw.length}`);
  }
  const strides = fortran ? contiguousStrides([...shape].reverse()).reverse() : contiguousStrides(shape);
  return new NdArray({ dtype, bytes: raw, name: `numpy ${dt.code} array` }, shape, strides, 0, dt.littleEndian);
}

function scalar(args: unknown[]): number {
  const [dt, raw] = args;
  if (!(dt instanceof NpDtype) || !(raw instanceof Uint8Array)) throw new UnpicklingError('numpy scalar needs a dtype and bytes');
  // Stryker disable next-line BooleanLiteral: a 0-d array has no strides, so C and Fortran order are the same
  return makeArray(raw, dt, [], false).toFloat32()[0]!;
}

function numpyTable(prefix: string): GlobalTable {
  return {
    [`${prefix}.multiarray._reconstruct`]: pyGlobal(`${prefix}.multiarray._reconstruct`, () => new NpArray()),
    [`${prefix}.multiarray.scalar`]: pyGlobal(`${prefix}.multiarray.scalar`, scalar),
    [`${prefix}.numeric._frombuffer`]: pyGlobal(`${prefix}.numeric._frombuffer`, (args) => {
      const [buf, dt, shape, order] = args;
      if (!(buf instanceof Uint8Array) || !(dt instanceof NpDtype)) throw new UnpicklingError('_frombuffer needs bytes and a dtype');
      const a = new NpArray();
      a.array = makeArray(buf, dt, toShape(shape), order === 'F');
      return a;
    }),
  };
}

export const NUMPY_GLOBALS: GlobalTable = {
  ...numpyTable('numpy.core'),
  ...numpyTable('numpy._core'), // numpy >= 2
  'numpy.ndarray': pyGlobal('numpy.ndarray', () => new NpArray()),
  'numpy.dtype': pyGlobal('numpy.dtype', (args) => {
    if (typeof args[0] !== 'string') throw new UnpicklingError('numpy.dtype needs a type code');
    dtypeFromCode(args[0]);
    return new NpDtype(args[0]);
  }),
};

/** The NdArray behind a pickled value, or undefined when it is not an array. */
export function asNdArray(v: unknown): NdArray | undefined {
  if (v instanceof NdArray) return v;
  if (v instanceof NpArray) return v.array;
  return undefined;
}

import * as fs from 'node:fs';
import * as path from 'node:path';

/** One case of test/fixtures/mutation-checkpoints-pickle/arrays.json (written by make.py there, numpy 1.x). */
export interface ArrayCase {
  name: string;
  hex: string;
  /** numpy's dtype.str without the byte-order character, e.g. 'f4'. */
  code: string;
  bigEndian?: boolean;
  shape?: number[];
  fortran?: boolean;
  /** numpy's arr.astype(float32) in C order; NaN, +-Infinity and -0 as strings. */
  values?: (number | string)[];
  value?: number | string;
}

export interface ArraysFixture {
  numpy: string;
  cases: ArrayCase[];
  paddleLike: string;
  unicodeArray: string;
  objectArray: string;
}

export const arraysFixture = JSON.parse(
  fs.readFileSync(path.join(__dirname, '../fixtures/mutation-checkpoints-pickle/arrays.json'), 'utf8'),
) as ArraysFixture;

export const decodeValue = (v: number | string): number =>
  v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v === '-0' ? -0 : (v as number);

export const hexBytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));

/** Bytes from latin1 text and byte arrays, for hand-written pickles. */
export const pk = (...parts: (string | number[] | Uint8Array)[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : [...p])));

/** Float32 values compared bit for bit (so -0 differs from 0), NaN equal to any NaN. */
export function assertSameFloats(got: ArrayLike<number>, want: readonly number[], what: string): void {
  const g = Array.from(got);
  if (g.length !== want.length) throw new Error(`${what}: ${g.length} values, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const w = Math.fround(want[i]!);
    const ok = Number.isNaN(w) ? Number.isNaN(g[i]!) : Object.is(g[i], w);
    if (!ok) throw new Error(`${what}[${i}]: got ${g[i]}, expected ${w} (all: ${g.join(', ')})`);
  }
}

/**
 * A few dozen lines of WebAssembly binary encoding: enough to build the resampling kernels of
 * pillow-simd.ts at load time. Writing the bytes here keeps the kernels readable next to the JS reference
 * and avoids shipping an opaque .wasm blob or a compiler toolchain dependency.
 */

export type ValType = 'i32' | 'v128';
const VALTYPE: Record<ValType, number> = { i32: 0x7f, v128: 0x7b };

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(s: string): number[] {
  const b = [...Buffer.from(s, 'utf8')];
  return [...uleb(b.length), ...b];
}

/** Body builder with named parameters and locals; every method appends one instruction. */
export class Fn {
  readonly code: number[] = [];
  private readonly index = new Map<string, number>();
  private readonly locals: ValType[] = [];

  constructor(
    readonly exportName: string,
    readonly params: string[],
    locals: Record<string, ValType>,
  ) {
    params.forEach((p, i) => this.index.set(p, i));
    for (const [n, t] of Object.entries(locals)) {
      this.index.set(n, params.length + this.locals.length);
      this.locals.push(t);
    }
  }

  private idx(n: string): number {
    const i = this.index.get(n);
    if (i === undefined) throw new Error(`wasm ${this.exportName}: unknown local '${n}'`);
    return i;
  }

  get(n: string): this {
    this.code.push(0x20, ...uleb(this.idx(n)));
    return this;
  }
  set(n: string): this {
    this.code.push(0x21, ...uleb(this.idx(n)));
    return this;
  }
  tee(n: string): this {
    this.code.push(0x22, ...uleb(this.idx(n)));
    return this;
  }
  i32(v: number): this {
    this.code.push(0x41, ...sleb(v));
    return this;
  }
  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }
  /** SIMD instruction (0xfd prefix) with optional immediates. */
  simd(op: number, ...imm: number[]): this {
    this.code.push(0xfd, ...uleb(op), ...imm);
    return this;
  }

  /** `do { body } while (++counter < limit)`; the caller guarantees at least one iteration. */
  doWhile(counter: string, limit: string, body: () => void): this {
    this.code.push(0x03, 0x40); // loop (no result)
    body();
    this.get(counter).i32(1).op(I32.add).tee(counter).get(limit).op(I32.lt_s).op(0x0d, 0x00); // br_if 0
    this.code.push(0x0b); // end
    return this;
  }

  encode(): number[] {
    const groups: number[][] = [];
    for (let i = 0; i < this.locals.length; ) {
      let j = i;
      while (j < this.locals.length && this.locals[j] === this.locals[i]) j++;
      groups.push([...uleb(j - i), VALTYPE[this.locals[i]!]]);
      i = j;
    }
    const body = [...vec(groups), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

export const I32 = {
  add: 0x6a,
  sub: 0x6b,
  mul: 0x6c,
  lt_s: 0x48,
  /** memarg: align 2^a, offset 0 */
  load: [0x28, 0x02, 0x00],
  load8_u: [0x2d, 0x00, 0x00],
  store: [0x36, 0x00, 0x00],
  store8: [0x3a, 0x00, 0x00],
} as const;

/** Final SIMD opcodes (WebAssembly/spec proposals/simd/BinarySIMD.md). */
export const V128 = {
  load: 0x00,
  load32_splat: 0x09,
  store: 0x0b,
  i8x16_shuffle: 0x0d,
  i32x4_splat: 0x11,
  i32x4_extract_lane: 0x1b,
  i8x16_narrow_i16x8_u: 0x66,
  i16x8_narrow_i32x4_s: 0x85,
  i16x8_extend_low_i8x16_u: 0x89,
  i16x8_extend_high_i8x16_u: 0x8a,
  i32x4_extend_low_i16x8_u: 0xa9,
  i32x4_extend_high_i16x8_u: 0xaa,
  i32x4_shr_s: 0xac,
  i32x4_add: 0xae,
  i32x4_mul: 0xb5,
  load32_zero: 0x5c,
} as const;

/** memarg with byte alignment and no offset (the kernels read unaligned pixels). */
export const MEM0 = [0x00, 0x00];

/** A module with one exported memory ("mem") and the given exported functions, all (i32...) -> (). */
export function assemble(fns: Fn[]): Uint8Array {
  const types = fns.map((f) => [0x60, ...vec(f.params.map(() => [VALTYPE.i32])), ...vec([])]);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(5, vec([[0x00, ...uleb(1)]])),
    ...section(7, vec([...fns.map((f, i) => [...name(f.exportName), 0x00, ...uleb(i)]), [...name('mem'), 0x02, 0x00]])),
    ...section(10, vec(fns.map((f) => f.encode()))),
  ];
  return new Uint8Array(bytes);
}

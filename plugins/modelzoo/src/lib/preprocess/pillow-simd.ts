import { assemble, Fn, I32, MEM0, V128 } from './wasm-asm';
import { assertCoversTaps, type PillowTaps } from './pillow-resample';
import type { RawImage } from './raw-image';

/**
 * The two passes of pillowResizeCrop for RGB images as WebAssembly SIMD kernels: the same fixed-point
 * sums (int32, HALF-rounded, >> 22, clipped to uint8 after each pass), evaluated four or sixteen lanes at
 * a time. Integer arithmetic is exact, so lane order cannot change a result; the JS resampler stays the
 * reference (and the path for grey and zero-padded windows) and the tests compare the two.
 *
 * Horizontal pass: one output pixel per step, R,G,B (+ one ignored lane) widened from a 4-byte load and
 * multiplied by the tap weight splatted to all lanes. Vertical pass: 16 interleaved bytes of a row per
 * step, widened to four i32x4 accumulators. Saturating narrows (i32 -> i16 signed, i16 -> u8 unsigned)
 * are Pillow's clip8.
 */

const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);

function buildKernels(): Uint8Array {
  // hpass: rows x ncols RGB pixels from src (byte offsets per column in hstart) into tmp.
  const h = new Fn('hpass', ['src', 'srcStride', 'rows', 'tmp', 'tmpStride', 'ncols', 'hstart', 'hcount', 'hw', 'kbytes'], {
    r: 'i32', j: 'i32', t: 'i32', n: 'i32', p: 'i32', o: 'i32', srow: 'i32', wp: 'i32', acc: 'v128', half: 'v128',
  });
  h.i32(HALF).simd(V128.i32x4_splat).set('half');
  h.i32(0).set('r');
  h.doWhile('r', 'rows', () => {
    h.get('src').get('r').get('srcStride').op(I32.mul).op(I32.add).set('srow');
    h.get('tmp').get('r').get('tmpStride').op(I32.mul).op(I32.add).set('o');
    h.i32(0).set('j');
    h.doWhile('j', 'ncols', () => {
      h.get('srow').get('hstart').get('j').i32(2).op(0x74 /* i32.shl */).op(I32.add).op(...I32.load).op(I32.add).set('p');
      h.get('hcount').get('j').i32(2).op(0x74).op(I32.add).op(...I32.load).set('n');
      h.get('hw').get('j').get('kbytes').op(I32.mul).op(I32.add).set('wp');
      h.get('half').set('acc');
      h.get('n').set('t');
      // Two taps per iteration (the second through load offsets), then the odd one.
      const tap = (pixelOffset: number, weightOffset: number) => {
        h.get('acc');
        h.get('p').simd(V128.load32_zero, 0x00, pixelOffset).simd(V128.i16x8_extend_low_i8x16_u).simd(V128.i32x4_extend_low_i16x8_u);
        h.get('wp').simd(V128.load32_splat, 0x00, weightOffset);
        h.simd(V128.i32x4_mul).simd(V128.i32x4_add).set('acc');
      };
      h.op(0x02, 0x40).op(0x03, 0x40); // block, loop
      h.get('t').i32(2).op(I32.lt_s).op(0x0d, 0x01); // br_if out of the block
      tap(0, 0);
      tap(3, 4);
      h.get('p').i32(6).op(I32.add).set('p');
      h.get('wp').i32(8).op(I32.add).set('wp');
      h.get('t').i32(2).op(I32.sub).set('t');
      h.op(0x0c, 0x00).op(0x0b).op(0x0b); // br loop; end loop; end block
      h.get('t').op(0x04, 0x40); // if (t != 0)
      tap(0, 0);
      h.op(0x0b);
      h.get('o');
      h.get('acc').i32(PRECISION_BITS).simd(V128.i32x4_shr_s).tee('acc').get('acc').simd(V128.i16x8_narrow_i32x4_s).tee('acc');
      h.get('acc').simd(V128.i8x16_narrow_i16x8_u).simd(V128.i32x4_extract_lane, 0);
      // Writes R,G,B and one byte of the next pixel, which that pixel overwrites (the caller leaves slack).
      h.op(...I32.store);
      h.get('o').i32(3).op(I32.add).set('o');
    });
  });

  // vpass: nrows output rows, each a weighted sum of tmp rows (byte offsets in vstart), 16 bytes a step.
  const v = new Fn('vpass', ['tmp', 'tmpStride', 'out', 'outStride', 'nrows', 'vstart', 'vcount', 'vw', 'kbytes', 'chunks'], {
    i: 'i32', q: 'i32', t: 'i32', n: 'i32', p: 'i32', base: 'i32', wrow: 'i32', wp: 'i32', o: 'i32',
    half: 'v128', a0: 'v128', a1: 'v128', a2: 'v128', a3: 'v128', x: 'v128', lo: 'v128', hi: 'v128', k: 'v128',
  });
  v.i32(HALF).simd(V128.i32x4_splat).set('half');
  v.i32(0).set('i');
  v.doWhile('i', 'nrows', () => {
    v.get('tmp').get('vstart').get('i').i32(2).op(0x74).op(I32.add).op(...I32.load).op(I32.add).set('base');
    v.get('vcount').get('i').i32(2).op(0x74).op(I32.add).op(...I32.load).set('n');
    v.get('vw').get('i').get('kbytes').op(I32.mul).op(I32.add).set('wrow');
    v.get('out').get('i').get('outStride').op(I32.mul).op(I32.add).set('o');
    v.i32(0).set('q');
    v.doWhile('q', 'chunks', () => {
      for (const a of ['a0', 'a1', 'a2', 'a3']) v.get('half').set(a);
      v.get('base').get('q').i32(4).op(0x74).op(I32.add).set('p');
      v.get('wrow').set('wp');
      v.i32(0).set('t');
      v.doWhile('t', 'n', () => {
        v.get('p').simd(V128.load, ...MEM0).tee('x').simd(V128.i16x8_extend_low_i8x16_u).set('lo');
        v.get('x').simd(V128.i16x8_extend_high_i8x16_u).set('hi');
        v.get('wp').simd(V128.load32_splat, ...MEM0).set('k');
        const acc = (a: string, half: string, ext: number) => {
          v.get(a).get(half).simd(ext).get('k').simd(V128.i32x4_mul).simd(V128.i32x4_add).set(a);
        };
        acc('a0', 'lo', V128.i32x4_extend_low_i16x8_u);
        acc('a1', 'lo', V128.i32x4_extend_high_i16x8_u);
        acc('a2', 'hi', V128.i32x4_extend_low_i16x8_u);
        acc('a3', 'hi', V128.i32x4_extend_high_i16x8_u);
        v.get('p').get('tmpStride').op(I32.add).set('p');
        v.get('wp').i32(4).op(I32.add).set('wp');
      });
      v.get('o').get('q').i32(4).op(0x74).op(I32.add);
      for (const a of ['a0', 'a1', 'a2', 'a3']) v.get(a).i32(PRECISION_BITS).simd(V128.i32x4_shr_s).set(a);
      v.get('a0').get('a1').simd(V128.i16x8_narrow_i32x4_s);
      v.get('a2').get('a3').simd(V128.i16x8_narrow_i32x4_s);
      v.simd(V128.i8x16_narrow_i16x8_u).simd(V128.store, ...MEM0);
    });
  });

  // deint: crop x crop interleaved RGB rows (stride outStride) -> CHW planes; 16 pixels (three vectors)
  // a step by byte shuffles, then any remaining columns one by one.
  const d = new Fn('deint', ['hwc', 'outStride', 'crop', 'chw', 'groups'], {
    i: 'i32', j: 'i32', s: 'i32', o: 'i32', plane: 'i32', v0: 'v128', v1: 'v128', v2: 'v128',
  });
  const lanes = (c: number) => {
    // Byte k of channel c sits at 3k + c of the 48 bytes; first from v0|v1, then from that|v2.
    const first: number[] = [];
    const second: number[] = [];
    // Stryker disable next-line EqualityOperator: k = 16 would give b >= 48, never below 32, so nothing more is pushed
    for (let k = 0; k < 16; k++) {
      const b = 3 * k + c;
      if (b < 32) first.push(b);
    }
    for (let k = 0; k < 16; k++) {
      const b = 3 * k + c;
      second.push(b < 32 ? k : 16 + (b - 32));
    }
    while (first.length < 16) first.push(0);
    return { first, second };
  };
  d.get('crop').get('crop').op(I32.mul).set('plane');
  d.i32(0).set('i');
  d.doWhile('i', 'crop', () => {
    d.get('hwc').get('i').get('outStride').op(I32.mul).op(I32.add).set('s');
    d.get('chw').get('i').get('crop').op(I32.mul).op(I32.add).set('o');
    d.i32(0).set('j');
    d.get('groups').op(0x04, 0x40); // if (groups != 0)
    d.doWhile('j', 'groups', () => {
      d.get('s').simd(V128.load, 0x00, 0).set('v0');
      d.get('s').simd(V128.load, 0x00, 16).set('v1');
      d.get('s').simd(V128.load, 0x00, 32).set('v2');
      for (let c = 0; c < 3; c++) {
        const { first, second } = lanes(c);
        d.get('o');
        // Stryker disable next-line ConditionalExpression,EqualityOperator: for channel 0 the extra term is plane * 0, a no-op
        if (c > 0) d.get('plane').i32(c).op(I32.mul).op(I32.add);
        d.get('v0').get('v1').simd(V128.i8x16_shuffle, ...first);
        d.get('v2').simd(V128.i8x16_shuffle, ...second);
        d.simd(V128.store, 0x00, 0);
      }
      d.get('s').i32(48).op(I32.add).set('s');
      d.get('o').i32(16).op(I32.add).set('o');
    });
    d.op(0x0b);
    d.get('j').i32(16).op(I32.mul).set('j');
    d.op(0x02, 0x40); // block: the tail, when crop is not a multiple of 16
    d.get('j').get('crop').op(I32.lt_s).op(0x45 /* i32.eqz */).op(0x0d, 0x00);
    d.doWhile('j', 'crop', () => {
      d.get('o').get('s').op(...I32.load8_u).op(...I32.store8);
      d.get('o').get('plane').op(I32.add).get('s').i32(1).op(I32.add).op(...I32.load8_u).op(...I32.store8);
      d.get('o').get('plane').get('plane').op(I32.add).op(I32.add).get('s').i32(2).op(I32.add).op(...I32.load8_u).op(...I32.store8);
      d.get('s').i32(3).op(I32.add).set('s');
      d.get('o').i32(1).op(I32.add).set('o');
    });
    d.op(0x0b);
  });
  return assemble([h, v, d]);
}

// The workspace compiles without the DOM lib and this @types/node has no WebAssembly declarations; the
// little used here is typed locally.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

interface Kernels {
  mem: WasmMemory;
  hpass: (...a: number[]) => void;
  vpass: (...a: number[]) => void;
  deint: (...a: number[]) => void;
}

let kernels: Kernels | null | undefined;

/** The compiled kernels, or null where WebAssembly SIMD is unavailable (the JS resampler is used). */
function getKernels(): Kernels | null {
  if (kernels !== undefined) return kernels;
  try {
    const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    const inst = new wasm.Instance(new wasm.Module(buildKernels()));
    const e = inst.exports as unknown as Kernels;
    kernels = { mem: e.mem, hpass: e.hpass, vpass: e.vpass, deint: e.deint };
  } catch {
    kernels = null;
  }
  return kernels;
}

export function simdAvailable(): boolean {
  return getKernels() !== null;
}

const SLACK = 16;
const align16 = (n: number) => (n + 15) & ~15;

/**
 * pillowResizeCrop for an RGB `img` whose pixel (0, 0) is source pixel (ox, oy) (a decoded region, or
 * the whole image with 0, 0), using the SIMD kernels. Returns null when they cannot be used (no SIMD,
 * grey input, or a window reaching outside the resized image), so the caller falls back to JS.
 */
export function pillowResizeCropSimd(img: RawImage, taps: PillowTaps, ox = 0, oy = 0): Uint8Array | null {
  if (img.channels !== 3 || taps.padded) return null;
  const k = getKernels();
  if (!k) return null;
  const { hx, vy, crop } = taps;
  // Stryker disable next-line ArithmeticOperator: more rows only make the horizontal pass fill temp rows the vertical pass never reads
  const rows = taps.y1 - taps.y0;
  const srcStride = img.width * 3;
  assertCoversTaps(img, taps, ox, oy);
  const tmpStride = crop * 3;
  // Stryker disable next-line ArithmeticOperator: tmpStride * 16 chunks only add columns past each row's end, which deint never reads
  const chunks = Math.ceil(tmpStride / 16);
  const outStride = chunks * 16;
  const hk = hx.ksize * 4;
  const vk = vy.ksize * 4;

  // Layout: [h taps][v taps][source rows][tmp][interleaved window][CHW], each 16-aligned with slack
  // for the kernels' over-wide loads and stores.
  let at = 0;
  const take = (bytes: number) => {
    const p = at;
    at = align16(at + bytes + SLACK);
    return p;
  };
  const hStart = take(crop * 4);
  const hCount = take(crop * 4);
  const hW = take(crop * hk);
  const vStart = take(crop * 4);
  const vCount = take(crop * 4);
  const vW = take(crop * vk);
  const src = take(rows * srcStride);
  const tmp = take(rows * tmpStride + outStride);
  const hwc = take(crop * outStride);
  const chw = take(3 * crop * crop);
  const need = at - k.mem.buffer.byteLength;
  // Stryker disable next-line EqualityOperator: grow(0) changes nothing (the buffer is read again below)
  if (need > 0) k.mem.grow(Math.ceil(need / 65536));

  const buf = k.mem.buffer;
  const i32 = new Int32Array(buf);
  // Stryker disable next-line EqualityOperator: the entry at crop lands in the 16 bytes of slack after each table
  for (let j = 0; j < crop; j++) {
    i32[(hStart >> 2) + j] = (hx.start[j]! - ox) * 3;
    i32[(vStart >> 2) + j] = (vy.start[j]! - taps.y0) * tmpStride;
  }
  i32.set(hx.count, hCount >> 2);
  i32.set(hx.weights, hW >> 2);
  i32.set(vy.count, vCount >> 2);
  i32.set(vy.weights, vW >> 2);
  const u8 = new Uint8Array(buf);
  // Only the source rows the vertical pass reads.
  u8.set(img.data.subarray((taps.y0 - oy) * srcStride, (taps.y1 - oy) * srcStride), src);

  k.hpass(src, srcStride, rows, tmp, tmpStride, crop, hStart, hCount, hW, hk);
  k.vpass(tmp, tmpStride, hwc, outStride, crop, vStart, vCount, vW, vk, chunks);
  k.deint(hwc, outStride, crop, chw, crop >> 4);
  return u8.slice(chw, chw + 3 * crop * crop);
}

import type { GeometrySpec, NormalizeSpec } from '../preprocess/spec';

/**
 * The spec says ((x * scale) - mean) / std on x in [0, 255]. VastAI tools only know two forms: with
 * div255 (x / 255 - mean) / std, and without it (x - mean) / std. Any other scale is rewritten exactly
 * into the second form: ((x * s) - m) / d == (x - m / s) / (d / s). That is how keras' x / 127.5 - 1
 * becomes mean 127.5, std 127.5 (the zoo's copy feeds it caffe's BGR means instead).
 */
export type VastNormType = 'DIV255_MINUSMEAN_DIVSTD' | 'MINUSMEAN_DIVSTD';

export interface VastNormalization {
  type: VastNormType;
  mean: [number, number, number];
  std: [number, number, number];
}

const rel = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

export function vastNormalization(n: NormalizeSpec): VastNormalization {
  if (rel(n.scale, 1 / 255)) return { type: 'DIV255_MINUSMEAN_DIVSTD', mean: [...n.mean], std: [...n.std] };
  const s = n.scale;
  if (!(s > 0)) throw new Error(`normalize.scale must be > 0, got ${s}`);
  const fix = (v: number) => Number((v / s).toPrecision(12));
  return {
    type: 'MINUSMEAN_DIVSTD',
    mean: [fix(n.mean[0]), fix(n.mean[1]), fix(n.mean[2])],
    std: [fix(n.std[0]), fix(n.std[1]), fix(n.std[2])],
  };
}

/** Applies a device normalization to one uint8 CHW image (what the vamp stand-in does on the host). */
export function applyVastNormalization(
  u8: Uint8Array,
  plane: number,
  norm: { type: string; mean: number[]; std: number[] },
  out: Float32Array,
  outOffset = 0,
): void {
  const pre = norm.type === 'DIV255_MINUSMEAN_DIVSTD' ? 1 / 255 : norm.type === 'MINUSMEAN_DIVSTD' ? 1 : undefined;
  if (pre === undefined) throw new Error(`unsupported vdsp normalization type '${norm.type}'`);
  for (let c = 0; c < 3; c++) {
    const m = norm.mean[c]!;
    const d = norm.std[c]!;
    for (let i = 0; i < plane; i++) out[outOffset + c * plane + i] = (u8[c * plane + i]! * pre - m) / d;
  }
}

/** Centered crop offset, as torchvision's CenterCrop computes it (int(round(...)), ties to even). */
export function centerOffset(from: number, to: number): number {
  const x = (from - to) / 2;
  const f = Math.floor(x);
  return x - f === 0.5 ? (f % 2 === 0 ? f : f + 1) : Math.round(x);
}

/**
 * vdsp resize type for the spec's resampler. The device offers Pillow- and OpenCV-compatible kernels, so
 * the spec's backend is kept rather than everything being mapped to BILINEAR_CV as the zoo's files do.
 */
export function vdspResizeType(g: GeometrySpec): string {
  if (g.interpolation === 'nearest') return 'NEAREST';
  if (g.backend === 'cv2') return g.interpolation === 'bilinear' ? 'BILINEAR_CV' : 'BICUBIC';
  return g.interpolation === 'bilinear' ? 'BILINEAR_PILLOW' : 'BICUBIC_PILLOW';
}

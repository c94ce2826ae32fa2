import type { GeometrySpec } from './spec';

/**
 * Output-size and crop arithmetic of the reference pipelines, reproduced exactly (integer truncation,
 * Python's round-half-even) because an off-by-one here shifts every pixel of the stored tensor.
 */

/** torchvision 0.14 `_compute_resized_output_size` for Resize(int): long side is `int(size * long / short)`. */
export function resizedSize(width: number, height: number, g: Pick<GeometrySpec, 'resize' | 'resizeSize'>): {
  width: number;
  height: number;
} {
  if (!(width > 0 && height > 0)) throw new Error(`resizedSize: invalid image size ${width}x${height}`);
  const size = g.resizeSize;
  if (g.resize === 'square') return { width: size, height: size };
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  // Python: int(requested_new_short * long / short); true division then truncation toward zero.
  const newLong = Math.trunc((size * long) / short);
  // Stryker disable next-line EqualityOperator: for a square image both branches give size x size (newLong = size)
  return width <= height ? { width: size, height: newLong } : { width: newLong, height: size };
}

/** Python 3 round() on a float: ties go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds ties up; pull odd results of exact ties back down.
  if (Math.abs(x % 1) === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

/**
 * torchvision CenterCrop's top-left offset along one axis: `int(round((size - crop) / 2.0))`. When the
 * crop is larger than the image torchvision pads with zeros first (left pad `(crop - size) // 2`), which
 * is the same as a negative offset into a zero-extended image.
 */
export function centerCropOffset(size: number, crop: number): number {
  if (crop > size) return -Math.floor((crop - size) / 2);
  return roundHalfEven((size - crop) / 2);
}

/** Where the crop window lies in the resized image. */
export interface CropPlan {
  resizedWidth: number;
  resizedHeight: number;
  left: number;
  top: number;
  crop: number;
}

export function planCrop(width: number, height: number, g: GeometrySpec): CropPlan {
  if (!Number.isInteger(g.resizeSize) || g.resizeSize < 1) throw new Error(`geometry: invalid resizeSize ${g.resizeSize}`);
  if (!Number.isInteger(g.cropSize) || g.cropSize < 1) throw new Error(`geometry: invalid cropSize ${g.cropSize}`);
  const r = resizedSize(width, height, g);
  return {
    resizedWidth: r.width,
    resizedHeight: r.height,
    left: centerCropOffset(r.width, g.cropSize),
    top: centerCropOffset(r.height, g.cropSize),
    crop: g.cropSize,
  };
}

import { cv2LinearResizeCrop } from './cv2-resize';
import { decodeLikePillow } from './decode';
import { planCrop } from './geometry';
import { pillowNearestResizeCrop, pillowResizeCrop } from './pillow-resample';
import type { RawImage } from './raw-image';
import type { GeometrySpec } from './spec';

/** Resize + centre-crop decoded pixels per `geometry`; CHW RGB uint8 [3, crop, crop]. */
export function resizeCrop(img: RawImage, geometry: GeometrySpec): Uint8Array {
  const plan = planCrop(img.width, img.height, geometry);
  if (geometry.backend === 'cv2') {
    if (geometry.interpolation !== 'bilinear') {
      throw new Error(`preprocess: cv2 backend supports only bilinear interpolation, not '${geometry.interpolation}'`);
    }
    return cv2LinearResizeCrop(img, plan);
  }
  if (geometry.backend !== 'pillow') throw new Error(`preprocess: unknown resize backend '${geometry.backend as string}'`);
  switch (geometry.interpolation) {
    case 'bilinear':
    case 'bicubic':
      return pillowResizeCrop(img, plan, geometry.interpolation);
    case 'nearest':
      return pillowNearestResizeCrop(img, plan);
    default:
      throw new Error(`preprocess: unknown interpolation '${geometry.interpolation as string}'`);
  }
}

/**
 * torchvision's `Resize -> CenterCrop -> PILToTensor` on one image file (or its bytes): RGB CHW uint8.
 * Decoding matches Pillow's loader; the resampler only computes the crop window.
 */
export async function preprocessImage(file: string | Buffer, geometry: GeometrySpec): Promise<Uint8Array> {
  const img = await decodeLikePillow(file);
  try {
    return resizeCrop(img, geometry);
  } catch (err) {
    const where = typeof file === 'string' ? file : '<buffer>';
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}

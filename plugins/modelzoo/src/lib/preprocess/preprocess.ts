import { cv2LinearResizeCrop } from './cv2-resize';
import { decodeJpegRegionLikePillow, decodeLikePillow, readImageFile } from './decode';
import { planCrop } from './geometry';
import { readJpegHeader } from './jpeg-header';
import { DEFAULT_MAX_IMAGE_PIXELS, checkPixels } from './limits';
import { pillowNearestResizeCrop, pillowResizeCropTaps, pillowTaps, type PillowTaps } from './pillow-resample';
import { pillowResizeCropSimd } from './pillow-simd';
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
    case 'bicubic': {
      const taps = pillowTaps(img.width, img.height, plan, geometry.interpolation);
      return pillowResizeCropSimd(img, taps) ?? pillowResizeCropTaps(img, taps);
    }
    case 'nearest':
      return pillowNearestResizeCrop(img, plan);
    default:
      throw new Error(`preprocess: unknown interpolation '${geometry.interpolation as string}'`);
  }
}

/**
 * torchvision's `Resize -> CenterCrop -> PILToTensor` on one image file (or its bytes): RGB CHW uint8.
 * Decoding matches Pillow's loader. For the common case (a grey or YCbCr/RGB JPEG resized with Pillow's
 * bilinear or bicubic filter) the frame size comes from the JPEG header, so the taps are known before
 * decoding and only the source rectangle the crop window reads is decoded: one decode, no metadata pass.
 */
export async function preprocessImage(file: string | Uint8Array, geometry: GeometrySpec, maxPixels = DEFAULT_MAX_IMAGE_PIXELS): Promise<Uint8Array> {
  return finishCrop(await decodeForCrop(file, geometry, maxPixels), geometry);
}

/** Decoded pixels of one image, and what finishCrop needs to resample them. */
export interface DecodedForCrop {
  where: string;
  img: RawImage;
  /** Set when `img` is only the rectangle these taps read, with its top-left at (x0, y0). */
  taps?: PillowTaps;
}

/**
 * The decode half of preprocessImage (libuv threadpool; the calling thread only parses the header and
 * sets up the decode), so a caller can overlap the next decode with finishCrop on this one. Images
 * above twice `maxPixels` (see limits.ts) are refused from their header, before any pixel is decoded.
 */
export async function decodeForCrop(file: string | Uint8Array, geometry: GeometrySpec, maxPixels = DEFAULT_MAX_IMAGE_PIXELS): Promise<DecodedForCrop> {
  const where = typeof file === 'string' ? file : '<buffer>';
  return withFileContext(where, async () => {
    const buf = readImageFile(file, where);
    const jpeg = readJpegHeader(buf);
    const filter = geometry.interpolation;
    if (
      jpeg &&
      (jpeg.components === 1 || jpeg.components === 3) &&
      jpeg.width > 0 &&
      jpeg.height > 0 &&
      geometry.backend === 'pillow' &&
      (filter === 'bilinear' || filter === 'bicubic')
    ) {
      // Refuse a bomb before its size drives any planning (the region decode warns, once, if it is only large).
      checkPixels(jpeg.width, jpeg.height, where, maxPixels);
      const taps = pillowTaps(jpeg.width, jpeg.height, planCrop(jpeg.width, jpeg.height, geometry), filter);
      if (!taps.padded) {
        const region = { left: taps.x0, top: taps.y0, width: taps.x1 - taps.x0, height: taps.y1 - taps.y0 };
        return { where, img: await decodeJpegRegionLikePillow(buf, where, jpeg, region, maxPixels), taps };
      }
    }
    return { where, img: await decodeLikePillow(buf, where, maxPixels) };
  });
}

/** The resample half of preprocessImage: CHW RGB uint8 [3, crop, crop]. */
export function finishCrop(d: DecodedForCrop, geometry: GeometrySpec): Uint8Array {
  const { img, taps } = d;
  try {
    if (!taps) return resizeCrop(img, geometry);
    return pillowResizeCropSimd(img, taps, taps.x0, taps.y0) ?? pillowResizeCropTaps(img, taps, taps.x0, taps.y0);
  } catch (err) {
    throw inContext(d.where, err);
  }
}

async function withFileContext<T>(where: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw inContext(where, err);
  }
}

/** Errors name the file once, whichever layer raised them. */
function inContext(where: string, err: unknown): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  return e.message.startsWith(where) ? e : new Error(`${where}: ${e.message}`);
}

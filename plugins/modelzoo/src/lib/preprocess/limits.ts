import { UserError } from '../common/errors';

/**
 * Decompression-bomb guard, with Pillow's numbers: `Image.MAX_IMAGE_PIXELS` (89,478,485, a 1/4 GiB
 * RGBA image) warns, more than twice that refuses (DecompressionBombError). A 1 MB PNG can declare
 * 30000x30000 pixels (2.7 GB once decoded), so the frame size is checked from the header, before any
 * pixel buffer exists.
 */
export const DEFAULT_MAX_IMAGE_PIXELS = 89_478_485;

/** Errors for refused images start with this (after the file name), so callers can tell them apart. */
export const BOMB_REFUSAL = 'refused as a possible decompression bomb';

/** The pixel count above which an image is refused (sharp's limitInputPixels as a second net). */
export function refusalPixels(maxPixels: number): number {
  return Math.floor(2 * maxPixels);
}

export function validMaxPixels(maxPixels: number | undefined): number {
  if (maxPixels === undefined) return DEFAULT_MAX_IMAGE_PIXELS;
  if (!Number.isFinite(maxPixels) || maxPixels < 1) {
    throw new UserError(`option 'maxImagePixels' must be a positive number of pixels, got ${String(maxPixels)}`);
  }
  return maxPixels;
}

/**
 * Throws for more than 2 x maxPixels; returns a warning for more than maxPixels (the caller prints it
 * once), else undefined.
 */
export function checkPixels(width: number, height: number, where: string, maxPixels: number): string | undefined {
  const pixels = width * height;
  if (pixels > refusalPixels(maxPixels)) {
    throw new Error(
      `${where}: image is ${width}x${height} = ${pixels} pixels, more than twice maxImagePixels (${maxPixels}): ${BOMB_REFUSAL}; ` +
        `raise the dataset-prep option maxImagePixels if the file is trusted, or set skipCorrupt to skip it`,
    );
  }
  if (pixels > maxPixels) {
    return `${where}: image is ${width}x${height} = ${pixels} pixels, more than maxImagePixels (${maxPixels}); decoding it anyway (refused above twice that)`;
  }
  return undefined;
}

/** Warnings go to stderr once per image, as Pillow's DecompressionBombWarning does. */
export function warnLargeImage(message: string | undefined): void {
  if (message) process.stderr.write(`warning: ${message}\n`);
}

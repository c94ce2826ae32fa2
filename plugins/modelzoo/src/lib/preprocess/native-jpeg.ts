import * as path from 'node:path';
import type { RawImage } from './raw-image';
import type { Region } from './decode';

/**
 * The optional native region decoder (src/native/jpeg-region.c, built by tools/build-native.mjs against
 * the libjpeg-turbo Pillow links). It decodes only the rows and columns a crop window reads, at about
 * half the CPU of sharp's full decode, with the same pixels. Absent (no compiler at install) or disabled
 * with MODELZOO_JPEG_DECODER=sharp, every decode goes through sharp.
 */
interface NativeJpeg {
  decodeRegion(buf: Uint8Array, left: number, top: number, width: number, height: number): Promise<NativePixels | null>;
  library: string;
}
interface NativePixels {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

let loaded: NativeJpeg | null | undefined;

/** src/lib/preprocess and dist/lib/preprocess both sit three levels below the plugin root. */
export const NATIVE_JPEG_FILE = path.join(__dirname, '..', '..', '..', 'build', 'native', 'jpeg_region.node');

export function nativeJpeg(): NativeJpeg | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env['MODELZOO_JPEG_DECODER'] === 'sharp') return loaded;
  try {
    const lib = require(NATIVE_JPEG_FILE) as NativeJpeg;
    if (typeof lib.decodeRegion === 'function') loaded = lib;
  } catch {
    // Not built on this machine: sharp decodes instead.
  }
  return loaded;
}

/** Which decoder dataset-prep uses for JPEG crop windows (recorded in benchmarks). */
export function jpegDecoderName(): string {
  const lib = nativeJpeg();
  return lib ? `native (${lib.library})` : 'sharp';
}

/**
 * `region` of a grey or 3-component JPEG, or null when the native decoder is unavailable or declines
 * (another component count, damaged data): the caller then uses the general decoder.
 */
export async function decodeJpegRegionNative(buf: Uint8Array, region: Region): Promise<RawImage | null> {
  const lib = nativeJpeg();
  if (!lib) return null;
  const r = await lib.decodeRegion(buf, region.left, region.top, region.width, region.height);
  if (!r || (r.channels !== 1 && r.channels !== 3)) return null;
  return { data: new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength), width: r.width, height: r.height, channels: r.channels as 1 | 3 };
}

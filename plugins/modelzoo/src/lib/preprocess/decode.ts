import * as fs from 'node:fs';
import sharp, { type OutputInfo } from 'sharp';
import { readJpegHeader, type JpegHeader } from './jpeg-header';
import { decodeJpegRegionNative } from './native-jpeg';
import type { RawImage } from './raw-image';

/**
 * Decode an image to the pixels Pillow's `Image.open(f).convert('RGB')` produces (torchvision's
 * default loader), using sharp/libvips:
 * - full-size decode, no shrink-on-load, no EXIF rotation (Pillow applies neither);
 * - embedded ICC profiles ignored (Pillow keeps them as metadata only; sharp would convert to sRGB);
 * - grey stays one channel (replicated later, as convert('RGB') does);
 * - CMYK JPEGs come back as ink values (libvips, like Pillow's "CMYK;I" rawmode, assumes Adobe
 *   polarity whether or not the APP14 marker is present) and go through Pillow's naive cmyk2rgb;
 * - alpha is dropped without compositing, palettes expanded (convert('RGB') semantics).
 */
export async function decodeLikePillow(input: string | Uint8Array, name?: string): Promise<RawImage> {
  const where = name ?? (typeof input === 'string' ? input : '<buffer>');
  const buf = readImageFile(input, where);
  return decodeBytes(buf, where, readJpegHeader(buf));
}

/**
 * The file's bytes (or `input` itself), failing with a message that names the file. Read synchronously:
 * an image file is ~100 KB, and fs.promises' open/stat/read/close cost more main-thread time than the
 * read itself, besides queueing behind the JPEG decodes on libuv's threadpool.
 */
export function readImageFile(input: string | Uint8Array, where: string): Uint8Array {
  if (typeof input !== 'string') return input;
  try {
    return fs.readFileSync(input);
  } catch (err) {
    throw new Error(`${where}: cannot read image: ${(err as Error).message}`);
  }
}

/** A rectangle of the image, in its stored (un-rotated) pixel coordinates. */
export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * decodeLikePillow for a grey or 3-component JPEG whose header was already read, returning only
 * `region`: through the native decoder where it is built (only the region's rows and columns are
 * decoded), else sharp (whole scanlines, but rows below the region are never decoded and only the
 * region is copied out). The pixels are those of the full decode (same decoder state, no
 * scaling), so resampling from the region gives the same bytes.
 */
export async function decodeJpegRegionLikePillow(buf: Uint8Array, where: string, jpeg: JpegHeader, region: Region): Promise<RawImage> {
  if (jpeg.components !== 1 && jpeg.components !== 3) {
    throw new Error(`${where}: region decode supports grey and 3-component JPEGs, not ${jpeg.components} components`);
  }
  const img = (await decodeJpegRegionNative(buf, region)) ?? (await decodeBytes(buf, where, jpeg, region));
  if (img.width !== region.width || img.height !== region.height) {
    throw new Error(`${where}: decoded region is ${img.width}x${img.height}, expected ${region.width}x${region.height}`);
  }
  return img;
}

async function decodeBytes(buf: Uint8Array, where: string, jpeg: JpegHeader | null, region?: Region): Promise<RawImage> {
  const base = () => {
    const s = sharp(buf, { ignoreIcc: true, failOn: 'error', limitInputPixels: false, autoOrient: false, sequentialRead: true });
    return region ? s.extract(region) : s;
  };
  try {
    if (jpeg?.components === 1) {
      const { data, info } = await base().toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
      if (info.channels === 1 && data.length === info.width * info.height) {
        return { data: bytes(data), width: info.width, height: info.height, channels: 1 };
      }
      return toRgb(data, info, where);
    }
    if (jpeg?.components === 4) {
      const { data, info } = await base()
        .pipelineColourspace('cmyk')
        .toColourspace('cmyk')
        .raw()
        .toBuffer({ resolveWithObject: true });
      if (info.channels !== 4) throw new Error(`CMYK decode gave ${info.channels} channels`);
      return cmykToRgb(bytes(data), info.width, info.height);
    }
    const { data, info } = await base().raw().toBuffer({ resolveWithObject: true });
    return toRgb(data, info, where);
  } catch (err) {
    const msg = (err as Error).message;
    if (msg.startsWith(where)) throw err;
    throw new Error(`${where}: cannot decode image: ${msg}`);
  }
}

function bytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function toRgb(data: Buffer, info: OutputInfo, where: string): RawImage {
  const { width, height, channels } = info;
  // OutputInfo's typings omit `depth`; the byte count tells 8- from 16-bit samples.
  const bytesPerSample = data.length / (width * height * channels);
  let src: Uint8Array;
  if (bytesPerSample === 1) src = bytes(data);
  else if (bytesPerSample === 2) {
    // Pillow reads 16-bit RGB(A) PNGs through rawmode "RGB;16B", i.e. the high byte.
    const u16 = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
    src = new Uint8Array(u16.length);
    for (let i = 0; i < u16.length; i++) src[i] = u16[i]! >> 8;
  } else {
    throw new Error(`${where}: unsupported sample size (${bytesPerSample} bytes)`);
  }
  if (channels === 3) return { data: src, width, height, channels: 3 };
  if (channels === 1) return { data: src, width, height, channels: 1 };
  if (channels === 2 || channels === 4) {
    const keep = channels === 2 ? 1 : 3;
    const n = width * height;
    const out = new Uint8Array(n * keep);
    for (let i = 0, p = 0, o = 0; i < n; i++, p += channels) {
      for (let c = 0; c < keep; c++) out[o++] = src[p + c]!;
    }
    return { data: out, width, height, channels: keep as 1 | 3 };
  }
  throw new Error(`${where}: unsupported channel count ${channels}`);
}

/**
 * Pillow's cmyk2rgb (no colour management): r = nk - c * nk / 255 with nk = 255 - k and Pillow's
 * MULDIV255 rounding, where c, k are ink amounts.
 */
export function cmykToRgb(src: Uint8Array, width: number, height: number): RawImage {
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let i = 0, p = 0, o = 0; i < n; i++, p += 4, o += 3) {
    const nk = 255 - src[p + 3]!;
    for (let c = 0; c < 3; c++) {
      const t = src[p + c]! * nk + 128;
      const v = nk - (((t >> 8) + t) >> 8);
      out[o + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { data: out, width, height, channels: 3 };
}

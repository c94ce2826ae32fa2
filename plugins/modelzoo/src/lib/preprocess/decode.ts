import * as fs from 'node:fs';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { readJpegHeader, type JpegHeader } from './jpeg-header';
import { DEFAULT_MAX_IMAGE_PIXELS, checkPixels, refusalPixels, warnLargeImage } from './limits';
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
 * - alpha is dropped without compositing, palettes expanded (convert('RGB') semantics);
 * - 16-bit greyscale is clipped to 255 (Pillow opens it as mode I/I;16, whose conversion clips), other
 *   16-bit modes keep their high byte (Pillow's ";16B" rawmodes).
 * The frame size is checked against `maxPixels` (see limits.ts) from the header before decoding.
 */
export async function decodeLikePillow(input: string | Uint8Array, name?: string, maxPixels = DEFAULT_MAX_IMAGE_PIXELS): Promise<RawImage> {
  const where = name ?? (typeof input === 'string' ? input : '<buffer>');
  const buf = readImageFile(input, where);
  const jpeg = readJpegHeader(buf);
  const meta = await checkImageHeader(buf, where, jpeg, maxPixels);
  return decodeBytes(buf, where, jpeg, maxPixels, meta);
}

/** The formats Pillow's default plugins open that libvips also decodes; anything else is refused. */
const PILLOW_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff']);

/**
 * Reads the frame size from the header (ours for a JPEG, else libvips' header parse, which decodes no
 * pixels) and applies the pixel limit. Returns libvips' metadata when it was read.
 */
export async function checkImageHeader(buf: Uint8Array, where: string, jpeg: JpegHeader | null, maxPixels: number): Promise<Metadata | undefined> {
  if (jpeg && jpeg.width > 0 && jpeg.height > 0) {
    warnLargeImage(checkPixels(jpeg.width, jpeg.height, where, maxPixels));
    return undefined;
  }
  let meta: Metadata;
  try {
    meta = await sharp(buf, { limitInputPixels: false }).metadata();
  } catch (err) {
    const msg = (err as Error).message;
    if (/unsupported image format/i.test(msg)) throw new Error(`${where}: not an image format dataset-prep reads (${[...PILLOW_FORMATS].join(', ')})`);
    throw new Error(`${where}: cannot decode image: ${msg}`);
  }
  if (!meta.format || !PILLOW_FORMATS.has(meta.format)) {
    throw new Error(`${where}: ${meta.format ?? 'unknown'} images are not read (torchvision's Pillow loader reads ${[...PILLOW_FORMATS].join(', ')})`);
  }
  const width = meta.width ?? 0;
  // Multi-page files (GIF, WebP, TIFF) decode their first page only, as Pillow does.
  const height = meta.pageHeight ?? meta.height ?? 0;
  warnLargeImage(checkPixels(width, height, where, maxPixels));
  return meta;
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
export async function decodeJpegRegionLikePillow(
  buf: Uint8Array,
  where: string,
  jpeg: JpegHeader,
  region: Region,
  maxPixels = DEFAULT_MAX_IMAGE_PIXELS,
): Promise<RawImage> {
  if (jpeg.width <= 0 || jpeg.height <= 0) throw new Error(`${where}: region decode needs the frame size in the JPEG header`);
  warnLargeImage(checkPixels(jpeg.width, jpeg.height, where, maxPixels));
  if (jpeg.components !== 1 && jpeg.components !== 3) {
    throw new Error(`${where}: region decode supports grey and 3-component JPEGs, not ${jpeg.components} components`);
  }
  const img = (await decodeJpegRegionNative(buf, region)) ?? (await decodeBytes(buf, where, jpeg, maxPixels, undefined, region));
  if (img.width !== region.width || img.height !== region.height) {
    throw new Error(`${where}: decoded region is ${img.width}x${img.height}, expected ${region.width}x${region.height}`);
  }
  return img;
}

async function decodeBytes(
  buf: Uint8Array,
  where: string,
  jpeg: JpegHeader | null,
  maxPixels: number,
  meta?: Metadata,
  region?: Region,
): Promise<RawImage> {
  const base = () => {
    // The header was checked already; libvips' own limit is the second net (a header our parse and
    // libvips' read differently), at the same refusal threshold.
    const limitInputPixels = refusalPixels(maxPixels);
    const s = sharp(buf, { ignoreIcc: true, failOn: 'error', limitInputPixels, autoOrient: false, sequentialRead: true });
    return region ? s.extract(region) : s;
  };
  try {
    // Grey stays one channel (a third of the memory of sRGB, replicated only in the crop).
    if (jpeg?.components === 1 || (!jpeg && meta?.channels === 1 && meta.depth === 'uchar')) {
      const { data, info } = await base().toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
      if (info.channels === 1 && data.length === info.width * info.height) {
        return { data: bytes(data), width: info.width, height: info.height, channels: 1 };
      }
      return toRgb(data, info, where);
    }
    // CMYK JPEGs, and CMYK TIFFs (stored as ink values too): Pillow's naive conversion, not libvips' ICC one.
    if (jpeg?.components === 4 || (!jpeg && meta?.space === 'cmyk')) {
      const { data, info } = await base()
        .pipelineColourspace('cmyk')
        .toColourspace('cmyk')
        .raw()
        .toBuffer({ resolveWithObject: true });
      if (info.channels !== 4) throw new Error(`CMYK decode gave ${info.channels} channels`);
      return cmykToRgb(bytes(data), info.width, info.height);
    }
    if (!jpeg && meta?.space === 'grey16' && meta.channels === 1) {
      // libvips would scale 16-bit grey to 8 bits on its way to sRGB; keep the samples, to clip as Pillow does.
      const { data, info } = await base().toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
      return toRgb(data, info, where);
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
    // sharp hands 16-bit samples back in native (little-endian on every platform Node ships for) order.
    const u16 = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
    src = new Uint8Array(u16.length);
    if (channels === 1) {
      // Pillow opens 16-bit greyscale as mode I;16 (I before Pillow 10) and converts it to L/RGB by
      // clipping at 255, not by scaling: most such images come out white, and so must ours.
      for (let i = 0; i < u16.length; i++) src[i] = u16[i]! > 255 ? 255 : u16[i]!;
    } else {
      // Grey+alpha, RGB and RGBA go through rawmodes "LA;16B", "RGB;16B", "RGBA;16B": the high byte.
      for (let i = 0; i < u16.length; i++) src[i] = u16[i]! >> 8;
    }
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

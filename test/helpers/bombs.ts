import * as fs from 'node:fs';
import { crc32, createDeflate } from 'node:zlib';
import sharp from 'sharp';

/**
 * Hostile files made at test time: images whose headers claim far more pixels than their bytes hold
 * (decompression bombs), built without ever holding the claimed pixels in memory.
 */

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/**
 * A valid greyscale PNG of width x height zero pixels, deflated row by row as it is generated (a
 * 30000x30000 one is ~0.9 MB on disk and 900 MB decoded).
 */
export async function pngBomb(file: string, width = 30000, height = 30000): Promise<void> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (b: Buffer) => parts.push(b));
  const done = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  const row = Buffer.alloc(width + 1); // filter byte 0 + zero pixels
  const batch = Buffer.concat(Array.from({ length: 64 }, () => row));
  for (let y = 0; y < height; y += 64) {
    const n = Math.min(64, height - y);
    if (!deflate.write(n === 64 ? batch : batch.subarray(0, n * row.length))) await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await done;
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  fs.writeFileSync(file, Buffer.concat([sig, pngChunk('IHDR', ihdr), pngChunk('IDAT', Buffer.concat(parts)), pngChunk('IEND', Buffer.alloc(0))]));
}

/** A real small JPEG whose SOF frame header is rewritten to claim width x height. */
export async function jpegHeaderBomb(file: string, width = 65000, height = 65000): Promise<void> {
  const jpg = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 200, g: 30, b: 90 } } }).jpeg().toBuffer();
  for (let p = 2; p + 9 < jpg.length; ) {
    const marker = jpg[p + 1]!;
    const len = jpg.readUInt16BE(p + 2);
    if (marker >= 0xc0 && marker <= 0xc3) {
      jpg.writeUInt16BE(height, p + 5);
      jpg.writeUInt16BE(width, p + 7);
      fs.writeFileSync(file, jpg);
      return;
    }
    p += 2 + len;
  }
  throw new Error('no SOF marker in the generated JPEG');
}

/** A lossy WebP whose VP8 frame header claims the format's maximum, 16383x16383 (268 M pixels). */
export async function webpBomb(file: string): Promise<void> {
  const webp = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 10, g: 200, b: 90 } } }).webp({ lossless: false }).toBuffer();
  const at = webp.indexOf(Buffer.from([0x9d, 0x01, 0x2a]));
  if (at < 0 || webp.toString('latin1', 12, 16) !== 'VP8 ') throw new Error('unexpected WebP layout');
  webp.writeUInt16LE(16383, at + 3);
  webp.writeUInt16LE(16383, at + 5);
  fs.writeFileSync(file, webp);
}

/** A GIF whose logical screen and first image descriptor claim 65535x65535. */
export async function gifBomb(file: string): Promise<void> {
  const gif = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 90, g: 20, b: 200 } } }).gif().toBuffer();
  gif.writeUInt16LE(65535, 6);
  gif.writeUInt16LE(65535, 8);
  // Skip the global colour table and any extensions up to the first image descriptor (0x2C).
  let p = 13 + ((gif[10]! & 0x80) ? 3 * (1 << ((gif[10]! & 7) + 1)) : 0);
  while (gif[p] === 0x21) {
    p += 2;
    while (gif[p]! > 0) p += gif[p]! + 1;
    p++;
  }
  if (gif[p] !== 0x2c) throw new Error('unexpected GIF layout');
  gif.writeUInt16LE(65535, p + 5);
  gif.writeUInt16LE(65535, p + 7);
  fs.writeFileSync(file, gif);
}

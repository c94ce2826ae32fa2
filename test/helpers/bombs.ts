import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32, createDeflate, createDeflateRaw } from 'node:zlib';
import sharp from 'sharp';
import { REPO_ROOT } from './shared';

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

/**
 * Runs an executor (its module path under plugins/) in a child process, so the peak RSS measured is
 * that run's alone; returns its result, stderr and peak RSS (process.resourceUsage().maxRSS).
 */
export function runExecutorChild(
  executor: string,
  root: string,
  target: string,
  options: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
): { success: boolean; maxRssBytes: number; stderr: string } {
  const script = path.join(root, `child-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.ts`);
  fs.writeFileSync(
    script,
    `import run from ${JSON.stringify(path.join(REPO_ROOT, executor))};
import { executorContext } from ${JSON.stringify(path.join(REPO_ROOT, 'test/helpers/executor-context.ts'))};
(async () => {
  const r = await run(${JSON.stringify(options)} as never, executorContext(${JSON.stringify(root)}, ${JSON.stringify(target)}));
  process.stdout.write('\\nRESULT ' + JSON.stringify({ success: r.success, maxRssBytes: process.resourceUsage().maxRSS * 1024 }) + '\\n');
})();
`,
  );
  try {
    const res = spawnSync(process.execPath, ['--import', 'tsx', script], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, MODELZOO_QUIET: '1', ...env },
      timeout: 180_000,
    });
    const line = res.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) throw new Error(`child printed no result (status ${res.status}, signal ${res.signal}):\n${res.stdout}\n${res.stderr}`);
    return { ...JSON.parse(line.slice(7)), stderr: res.stderr };
  } finally {
    fs.rmSync(script, { force: true });
  }
}

/** Raw deflate of `n` zero bytes and their crc32, streamed (2.4 GB of zeros deflate to ~2.3 MB). */
async function deflatedZeros(n: number): Promise<{ data: Buffer; crc: number }> {
  const deflate = createDeflateRaw({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (b: Buffer) => parts.push(b));
  const done = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  const block = Buffer.alloc(4 * 2 ** 20);
  let crc = 0;
  for (let left = n; left > 0; left -= block.length) {
    const b = left >= block.length ? block : block.subarray(0, left);
    crc = crc32(b, crc);
    if (!deflate.write(b)) await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await done;
  return { data: Buffer.concat(parts), crc: crc >>> 0 };
}

interface ZipMember {
  name: string;
  data: Buffer;
  method: 0 | 8;
  crc: number;
  /** The uncompressed size the headers declare (a bomb may lie). */
  size: number;
}

function zipArchive(members: ZipMember[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const name = Buffer.from(m.name, 'utf8');
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(m.method, 8);
    lh.writeUInt32LE(m.crc, 14);
    lh.writeUInt32LE(m.data.length, 18);
    lh.writeUInt32LE(m.size, 22);
    lh.writeUInt16LE(name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(m.method, 10);
    ch.writeUInt32LE(m.crc, 16);
    ch.writeUInt32LE(m.data.length, 20);
    ch.writeUInt32LE(m.size, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, name, m.data);
    centrals.push(ch, name);
    offset += lh.length + name.length + m.data.length;
  }
  const central = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(central.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, central, end]);
}

/**
 * A torch.save-shaped zip (`archive/data.pkl` + `archive/data/0`) whose storage member inflates to
 * `inflated` zero bytes; `declare: 'lie'` puts 1000 bytes in the headers instead of the truth.
 */
export async function torchZipBomb(file: string, inflated = 2_400_000_000, declare: 'truth' | 'lie' = 'truth'): Promise<void> {
  const { data, crc } = await deflatedZeros(inflated);
  const pkl = Buffer.from([0x80, 0x02, 0x7d, 0x2e]); // protocol 2, {} (an empty dict), STOP
  fs.writeFileSync(
    file,
    zipArchive([
      { name: 'archive/data.pkl', data: pkl, method: 0, crc: crc32(pkl) >>> 0, size: pkl.length },
      { name: 'archive/data/0', data, method: 8, crc, size: declare === 'truth' ? inflated : 1000 },
    ]),
  );
}

/** An npz whose one member inflates to `inflated` zero bytes. */
export async function npzBomb(file: string, inflated = 2_400_000_000): Promise<void> {
  const { data, crc } = await deflatedZeros(inflated);
  fs.writeFileSync(file, zipArchive([{ name: 'input_0.npy', data, method: 8, crc, size: inflated }]));
}

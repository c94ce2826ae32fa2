import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeLikePillow } from '../../plugins/modelzoo/src/lib/preprocess/decode';
import { planCrop } from '../../plugins/modelzoo/src/lib/preprocess/geometry';
import { readJpegHeader } from '../../plugins/modelzoo/src/lib/preprocess/jpeg-header';
import { pillowResizeCropTaps, pillowTaps, type PillowFilter } from '../../plugins/modelzoo/src/lib/preprocess/pillow-resample';
import { pillowResizeCropSimd, simdAvailable } from '../../plugins/modelzoo/src/lib/preprocess/pillow-simd';
import { PreprocessPool } from '../../plugins/modelzoo/src/lib/preprocess/pool';
import { preprocessImage } from '../../plugins/modelzoo/src/lib/preprocess/preprocess';
import type { RawImage } from '../../plugins/modelzoo/src/lib/preprocess/raw-image';
import type { GeometrySpec } from '../../plugins/modelzoo/src/lib/preprocess/spec';

/**
 * The SIMD resampler and the region decode are speed-ups of paths whose bytes are pinned elsewhere (the
 * JS resampler against Pillow in preprocess-pillow, the whole pipeline against torchvision on real
 * images): here they are checked against those references, byte for byte.
 */

function noise(w: number, h: number, seed: number): RawImage {
  let s = seed >>> 0;
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const r = s >>> 24;
    // Saturated values exercise the clipping after each pass (bicubic overshoots).
    data[i] = r < 20 ? 0 : r > 235 ? 255 : (s >>> 8) & 255;
  }
  return { data, width: w, height: h, channels: 3 };
}

/** The rectangle [x0, x1) x [y0, y1) of `img` as its own image. */
function cut(img: RawImage, x0: number, y0: number, x1: number, y1: number): RawImage {
  const w = x1 - x0;
  const out = new Uint8Array(w * (y1 - y0) * 3);
  for (let y = y0; y < y1; y++) out.set(img.data.subarray((y * img.width + x0) * 3, (y * img.width + x1) * 3), (y - y0) * w * 3);
  return { data: out, width: w, height: y1 - y0, channels: 3 };
}

function same(a: Uint8Array, b: Uint8Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  let diff = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff++;
  assert.equal(diff, 0, `${what}: ${diff} bytes differ`);
}

test('WebAssembly SIMD kernels are available (else every image would silently take the slow path)', () => {
  assert.equal(simdAvailable(), true);
});

test('SIMD resampler equals the JS reference: sizes, crops off 16, one-axis resizes, upscales, regions', () => {
  const sizes: [number, number][] = [[500, 375], [375, 500], [257, 256], [256, 300], [224, 224], [120, 90], [1013, 677], [3, 2000]];
  let seed = 1;
  for (const [w, h] of sizes) {
    const img = noise(w, h, seed++);
    for (const filter of ['bilinear', 'bicubic'] as PillowFilter[]) {
      for (const [size, crop] of [[256, 224], [232, 200], [40, 17], [256, 256]] as const) {
        const plan = planCrop(w, h, { resize: 'shorter', resizeSize: size, cropSize: crop, interpolation: filter, backend: 'pillow' });
        const taps = pillowTaps(w, h, plan, filter);
        const what = `${w}x${h} ${filter} ${size}/${crop}`;
        const ref = pillowResizeCropTaps(img, taps);
        const simd = pillowResizeCropSimd(img, taps);
        assert.ok(simd, `${what}: SIMD path taken`);
        same(simd, ref, what);
        // Only the rectangle the taps read, as the region decode provides it.
        const region = cut(img, taps.x0, taps.y0, taps.x1, taps.y1);
        same(pillowResizeCropSimd(region, taps, taps.x0, taps.y0)!, ref, `${what} region (SIMD)`);
        same(pillowResizeCropTaps(region, taps, taps.x0, taps.y0), ref, `${what} region (JS)`);
      }
    }
  }
});

test('SIMD resampler declines what it does not handle: grey input, zero-padded windows', () => {
  const grey: RawImage = { data: new Uint8Array(300 * 200).fill(7), width: 300, height: 200, channels: 1 };
  const g: GeometrySpec = { resize: 'shorter', resizeSize: 256, cropSize: 224, interpolation: 'bilinear', backend: 'pillow' };
  assert.equal(pillowResizeCropSimd(grey, pillowTaps(300, 200, planCrop(300, 200, g), 'bilinear')), null);
  const small = noise(100, 80, 3);
  const padded = pillowTaps(100, 80, planCrop(100, 80, { ...g, resizeSize: 64, cropSize: 96 }), 'bilinear');
  assert.equal(padded.padded, true);
  assert.equal(pillowResizeCropSimd(small, padded), null);
});

test('a region that does not cover the taps fails with the sizes, not silently', () => {
  const img = noise(500, 375, 9);
  const g: GeometrySpec = { resize: 'shorter', resizeSize: 256, cropSize: 224, interpolation: 'bilinear', backend: 'pillow' };
  const taps = pillowTaps(500, 375, planCrop(500, 375, g), 'bilinear');
  const short = cut(img, taps.x0, taps.y0, taps.x1 - 1, taps.y1);
  assert.throws(() => pillowResizeCropSimd(short, taps, taps.x0, taps.y0), /do not cover columns/);
  assert.throws(() => pillowResizeCropTaps(short, taps, taps.x0, taps.y0), /do not cover columns/);
});

/** JPEG/PNG variants the region decode must get right (or route to the whole-image decode). */
async function encodedInputs(dir: string): Promise<{ name: string; file: string }[]> {
  const rgb = noise(500, 375, 5);
  const smooth = await sharp(Buffer.from(rgb.data), { raw: { width: 500, height: 375, channels: 3 } }).blur(2).raw().toBuffer();
  const raw = { raw: { width: 500, height: 375, channels: 3 as const } };
  const out: { name: string; file: string }[] = [];
  const put = async (name: string, data: Buffer) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, data);
    out.push({ name, file });
  };
  await put('420.jpg', await sharp(smooth, raw).jpeg({ quality: 90 }).toBuffer());
  await put('444.jpg', await sharp(smooth, raw).jpeg({ quality: 90, chromaSubsampling: '4:4:4' }).toBuffer());
  await put('progressive.jpg', await sharp(smooth, raw).jpeg({ quality: 85, progressive: true }).toBuffer());
  await put('portrait.jpg', await sharp(smooth, raw).rotate(90).jpeg({ quality: 90 }).toBuffer());
  await put('grey.jpg', await sharp(smooth, raw).toColourspace('b-w').jpeg({ quality: 90 }).toBuffer());
  // EXIF orientation 6: Pillow's loader ignores it, so the stored (header) size is the one to crop.
  await put('exif6.jpg', await sharp(smooth, raw).withMetadata({ orientation: 6 }).jpeg({ quality: 90 }).toBuffer());
  await put('cmyk.jpg', await sharp(smooth, raw).toColourspace('cmyk').jpeg({ quality: 90 }).toBuffer());
  await put('small.jpg', await sharp(smooth, raw).resize(150, 100).jpeg({ quality: 90 }).toBuffer());
  await put('image.png', await sharp(smooth, raw).png().toBuffer());
  return out;
}

test('readJpegHeader reads the stored frame size and component count', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-simd-'));
  const inputs = await encodedInputs(dir);
  const expect: Record<string, [number, number, number] | null> = {
    '420.jpg': [500, 375, 3],
    'progressive.jpg': [500, 375, 3],
    'portrait.jpg': [375, 500, 3],
    'grey.jpg': [500, 375, 1],
    'exif6.jpg': [500, 375, 3],
    'cmyk.jpg': [500, 375, 4],
    'image.png': null,
  };
  for (const { name, file } of inputs) {
    if (!(name in expect)) continue;
    const h = readJpegHeader(fs.readFileSync(file));
    const e = expect[name]!;
    assert.deepEqual(h && [h.width, h.height, h.components], e, name);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('preprocessImage (header size, region decode, SIMD) equals whole-image decode + JS resampler', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-simd-'));
  const inputs = await encodedInputs(dir);
  for (const interpolation of ['bilinear', 'bicubic'] as const) {
    for (const [resizeSize, cropSize] of [[256, 224], [160, 150], [96, 120]] as const) {
      const g: GeometrySpec = { resize: 'shorter', resizeSize, cropSize, interpolation, backend: 'pillow' };
      for (const { name, file } of inputs) {
        const full = await decodeLikePillow(file);
        const ref = pillowResizeCropTaps(full, pillowTaps(full.width, full.height, planCrop(full.width, full.height, g), interpolation));
        same(await preprocessImage(file, g), ref, `${name} ${interpolation} ${resizeSize}/${cropSize}`);
      }
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('PreprocessPool gives the same bytes inline and on worker threads; errors name the file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-simd-'));
  const inputs = await encodedInputs(dir);
  const files = inputs.map((i) => i.file);
  const g: GeometrySpec = { resize: 'shorter', resizeSize: 256, cropSize: 224, interpolation: 'bicubic', backend: 'pillow' };
  const inline = new PreprocessPool({ geometry: g, threads: 2, mode: 'inline' });
  const workers = new PreprocessPool({ geometry: g, threads: 2, mode: 'workers' });
  try {
    const a = await Promise.all(files.map((f) => inline.run(f)));
    const b = await Promise.all(files.map((f) => workers.run(f)));
    files.forEach((f, i) => same(a[i]!, b[i]!, path.basename(f)));
    const missing = path.join(dir, 'missing.JPEG');
    const bad = path.join(dir, 'bad.JPEG');
    fs.writeFileSync(bad, Buffer.from('\xff\xd8\xff\xe0 not really a JPEG'));
    for (const pool of [inline, workers]) {
      await assert.rejects(pool.run(missing), /missing\.JPEG: cannot read image/);
      await assert.rejects(pool.run(bad), /bad\.JPEG/);
    }
  } finally {
    await inline.close();
    await workers.close();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

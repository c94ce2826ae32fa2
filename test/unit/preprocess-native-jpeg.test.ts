import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp, { type JpegOptions } from 'sharp';
import { decodeLikePillow } from '../../plugins/modelzoo/src/lib/preprocess/decode';
import { decodeJpegRegionNative, jpegDecoderName, nativeJpeg } from '../../plugins/modelzoo/src/lib/preprocess/native-jpeg';
import { preprocessImage, resizeCrop } from '../../plugins/modelzoo/src/lib/preprocess/preprocess';
import { PRESETS } from '../../plugins/modelzoo/src/lib/preprocess/spec';

// The native region decoder must give exactly the pixels of the general (sharp) full decode, for every
// region, or dataset-prep's bit-identity with torchvision would depend on which decoder was built.
// CI installs a compiler and libjpeg-turbo's headers, so there it must have been built.
const built = nativeJpeg() !== null;
const skip = built ? false : process.env['CI'] ? false : 'native JPEG decoder not built (tools/build-native.mjs)';

test('the native decoder is built in CI', { skip: process.env['CI'] ? false : 'not CI' }, () => {
  assert.ok(built, `npm run build did not build the native decoder: ${jpegDecoderName()}`);
});

function pattern(w: number, h: number, channels: 1 | 3, seed: number): Buffer {
  const raw = Buffer.alloc(w * h * channels);
  let s = seed;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      for (let c = 0; c < channels; c++) {
        // Smooth gradients plus noise: chroma varies between neighbours, so upsampling context matters.
        raw[(y * w + x) * channels + c] = ((x * (3 + c) + y * (5 - c) + (s >>> 28)) * (c + 1)) & 255;
      }
    }
  }
  return raw;
}

const KINDS: { name: string; w: number; h: number; channels: 1 | 3; jpeg: JpegOptions }[] = [
  { name: '4:2:0 baseline, odd size', w: 333, h: 251, channels: 3, jpeg: { quality: 90 } },
  { name: '4:4:4', w: 300, h: 200, channels: 3, jpeg: { quality: 95, chromaSubsampling: '4:4:4' } },
  { name: '4:2:0 progressive', w: 257, h: 389, channels: 3, jpeg: { quality: 85, progressive: true } },
  { name: 'grey', w: 211, h: 170, channels: 1, jpeg: { quality: 90 } },
  { name: 'tiny', w: 7, h: 5, channels: 3, jpeg: { quality: 90 } },
];

test('native region decode equals the full decode cropped, for every region kind', { skip }, async () => {
  let seed = 7;
  const rnd = (k: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % k;
  };
  for (const [i, k] of KINDS.entries()) {
    const img = sharp(pattern(k.w, k.h, k.channels, i + 1), { raw: { width: k.w, height: k.h, channels: k.channels } });
    const jpeg = await (k.channels === 1 ? img.toColourspace('b-w') : img).jpeg(k.jpeg).toBuffer();
    const full = await decodeLikePillow(jpeg, k.name);
    assert.equal(full.channels, k.channels, k.name);
    const regions = [
      { left: 0, top: 0, width: k.w, height: k.h },
      { left: 0, top: 0, width: 1, height: 1 },
      { left: k.w - 1, top: k.h - 1, width: 1, height: 1 },
      ...Array.from({ length: 40 }, () => {
        const width = 1 + rnd(k.w);
        const height = 1 + rnd(k.h);
        return { left: rnd(k.w - width + 1), top: rnd(k.h - height + 1), width, height };
      }),
    ];
    for (const r of regions) {
      const got = await decodeJpegRegionNative(jpeg, r);
      assert.ok(got, `${k.name}: native decoder declined ${JSON.stringify(r)}`);
      assert.deepEqual([got.width, got.height, got.channels], [r.width, r.height, k.channels]);
      const C = k.channels;
      for (let y = 0; y < r.height; y++) {
        const want = full.data.subarray(((r.top + y) * k.w + r.left) * C, ((r.top + y) * k.w + r.left + r.width) * C);
        const row = got.data.subarray(y * r.width * C, (y + 1) * r.width * C);
        if (Buffer.compare(Buffer.from(row), Buffer.from(want)) !== 0) {
          assert.fail(`${k.name}: region ${JSON.stringify(r)} differs from the full decode at row ${y}`);
        }
      }
    }
    // The whole preprocessing (crop-window decode + resample) equals resampling the full decode.
    for (const preset of ['torchvision', 'timm'] as const) {
      const g = { ...PRESETS[preset]!.geometry, resizeSize: 64, cropSize: 56 };
      assert.deepEqual(await preprocessImage(jpeg, g), resizeCrop(full, g), `${k.name} ${preset}`);
    }
  }
});

test('the native decoder declines what it does not decode exactly: CMYK, damaged data, bad regions', { skip }, async () => {
  const cmyk = await sharp(pattern(40, 30, 3, 3), { raw: { width: 40, height: 30, channels: 3 } }).toColourspace('cmyk').jpeg().toBuffer();
  assert.equal(await decodeJpegRegionNative(cmyk, { left: 0, top: 0, width: 40, height: 30 }), null);
  const good = await sharp(pattern(64, 64, 3, 4), { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
  const truncated = good.subarray(0, Math.floor(good.length * 0.6));
  assert.equal(await decodeJpegRegionNative(truncated, { left: 0, top: 0, width: 64, height: 64 }), null);
  assert.equal(await decodeJpegRegionNative(Buffer.from('not a jpeg at all'), { left: 0, top: 0, width: 1, height: 1 }), null);
  assert.equal(await decodeJpegRegionNative(good, { left: 10, top: 10, width: 60, height: 10 }), null, 'region outside the image');
  // ...and the general path still decodes the CMYK file.
  const viaPipeline = await preprocessImage(cmyk, { ...PRESETS['torchvision']!.geometry, resizeSize: 32, cropSize: 28 });
  assert.equal(viaPipeline.length, 3 * 28 * 28);
});

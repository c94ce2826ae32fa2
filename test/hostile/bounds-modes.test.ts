import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeLikePillow } from '../../plugins/modelzoo/src/lib/preprocess/decode';
import { preprocessImage, resizeCrop } from '../../plugins/modelzoo/src/lib/preprocess/preprocess';
import type { RawImage } from '../../plugins/modelzoo/src/lib/preprocess/raw-image';
import { PRESETS } from '../../plugins/modelzoo/src/lib/preprocess/spec';

/**
 * Pillow parity over image modes: every mode and bit depth Pillow converts to RGB (L, LA, P with and
 * without transparency, 1-bit, 2/4-bit grey, 16-bit grey (I;16 / I), 16-bit RGB/RGBA/LA, RGBA, CMYK
 * JPEG and TIFF, 32-bit int and float TIFF, GIF, WebP), made with Debian's Pillow at test time. Each
 * must decode to exactly the bytes of Pillow's `Image.open(f).convert('RGB')`, and preprocess to
 * what our resampler gives on Pillow's pixels; formats Pillow opens but dataset-prep does not read
 * (BMP, PPM) are refused with a message naming the file.
 */
const PY = '/usr/bin/python3';
const hasPil = fs.existsSync(PY) && spawnSync(PY, ['-c', 'import PIL.Image'], { stdio: 'ignore' }).status === 0;
const skip: string | false = hasPil ? false : `${PY} lacks PIL (apt install python3-pil)`;
const REFUSED = new Set(['RGB.bmp', 'RGB.ppm']);

function makeImages(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bounds-modes-'));
  const r = spawnSync(PY, ['-c', MAKE_IMAGES, dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return dir;
}

function toRgb(img: RawImage): Uint8Array {
  if (img.channels === 3) return img.data;
  const out = new Uint8Array(img.width * img.height * 3);
  for (let i = 0; i < img.width * img.height; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = img.data[i]!;
  return out;
}

test('every Pillow mode decodes to Pillow convert("RGB") bytes, and preprocesses like them', { skip }, async () => {
  const dir = makeImages();
  const files = fs.readdirSync(dir).filter((f) => !f.endsWith('.rgb') && !f.endsWith('.err')).sort();
  // The modes the issue names are all there (a generator that silently made fewer would pass vacuously).
  for (const want of ['L.png', 'LA.png', 'P.png', 'P-trns.png', '1.png', 'I16.png', 'RGB16.png', 'RGBA.png', 'CMYK.jpg', 'CMYK.tif', 'L2.png', 'P.gif']) {
    assert.ok(files.includes(want), want);
  }
  const g = { ...PRESETS['torchvision']!.geometry, resizeSize: 32, cropSize: 28 };
  let compared = 0;
  for (const name of files) {
    const file = path.join(dir, name);
    if (REFUSED.has(name)) {
      await assert.rejects(decodeLikePillow(file), (e: Error) => e.message.startsWith(`${file}: not an image format dataset-prep reads`));
      continue;
    }
    const ref = fs.readFileSync(`${file}.rgb`);
    const img = await decodeLikePillow(file);
    const rgb = toRgb(img);
    assert.equal(rgb.length, ref.length, name);
    const diff = rgb.findIndex((v, i) => v !== ref[i]);
    assert.equal(diff, -1, `${name}: first differing byte ${diff}: ours ${rgb.subarray(diff, diff + 6)}, Pillow ${ref.subarray(diff, diff + 6)}`);
    const pillow: RawImage = { data: new Uint8Array(ref), width: img.width, height: img.height, channels: 3 };
    assert.deepEqual(await preprocessImage(file, g), resizeCrop(pillow, g), `${name} preprocessed`);
    compared++;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  assert.ok(compared >= 25, `${compared} images compared`);
});

/** Pillow writes each mode, and its convert('RGB') bytes beside it (16-bit RGB/LA and 2/4-bit grey PNGs by hand). */
const MAKE_IMAGES = String.raw`
import io, struct, sys, zlib, os
from PIL import Image, features
out = sys.argv[1]
W, H = 37, 29
def grad(mode, f):
    im = Image.new(mode, (W, H))
    im.putdata([f(x, y) for y in range(H) for x in range(W)])
    return im
def png16(path, colour, channels, f):
    # Hand-written 16-bit PNG (Pillow cannot write 16-bit RGB/LA).
    raw = b''.join(b'\0' + b''.join(struct.pack('>' + 'H' * channels, *f(x, y)) for x in range(W)) for y in range(H))
    def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', W, H, 16, colour, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
def lowbit(path, bits, f):
    per = 8 // bits
    rows = []
    for y in range(H):
        row = bytearray(b'\0')
        for x0 in range(0, W, per):
            v = 0
            for k in range(per):
                v = (v << bits) | (f(x0 + k, y) if x0 + k < W else 0)
            row.append(v)
        rows.append(bytes(row))
    def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', W, H, bits, 0, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(b''.join(rows))) + chunk(b'IEND', b''))
rgb = lambda x, y: ((x * 7) % 256, (y * 9) % 256, (x * y) % 256)
grad('L', lambda x, y: (x * 5 + y * 3) % 256).save(f'{out}/L.png')
grad('LA', lambda x, y: ((x * 5) % 256, (y * 8) % 256)).save(f'{out}/LA.png')
grad('RGB', rgb).save(f'{out}/RGB.png')
grad('RGBA', lambda x, y: rgb(x, y) + ((x + y) * 4 % 256,)).save(f'{out}/RGBA.png')
grad('1', lambda x, y: 255 if (x ^ y) & 1 else 0).save(f'{out}/1.png')
p = grad('RGB', rgb).quantize(colors=50)
p.save(f'{out}/P.png')
p.save(f'{out}/P-trns.png', transparency=3)
grad('L', lambda x, y: (x * 40) % 256).convert('P').save(f'{out}/P-grey.png')
p.save(f'{out}/P.gif')
grad('I;16', lambda x, y: (x * 1500 + y * 37) % 65536).save(f'{out}/I16.png')
grad('I;16', lambda x, y: (x * 3 + y) % 300).save(f'{out}/I16-low.png')
png16(f'{out}/RGB16.png', 2, 3, lambda x, y: ((x * 1777) % 65536, (y * 2111) % 65536, (x * y * 97) % 65536))
png16(f'{out}/RGBA16.png', 6, 4, lambda x, y: ((x * 1777) % 65536, (y * 2111) % 65536, (x * y * 97) % 65536, 40000))
png16(f'{out}/LA16.png', 4, 2, lambda x, y: ((x * 1777) % 65536, 50000))
lowbit(f'{out}/L2.png', 2, lambda x, y: (x + y) % 4)
lowbit(f'{out}/L4.png', 4, lambda x, y: (x * 3 + y) % 16)
grad('RGB', rgb).save(f'{out}/RGB.jpg', quality=90)
grad('L', lambda x, y: (x * 5 + y * 3) % 256).save(f'{out}/L.jpg', quality=90)
grad('CMYK', lambda x, y: ((x * 7) % 256, (y * 9) % 256, (x * y) % 256, (x + y) % 128)).save(f'{out}/CMYK.jpg', quality=90)
grad('RGB', rgb).save(f'{out}/RGB.tif')
grad('L', lambda x, y: (x * 5 + y * 3) % 256).save(f'{out}/L.tif')
grad('CMYK', lambda x, y: ((x * 7) % 256, (y * 9) % 256, (x * y) % 256, (x + y) % 128)).save(f'{out}/CMYK.tif')
grad('I;16', lambda x, y: (x * 1500 + y * 37) % 65536).save(f'{out}/I16.tif')
grad('F', lambda x, y: x * 9.75 - 40 + y).save(f'{out}/F.tif')
grad('I', lambda x, y: x * 12 - 100 + y).save(f'{out}/I32.tif')
grad('RGB', rgb).save(f'{out}/RGB.bmp')
grad('RGB', rgb).save(f'{out}/RGB.ppm')
if features.check('webp'):
    grad('RGB', rgb).save(f'{out}/RGB.webp', lossless=True)
    grad('RGBA', lambda x, y: rgb(x, y) + ((x + y) * 4 % 256,)).save(f'{out}/RGBA.webp', lossless=True)
# Pillow's reference: convert('RGB') bytes, or the error it raises.
for name in sorted(os.listdir(out)):
    if name.endswith(('.rgb', '.err')): continue
    try:
        im = Image.open(f'{out}/{name}')
        mode = im.mode
        data = im.convert('RGB').tobytes()
        open(f'{out}/{name}.rgb', 'wb').write(data)
    except Exception as e:
        open(f'{out}/{name}.err', 'w').write(f'{type(e).__name__}: {e}')
`;

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeLikePillow } from '../../plugins/modelzoo/src/lib/preprocess/decode';
import { preprocessImage, resizeCrop } from '../../plugins/modelzoo/src/lib/preprocess/preprocess';
import type { RawImage } from '../../plugins/modelzoo/src/lib/preprocess/raw-image';
import type { GeometrySpec, Interpolation } from '../../plugins/modelzoo/src/lib/preprocess/spec';

/**
 * Our resampler and decoder against Pillow itself (Debian's python3-pil via /usr/bin/python3), on
 * synthetic images written here: the expected bytes come from Pillow, never from our code.
 */
const PY = '/usr/bin/python3';
const hasPil = spawnSync(PY, ['-c', 'import PIL, numpy'], { stdio: 'ignore' }).status === 0;
const skipWithoutPil: string | false = hasPil ? false : `${PY} with PIL and numpy not available`;

// Reads jobs (JSON) from argv[1]; each job is a raw or encoded input; writes CHW uint8 to job.out.
const PIL_SCRIPT = `
import json, sys
import numpy as np
from PIL import Image
M = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST}
for j in json.load(open(sys.argv[1])):
    if j["kind"] == "raw":
        mode = "L" if j["channels"] == 1 else "RGB"
        im = Image.frombytes(mode, (j["w"], j["h"]), open(j["src"], "rb").read()).convert("RGB")
    else:
        im = Image.open(j["src"]).convert("RGB")
    if j.get("decode_only"):
        open(j["out"], "wb").write(np.asarray(im).tobytes()); continue
    w, h = im.size
    s = j["size"]
    if j["square"]:
        nw, nh = s, s
    else:
        short, long = (w, h) if w <= h else (h, w)
        nl = int(s * long / short)
        nw, nh = (s, nl) if w <= h else (nl, s)
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), M[j["interp"]])
    c = j["crop"]
    top = int(round((nh - c) / 2.0)); left = int(round((nw - c) / 2.0))
    im = im.crop((left, top, left + c, top + c))
    open(j["out"], "wb").write(np.asarray(im).transpose(2, 0, 1).tobytes())
`;

interface Job {
  kind: 'raw' | 'file';
  src: string;
  out: string;
  w?: number;
  h?: number;
  channels?: number;
  size?: number;
  crop?: number;
  square?: boolean;
  interp?: Interpolation;
  decode_only?: boolean;
}

function runPil(jobs: Job[], dir: string): Buffer[] {
  const spec = path.join(dir, 'jobs.json');
  fs.writeFileSync(spec, JSON.stringify(jobs));
  const r = spawnSync(PY, ['-c', PIL_SCRIPT, spec], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return jobs.map((j) => fs.readFileSync(j.out));
}

/** Seeded noise with smooth structure, so both fine detail and gradients are exercised. */
function synth(w: number, h: number, channels: 1 | 3, seed: number): RawImage {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24);
  const data = new Uint8Array(w * h * channels);
  for (let i = 0; i < data.length; i++) {
    const x = Math.floor(i / channels) % w;
    data[i] = (next() & 0x3f) + Math.floor((190 * x) / w) + (i % channels) * 3;
  }
  // A few saturated pixels so bicubic overshoot has to clip.
  for (let k = 0; k < data.length; k += 97) data[k] = k % 2 ? 255 : 0;
  return { data, width: w, height: h, channels };
}

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pp-pil-'));

test('resize + crop matches Pillow byte for byte (bilinear, bicubic, nearest; down, up, odd sizes, grey)', { skip: skipWithoutPil }, () => {
  const dir = tmpDir();
  const cases: { w: number; h: number; ch: 1 | 3; interp: Interpolation; size: number; crop: number; square?: boolean }[] = [
    { w: 500, h: 375, ch: 3, interp: 'bilinear', size: 256, crop: 224 },
    { w: 375, h: 500, ch: 3, interp: 'bicubic', size: 256, crop: 224 },
    { w: 1013, h: 677, ch: 3, interp: 'bilinear', size: 256, crop: 224 }, // strong downscale, wide kernel
    { w: 1013, h: 677, ch: 3, interp: 'bicubic', size: 256, crop: 224 },
    { w: 120, h: 90, ch: 3, interp: 'bilinear', size: 256, crop: 224 }, // upscale
    { w: 120, h: 90, ch: 3, interp: 'bicubic', size: 256, crop: 224 },
    { w: 257, h: 256, ch: 3, interp: 'bilinear', size: 256, crop: 224 }, // only one axis resized
    { w: 333, h: 500, ch: 1, interp: 'bilinear', size: 256, crop: 224 },
    { w: 333, h: 500, ch: 1, interp: 'bicubic', size: 256, crop: 224 },
    { w: 400, h: 300, ch: 3, interp: 'nearest', size: 256, crop: 224 },
    { w: 97, h: 61, ch: 3, interp: 'bilinear', size: 40, crop: 31 },
    { w: 640, h: 480, ch: 3, interp: 'bilinear', size: 256, crop: 224, square: true },
  ];
  const jobs: Job[] = [];
  const ours: Uint8Array[] = [];
  cases.forEach((c, i) => {
    const img = synth(c.w, c.h, c.ch, i + 1);
    const src = path.join(dir, `in${i}.raw`);
    fs.writeFileSync(src, img.data);
    jobs.push({ kind: 'raw', src, out: path.join(dir, `out${i}.raw`), w: c.w, h: c.h, channels: c.ch, size: c.size, crop: c.crop, square: !!c.square, interp: c.interp });
    const g: GeometrySpec = { resize: c.square ? 'square' : 'shorter', resizeSize: c.size, interpolation: c.interp, backend: 'pillow', cropSize: c.crop };
    ours.push(resizeCrop(img, g));
  });
  const ref = runPil(jobs, dir);
  cases.forEach((c, i) => {
    const a = ours[i]!;
    const b = ref[i]!;
    assert.equal(a.length, b.length, `case ${i}: size`);
    let diff = 0;
    for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) diff++;
    assert.equal(diff, 0, `case ${i} ${JSON.stringify(c)}: ${diff} bytes differ from Pillow`);
  });
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Strip every APP14 "Adobe" segment so the CMYK polarity has to be inferred as Pillow does. */
function stripAdobe(jpeg: Buffer): Buffer {
  const parts: Buffer[] = [jpeg.subarray(0, 2)];
  let p = 2;
  while (p + 4 <= jpeg.length && jpeg[p] === 0xff && jpeg[p + 1] !== 0xda) {
    const len = jpeg.readUInt16BE(p + 2);
    const isAdobe = jpeg[p + 1] === 0xee && jpeg.subarray(p + 4, p + 9).toString('latin1') === 'Adobe';
    if (!isAdobe) parts.push(jpeg.subarray(p, p + 2 + len));
    p += 2 + len;
  }
  parts.push(jpeg.subarray(p));
  return Buffer.concat(parts);
}

test('decoding matches Image.open().convert("RGB"): ICC ignored, grey, CMYK (with/without Adobe), RGBA, LA, palette', { skip: skipWithoutPil }, async () => {
  const dir = tmpDir();
  const img = synth(96, 64, 3, 7);
  const raw = { raw: { width: 96, height: 64, channels: 3 as const } };
  const files: Record<string, string> = {};
  files['icc'] = path.join(dir, 'p3.jpg');
  await sharp(img.data, raw).withIccProfile('p3').jpeg({ quality: 90 }).toFile(files['icc']);
  files['grey'] = path.join(dir, 'grey.jpg');
  await sharp(img.data, raw).toColourspace('b-w').jpeg().toFile(files['grey']);
  files['rgba'] = path.join(dir, 'rgba.png');
  await sharp(img.data, raw).ensureAlpha(0.3).png().toFile(files['rgba']);
  files['la'] = path.join(dir, 'la.png');
  await sharp(img.data, raw).toColourspace('b-w').ensureAlpha(0.6).png().toFile(files['la']);
  files['palette'] = path.join(dir, 'palette.png');
  await sharp(img.data, raw).png({ palette: true, colours: 16 }).toFile(files['palette']);
  // CMYK JPEG written by Pillow itself (it adds the Adobe marker), and a copy without the marker.
  files['cmyk'] = path.join(dir, 'cmyk.jpg');
  fs.writeFileSync(path.join(dir, 'src.raw'), img.data);
  const mk = spawnSync(PY, ['-c', `
import sys
from PIL import Image
im = Image.frombytes("RGB", (96, 64), open(sys.argv[1], "rb").read()).convert("CMYK")
px = im.load()
for x in range(96):
    for y in range(0, 64, 3):
        c, m, yy, k = px[x, y]; px[x, y] = (c, m, yy, (x * 5) % 256)
im.save(sys.argv[2], quality=92)
`, path.join(dir, 'src.raw'), files['cmyk']], { encoding: 'utf8' });
  assert.equal(mk.status, 0, mk.stderr);
  files['cmyk-noadobe'] = path.join(dir, 'cmyk-noadobe.jpg');
  const stripped = stripAdobe(fs.readFileSync(files['cmyk']));
  assert.ok(stripped.length < fs.statSync(files['cmyk']).size, 'Pillow wrote an Adobe marker to strip');
  fs.writeFileSync(files['cmyk-noadobe'], stripped);

  const names = Object.keys(files);
  const ref = runPil(names.map((n) => ({ kind: 'file', src: files[n]!, out: path.join(dir, `${n}.ref`), decode_only: true })), dir);
  for (let i = 0; i < names.length; i++) {
    const d = await decodeLikePillow(files[names[i]!]!);
    const rgb = new Uint8Array(d.width * d.height * 3);
    for (let p = 0; p < d.width * d.height; p++) {
      for (let c = 0; c < 3; c++) rgb[p * 3 + c] = d.data[p * d.channels + (d.channels === 3 ? c : 0)]!;
    }
    assert.equal(Buffer.compare(Buffer.from(rgb), ref[i]!), 0, `${names[i]}: decoded pixels differ from Pillow`);
  }
  // The ICC case is only meaningful if colour management would have changed the pixels.
  const managed = await sharp(files['icc']).raw().toBuffer();
  assert.notEqual(Buffer.compare(managed, ref[names.indexOf('icc')]!), 0, 'p3 profile should alter sharp default output');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('unreadable input: clear error naming the file', async () => {
  const dir = tmpDir();
  const bad = path.join(dir, 'broken.JPEG');
  fs.writeFileSync(bad, Buffer.from('not an image at all'));
  const g: GeometrySpec = { resize: 'shorter', resizeSize: 256, interpolation: 'bilinear', backend: 'pillow', cropSize: 224 };
  await assert.rejects(preprocessImage(bad, g), (e: Error) => e.message.includes(bad));
  await assert.rejects(preprocessImage(path.join(dir, 'missing.JPEG'), g), /missing\.JPEG/);
  // A JPEG cut in half is corrupt, not silently grey.
  const good = await sharp(synth(300, 200, 3, 3).data, { raw: { width: 300, height: 200, channels: 3 } }).jpeg().toBuffer();
  const cut = path.join(dir, 'cut.JPEG');
  fs.writeFileSync(cut, good.subarray(0, good.length >> 1));
  await assert.rejects(preprocessImage(cut, g), /cut\.JPEG/);
  fs.rmSync(dir, { recursive: true, force: true });
});

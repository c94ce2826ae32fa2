import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CropPlan } from '../../plugins/modelzoo/src/lib/preprocess/geometry';
import type { RawImage } from '../../plugins/modelzoo/src/lib/preprocess/raw-image';

/**
 * test/fixtures/mutation-preprocess-pillow/oracle.json, written once by generate.py beside it from
 * Pillow 9.4 and torchvision 0.14 (the tests never run Python). Inputs are stored in the file too.
 */
export type OracleFilter = 'bilinear' | 'bicubic' | 'nearest';

export interface ResampleCase {
  img: RawImage;
  plan: CropPlan;
  expected: Record<OracleFilter, Uint8Array>;
}
export interface PipelineCase {
  img: RawImage;
  resizeSize: number;
  cropSize: number;
  expected: Record<OracleFilter, Uint8Array>;
}
export interface GeometryCase {
  w: number;
  h: number;
  resize: 'shorter' | 'square';
  resizeSize: number;
  cropSize: number;
  plan: CropPlan;
}
export interface CoeffCase {
  inSize: number;
  outSize: number;
  filter: 'bilinear' | 'bicubic';
  ksize: number;
  start: number[];
  count: number[];
  weights: number[];
}

interface RawDoc {
  resample: { w: number; h: number; channels: 1 | 3; data: string; plan: CropPlan; expected: Record<OracleFilter, string> }[];
  pipeline: { w: number; h: number; data: string; resizeSize: number; cropSize: number; expected: Record<OracleFilter, string> }[];
  geometry: GeometryCase[];
  coeffs: CoeffCase[];
}

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const decodeAll = (e: Record<OracleFilter, string>): Record<OracleFilter, Uint8Array> => ({
  bilinear: bytes(e.bilinear),
  bicubic: bytes(e.bicubic),
  nearest: bytes(e.nearest),
});

export function loadOracle(): { resample: ResampleCase[]; pipeline: PipelineCase[]; geometry: GeometryCase[]; coeffs: CoeffCase[] } {
  const file = path.join(__dirname, '../fixtures/mutation-preprocess-pillow/oracle.json');
  const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as RawDoc;
  return {
    resample: doc.resample.map((c) => ({
      img: { data: bytes(c.data), width: c.w, height: c.h, channels: c.channels },
      plan: c.plan,
      expected: decodeAll(c.expected),
    })),
    pipeline: doc.pipeline.map((c) => ({
      img: { data: bytes(c.data), width: c.w, height: c.h, channels: 3 },
      resizeSize: c.resizeSize,
      cropSize: c.cropSize,
      expected: decodeAll(c.expected),
    })),
    geometry: doc.geometry,
    coeffs: doc.coeffs,
  };
}

/** A case's label for assertion messages. */
export const describeCase = (img: RawImage, plan: CropPlan, filter: string) =>
  `${filter} ${img.width}x${img.height}x${img.channels} -> ${plan.resizedWidth}x${plan.resizedHeight} crop ${plan.crop} at (${plan.left}, ${plan.top})`;

/** Byte-exact comparison that reports how many bytes differ and the first one. */
export function sameBytes(got: Uint8Array | null, want: Uint8Array, what: string): void {
  assert.ok(got, `${what}: no result`);
  assert.equal(got.length, want.length, `${what}: length`);
  let diff = 0;
  let first = -1;
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) {
      if (first < 0) first = i;
      diff++;
    }
  }
  assert.equal(diff, 0, `${what}: ${diff} bytes differ, first at ${first} (${got[first]} vs ${want[first]})`);
}

/** Seeded pixels; about a fifth saturated at 0 or 255 so both passes clip. */
export function seededImage(w: number, h: number, channels: 1 | 3, seed: number): RawImage {
  let s = seed >>> 0;
  const data = new Uint8Array(w * h * channels);
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const r = s >>> 24;
    data[i] = r < 25 ? 0 : r > 230 ? 255 : (s >>> 8) & 255;
  }
  return { data, width: w, height: h, channels };
}

/** The rectangle [x0, x1) x [y0, y1) of `img` as its own image. */
export function cutImage(img: RawImage, x0: number, y0: number, x1: number, y1: number): RawImage {
  const cn = img.channels;
  const w = x1 - x0;
  const out = new Uint8Array(w * (y1 - y0) * cn);
  for (let y = y0; y < y1; y++) {
    out.set(img.data.subarray((y * img.width + x0) * cn, (y * img.width + x1) * cn), (y - y0) * w * cn);
  }
  return { data: out, width: w, height: y1 - y0, channels: img.channels };
}

/** The taps' window, as far as the region checks need it. */
export interface TapWindow {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/**
 * `run` (either resampler on a region of `img` at an origin) refuses a region one pixel short on each
 * side, and one whose buffer is a byte short of its claimed size, naming its size, origin and the
 * taps' window.
 */
export function assertShortRegionsRefused(img: RawImage, t: TapWindow, run: (region: RawImage, ox: number, oy: number) => unknown): void {
  const msg = (r: RawImage, ox: number, oy: number) => ({
    message: `pillow resample: ${r.width}x${r.height} pixels at (${ox}, ${oy}) do not cover columns ${t.x0}..${t.x1 - 1}, rows ${t.y0}..${t.y1 - 1}`,
  });
  const left = cutImage(img, t.x0 + 1, t.y0, t.x1, t.y1);
  assert.throws(() => run(left, t.x0 + 1, t.y0), msg(left, t.x0 + 1, t.y0));
  const top = cutImage(img, t.x0, t.y0 + 1, t.x1, t.y1);
  assert.throws(() => run(top, t.x0, t.y0 + 1), msg(top, t.x0, t.y0 + 1));
  const right = cutImage(img, t.x0, t.y0, t.x1 - 1, t.y1);
  assert.throws(() => run(right, t.x0, t.y0), msg(right, t.x0, t.y0));
  const bottom = cutImage(img, t.x0, t.y0, t.x1, t.y1 - 1);
  assert.throws(() => run(bottom, t.x0, t.y0), msg(bottom, t.x0, t.y0));
  const exact = cutImage(img, t.x0, t.y0, t.x1, t.y1);
  const short = { ...exact, data: exact.data.subarray(0, exact.data.length - 1) };
  assert.throws(() => run(short, t.x0, t.y0), msg(short, t.x0, t.y0));
}

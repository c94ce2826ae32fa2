/**
 * How prepared-dataset shards could be stored: for each lossless candidate, the compression ratio over
 * real prepared tensors (uint8 CHW, one frame per image so random access by index survives) and the
 * decode rate in one thread. Prints JSON. Candidates: node:zlib deflate and brotli at a fast and a
 * default level, each on the raw bytes and on a PNG-style "sub" filter (each row's left-neighbour delta).
 * Beside them, in the same run, what evaluation spends per image on inference (MobileNetV2 fp32, ONNX
 * Runtime, batch 16, --threads): decoding competes with it for the same cores, so a codec whose decode
 * costs more than a tenth of inference cannot keep eval ÷ inference-only ≥ 0.9.
 *
 *   npx tsx tools/bench-shard-codec.ts [--images DIR] [--limit 200] [--preprocess torchvision]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { parseArgs } from 'node:util';
import { prepareDataset } from '../plugins/modelzoo/src/lib/dataset/prepare';
import { openDataset } from '../plugins/modelzoo/src/lib/dataset/reader';
import { PRESETS } from '../plugins/modelzoo/src/lib/preprocess/spec';
import { buildMobileNetV2 } from '../plugins/modelzoo/src/lib/onnx/mobilenetv2';
import { optimizeOffline } from '../plugins/modelzoo/src/lib/runtime/build';
import { foldNormalization } from '../plugins/modelzoo/src/lib/runtime/fold-normalization';
import { createSession, ort } from '../plugins/modelzoo/src/lib/runtime/session';

/**
 * PNG's "sub" filter over uint8 CHW rows: each byte minus its left neighbour (the first byte of a row
 * kept). Neighbouring pixels of a natural image are close, so the deltas cluster near 0 and an entropy
 * coder packs them far tighter than the raw bytes.
 */
function subFilter(src: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let row = 0; row < src.length; row += width) {
    out[row] = src[row]!;
    for (let x = row + 1; x < row + width; x++) out[x] = (src[x]! - src[x - 1]!) & 255;
  }
  return out;
}

/** Undoes subFilter in place. */
function unSubFilter(buf: Uint8Array, width: number): void {
  for (let row = 0; row < buf.length; row += width) {
    for (let x = row + 1; x < row + width; x++) buf[x] = (buf[x]! + buf[x - 1]!) & 255;
  }
}

type Codec = { name: string; enc: (b: Uint8Array) => Buffer; dec: (b: Buffer) => Buffer };

function codecs(width: number): Codec[] {
  const deflate = (level: number): Codec => ({
    name: `deflate-${level}`,
    enc: (b) => zlib.deflateRawSync(b, { level }),
    dec: (b) => zlib.inflateRawSync(b),
  });
  const brotli = (q: number): Codec => ({
    name: `brotli-${q}`,
    enc: (b) =>
      zlib.brotliCompressSync(b, {
        params: { [zlib.constants.BROTLI_PARAM_QUALITY]: q, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length },
      }),
    dec: (b) => zlib.brotliDecompressSync(b),
  });
  const filtered = (c: Codec): Codec => ({
    name: `sub+${c.name}`,
    enc: (b) => c.enc(subFilter(b, width)),
    dec: (b) => {
      const out = c.dec(b);
      unSubFilter(out, width);
      return out;
    },
  });
  const base = [deflate(1), deflate(6), brotli(1), brotli(5)];
  return [...base, ...base.map(filtered)];
}

async function main() {
  const repo = path.resolve(__dirname, '..');
  const sample = path.resolve(repo, '..', 'shared', 'data', 'imagenet-sample');
  const { values } = parseArgs({
    options: {
      images: { type: 'string', default: fs.existsSync(sample) ? sample : path.join(repo, 'data', 'demo') },
      limit: { type: 'string', default: '200' },
      preprocess: { type: 'string', default: 'torchvision' },
      threads: { type: 'string', default: '2' },
    },
  });
  process.env['MODELZOO_QUIET'] = '1';
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-codec-'));
  try {
    const spec = PRESETS[values.preprocess!]!;
    await prepareDataset({
      imagesDir: values.images!,
      labelsFile: path.join(values.images!, 'val_label.txt'),
      outDir: path.join(tmp, 'ds'),
      geometry: spec.geometry,
      limit: Number(values.limit),
      concurrency: 2,
    });
    const ds = await openDataset(path.join(tmp, 'ds'));
    const images: Uint8Array[] = [];
    for (let i = 0; i < ds.entries.length; i++) images.push((await ds.readImages([i])).slice());
    await ds.close();
    const raw = images.reduce((n, b) => n + b.length, 0);
    const model = await optimizeOffline(foldNormalization(buildMobileNetV2({ width: 1.0 }), spec.normalize));
    const session = await createSession(model, { threads: Number(values.threads) });
    const shape = ds.manifest.shape;
    const batches: ort.Tensor[] = [];
    for (let i = 0; i + 16 <= images.length; i += 16) {
      const d = new Uint8Array(16 * images[0]!.length);
      for (let k = 0; k < 16; k++) d.set(images[i + k]!, k * images[0]!.length);
      batches.push(new ort.Tensor('uint8', d, [16, ...shape]));
    }
    await session.run({ image_u8: batches[0]! });
    const ti = process.hrtime.bigint();
    for (const t of batches) await session.run({ image_u8: t });
    const inferenceMsPerImage = Number(process.hrtime.bigint() - ti) / 1e6 / (batches.length * 16);
    await session.release();
    const results = [];
    // JIT warm-up of the filter, so the first filtered codec is not charged for it.
    for (const b of images.slice(0, 32)) unSubFilter(subFilter(b, shape[2]), shape[2]);
    for (const c of codecs(ds.manifest.shape[2])) {
      let t0 = process.hrtime.bigint();
      const enc = images.map((b) => c.enc(b));
      const encS = Number(process.hrtime.bigint() - t0) / 1e9;
      const stored = enc.reduce((n, b) => n + b.length, 0);
      t0 = process.hrtime.bigint();
      let ok = true;
      for (let i = 0; i < enc.length; i++) {
        const d = c.dec(enc[i]!);
        if (i < 8 && !d.equals(Buffer.from(images[i]!.buffer, images[i]!.byteOffset, images[i]!.length))) ok = false;
      }
      const decS = Number(process.hrtime.bigint() - t0) / 1e9;
      results.push({
        codec: c.name,
        ratio: +(raw / stored).toFixed(3),
        storedBytesPerImage: Math.round(stored / images.length),
        encodeImgPerS: Math.round(images.length / encS),
        decodeImgPerS: Math.round(images.length / decS),
        decodeMBPerS: Math.round(raw / decS / 1e6),
        decodeMsPerImage: +((decS * 1000) / images.length).toFixed(3),
        decodeOverInference: +((decS * 1000) / images.length / inferenceMsPerImage).toFixed(3),
        lossless: ok,
      });
    }
    console.log(
      JSON.stringify(
        {
          images: images.length,
          preprocess: values.preprocess,
          rawBytesPerImage: images[0]!.length,
          threads: Number(values.threads),
          inferenceMsPerImage: +inferenceMsPerImage.toFixed(3),
          fullValGBPerGeometry: Object.fromEntries([['raw', +((images[0]!.length * 50000) / 1e9).toFixed(2)], ...results.map((r) => [r.codec, +((r.storedBytesPerImage * 50000) / 1e9).toFixed(2)])]),
          node: process.version,
          cpu: os.cpus()[0]?.model,
          loadavg: os.loadavg(),
          results,
        },
        null,
        2,
      ),
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

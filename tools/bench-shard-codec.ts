/**
 * How prepared-dataset shards could be stored: for each lossless candidate, the compression ratio over
 * real prepared tensors (uint8 CHW, one frame per image so random access by index survives) and the
 * decode rate in one thread. Prints JSON. Candidates: node:zlib deflate and brotli at a fast and a
 * default level, each on the raw bytes and on a PNG-style "sub" filter (each row's left-neighbour delta).
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
import { subFilter, unSubFilter } from '../plugins/modelzoo/src/lib/dataset/shard-codec';

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
    const results = [];
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
        lossless: ok,
      });
    }
    console.log(
      JSON.stringify(
        {
          images: images.length,
          preprocess: values.preprocess,
          rawBytesPerImage: images[0]!.length,
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

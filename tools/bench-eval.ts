// Eval overhead: vamp-eval's runEval img/s (reading shards from disk, loading overlapped with
// inference) ÷ inference-only img/s (the same batches already in memory, bare session.run loop).
// Interleaved rounds in one process; goal ≥ 0.9.
// Usage: npx tsx tools/bench-eval.ts [--images DIR] [--limit 400] [--rounds 5] [--batch 16] [--threads 2]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '../plugins/modelzoo/src/lib/bench/latency';
import { prepareDataset } from '../plugins/modelzoo/src/lib/dataset/prepare';
import { openDataset } from '../plugins/modelzoo/src/lib/dataset/reader';
import { runEval } from '../plugins/modelzoo/src/lib/eval/run-eval';
import { buildMobileNetV2 } from '../plugins/modelzoo/src/lib/onnx/mobilenetv2';
import { PRESETS } from '../plugins/modelzoo/src/lib/preprocess/spec';
import { optimizeOffline } from '../plugins/modelzoo/src/lib/runtime/build';
import { foldNormalization } from '../plugins/modelzoo/src/lib/runtime/fold-normalization';
import { createSession, ort } from '../plugins/modelzoo/src/lib/runtime/session';

async function main() {
  const repo = path.resolve(__dirname, '..');
  const sample = path.resolve(repo, '..', 'shared', 'data', 'imagenet-sample');
  const { values } = parseArgs({
    options: {
      images: { type: 'string', default: fs.existsSync(sample) ? sample : path.join(repo, 'data', 'demo') },
      limit: { type: 'string', default: '400' },
      rounds: { type: 'string', default: '5' },
      batch: { type: 'string', default: '16' },
      threads: { type: 'string', default: '2' },
    },
  });
  process.env['MODELZOO_QUIET'] = '1';
  const batch = Number(values.batch);
  const threads = Number(values.threads);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-eval-'));
  try {
    const spec = PRESETS['torchvision']!;
    await prepareDataset({
      imagesDir: values.images!,
      labelsFile: path.join(values.images!, 'val_label.txt'),
      outDir: path.join(tmp, 'ds'),
      geometry: spec.geometry,
      limit: Number(values.limit),
    });
    const model = await optimizeOffline(foldNormalization(buildMobileNetV2({ width: 1.0 }), spec.normalize));
    const ds = await openDataset(path.join(tmp, 'ds'));
    const indices = ds.entries.map((_, i) => i);
    const inMemory: ort.Tensor[] = [];
    for await (const b of ds.batches(indices, batch)) {
      inMemory.push(new ort.Tensor('uint8', b.data, [b.indices.length, ...ds.manifest.shape]));
    }
    const inferenceOnly = async () => {
      const s = await createSession(model, { threads });
      await s.run({ image_u8: inMemory[0]! });
      const t0 = process.hrtime.bigint();
      for (const t of inMemory) await s.run({ image_u8: t });
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      await s.release();
      return indices.length / secs;
    };
    // Opened per round, as vamp-eval does, so the shard sha256 checks (hashed as the shards are first
    // read) are inside the timed eval figure.
    const evalRun = async () => {
      const fresh = await openDataset(path.join(tmp, 'ds'));
      try {
        return (await runEval({ model, dataset: fresh, batch, threads, indices })).throughput;
      } finally {
        await fresh.close();
      }
    };
    const e: number[] = [];
    const inf: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < Number(values.rounds); r++) {
      let a: number;
      let b: number;
      if (r % 2 === 0) {
        a = await evalRun();
        b = await inferenceOnly();
      } else {
        b = await inferenceOnly();
        a = await evalRun();
      }
      e.push(a);
      inf.push(b);
      ratios.push(a / b);
    }
    await ds.close();
    console.log(
      JSON.stringify(
        {
          benchmark: 'bench-eval',
          images: indices.length,
          source: values.images,
          batch,
          threads,
          eval_img_s: { median: median(e), all: e },
          inference_only_img_s: { median: median(inf), all: inf },
          ratio: { median: median(ratios), all: ratios },
          goal: 0.9,
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

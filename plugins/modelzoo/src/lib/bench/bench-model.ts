import * as path from 'node:path';
import { readJson, withAtomicDir, writeFileAtomic, writeJsonAtomic } from '../common/atomic';
import { UserError } from '../common/errors';
import { BUILD_MANIFEST } from '../build/build-model';
import type { BenchResult, BuildManifest } from '../results';
import { machineIdentity } from './machine';
import { formatBenchTable, runBench } from './run-bench';

export interface BenchModelOptions {
  /** Directory written by vamc-build. */
  model: string;
  batch: number | number[];
  threads: number;
  instances: number;
  warmup: number;
  iterations: number;
  duration?: number;
  outputPath: string;
}

/** Writes bench.json (BenchResult) and bench.md (the table) into outputPath. */
export async function benchModel(o: BenchModelOptions): Promise<BenchResult> {
  const build = await readJson<BuildManifest>(path.join(o.model, BUILD_MANIFEST), 'vamp-bench option model');
  const [, c, h, w] = build.inputShape;
  if (typeof c !== 'number' || typeof h !== 'number' || typeof w !== 'number') {
    throw new UserError(`vamp-bench: model input shape [${build.inputShape}] must have fixed C, H, W`);
  }
  const batches = Array.isArray(o.batch) ? o.batch : [o.batch];
  const results = await runBench({
    model: path.join(o.model, build.model),
    inputName: 'image_u8',
    inputType: build.inputDtype,
    imageShape: [c, h, w],
    batches,
    threads: o.threads,
    instances: o.instances,
    warmup: o.warmup,
    iterations: o.iterations,
    durationSec: o.duration,
    onConfig: (r) => {
      if (!process.env['MODELZOO_QUIET']) {
        process.stderr.write(`[bench] batch ${r.batch}: ${r.throughput.toFixed(1)} img/s, p50 ${r.latencyMs.p50.toFixed(2)} ms\n`);
      }
    },
  });
  const result: BenchResult = {
    backend: 'onnxruntime',
    model: o.model,
    precision: build.precision,
    weights: build.weights,
    machine: machineIdentity(),
    results,
  };
  await withAtomicDir(o.outputPath, async (dir) => {
    await writeJsonAtomic(path.join(dir, 'bench.json'), result);
    await writeFileAtomic(path.join(dir, 'bench.md'), formatBenchTable(results) + '\n');
  });
  process.stdout.write(formatBenchTable(results) + '\n');
  return result;
}

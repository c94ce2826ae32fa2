// Bench harness overhead: vamp-bench's runBench img/s ÷ a bare onnxruntime-node loop img/s on the
// same built model, same batch and threads, interleaved rounds in one process. Goal ≥ 0.97.
// Usage: npx tsx tools/bench-harness.ts [--rounds 7] [--iterations 30] [--batch 8] [--threads 2] [--width 1.0]
import { parseArgs } from 'node:util';
import { median } from '../plugins/modelzoo/src/lib/bench/latency';
import { onnxRuntimeVersion } from '../plugins/modelzoo/src/lib/bench/bench-model';
import { benchEnvironment, loadAverage } from '../plugins/modelzoo/src/lib/bench/machine';
import { makeInput, runBench } from '../plugins/modelzoo/src/lib/bench/run-bench';
import { buildMobileNetV2 } from '../plugins/modelzoo/src/lib/onnx/mobilenetv2';
import { PRESETS } from '../plugins/modelzoo/src/lib/preprocess/spec';
import { optimizeOffline } from '../plugins/modelzoo/src/lib/runtime/build';
import { foldNormalization } from '../plugins/modelzoo/src/lib/runtime/fold-normalization';
import { createSession } from '../plugins/modelzoo/src/lib/runtime/session';

async function main() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '7' },
      iterations: { type: 'string', default: '30' },
      batch: { type: 'string', default: '8' },
      threads: { type: 'string', default: '2' },
      width: { type: 'string', default: '1.0' },
    },
  });
  const rounds = Number(values.rounds);
  const iterations = Number(values.iterations);
  const batch = Number(values.batch);
  const threads = Number(values.threads);
  const model = await optimizeOffline(foldNormalization(buildMobileNetV2({ width: Number(values.width) }), PRESETS['torchvision']!.normalize));
  const shape: [number, number, number] = [3, 224, 224];

  const bare = async () => {
    const s = await createSession(model, { threads });
    const feeds = { image_u8: makeInput('uint8', batch, shape) };
    for (let i = 0; i < 3; i++) await s.run(feeds);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await s.run(feeds);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    await s.release();
    return (iterations * batch) / secs;
  };
  const harness = async () => {
    // The harness as vamp-bench runs it: reps with their timestamps and per-rep figures (here 3 reps that
    // together make the bare loop's iteration count).
    const reps = 3;
    const run = await runBench({
      models: [{ label: 'fp32', model, inputName: 'image_u8', inputType: 'uint8' }],
      imageShape: shape,
      batches: [batch],
      threads,
      instances: 1,
      warmup: 3,
      reps,
      durationSec: 1,
      iterations: Math.ceil(iterations / reps),
      cvThreshold: 0.1,
    });
    const r = run.results['fp32']![0]!;
    return (r.iterations * batch) / r.seconds;
  };
  const startedAt = new Date().toISOString();
  const loadBefore = loadAverage();
  const h: number[] = [];
  const b: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first so drift on a noisy machine does not favour one side.
    let hh: number;
    let bb: number;
    if (r % 2 === 0) {
      hh = await harness();
      bb = await bare();
    } else {
      bb = await bare();
      hh = await harness();
    }
    h.push(hh);
    b.push(bb);
    ratios.push(hh / bb);
  }
  console.log(
    JSON.stringify(
      {
        benchmark: 'bench-harness',
        model: `mobilenetv2 x${values.width} fp32 (uint8 input, normalization folded)`,
        batch,
        threads,
        iterations,
        rounds,
        harness_img_s: { median: median(h), all: h },
        bare_loop_img_s: { median: median(b), all: b },
        ratio: { median: median(ratios), of_medians: median(h) / median(b), all: ratios },
        goal: 0.97,
        startedAt,
        load: { before: loadBefore, after: loadAverage() },
        machine: benchEnvironment(),
        onnxruntime: onnxRuntimeVersion(),
      },
      null,
      2,
    ),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { REPO_ROOT } from '../helpers/shared';
import { writeTinyDataset } from '../helpers/tiny-dataset';
import { openDataset } from '../../plugins/modelzoo/src/lib/dataset/reader';
import { AccuracyCounter } from '../../plugins/modelzoo/src/lib/eval/metrics';
import { buildMobileNetV2 } from '../../plugins/modelzoo/src/lib/onnx/mobilenetv2';
import { encodeModel } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { PRESETS, type PreprocessSpec } from '../../plugins/modelzoo/src/lib/preprocess/spec';
import { foldNormalization } from '../../plugins/modelzoo/src/lib/runtime/fold-normalization';
import { parseVamcYaml } from '../../plugins/modelzoo/src/lib/vastai/vamc-config';
import { runVamcBuild } from '../../plugins/modelzoo/src/lib/vastai/vamc-build';
import { runVampBench } from '../../plugins/modelzoo/src/lib/vastai/vamp-bench';
import { runVampEval } from '../../plugins/modelzoo/src/lib/vastai/vamp-eval';
import { writeNpzDataset } from '../../plugins/modelzoo/src/lib/vastai/npz-dataset';

/**
 * vamc stand-in -> vamp stand-in bench -> vamp eval on a tiny random-init model, against a direct
 * ONNX Runtime evaluation of the same model with the spec's normalization folded in (the embedded
 * backend's path). Both stand-ins are the executables in test/stand-ins, run through execa.
 */
const STAND_INS = path.join(REPO_ROOT, 'test', 'stand-ins');
const SIZE = 64;
const CLASSES = 10;
const COUNT = 24;

async function directEval(modelOnnx: Uint8Array, spec: PreprocessSpec, dsDir: string): Promise<AccuracyCounter> {
  const model = foldNormalization((await import('../../plugins/modelzoo/src/lib/onnx/proto')).decodeModel(modelOnnx), spec.normalize);
  const session = await ort.InferenceSession.create(encodeModel(model));
  const ds = await openDataset(dsDir);
  const counter = new AccuracyCounter(CLASSES);
  try {
    for await (const { indices, data } of ds.batches(ds.entries.map((_, i) => i), 8)) {
      const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('uint8', data, [indices.length, 3, SIZE, SIZE]) });
      const logits = out[session.outputNames[0]!]!.data as Float32Array;
      indices.forEach((idx, k) => counter.add(idx, ds.entries[idx]!.label, logits, k * CLASSES));
    }
  } finally {
    await ds.close();
    await session.release();
  }
  return counter;
}

for (const [preset, generation] of [['torchvision', '2025'], ['keras', '2023']] as const) {
  test(`vastai path (${generation}, ${preset}): stand-in vamc -> vamp bench -> vamp eval equals ONNX Runtime`, async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `vastai-e2e-${preset}-`));
    const spec: PreprocessSpec = {
      ...PRESETS[preset]!,
      geometry: { ...PRESETS[preset]!.geometry, resizeSize: SIZE + 8, cropSize: SIZE },
    };
    const onnxBytes = encodeModel(buildMobileNetV2({ width: 0.25, inputSize: SIZE, classes: CLASSES, seed: 7 }));
    const modelOnnx = path.join(root, 'export', 'model.onnx');
    fs.mkdirSync(path.dirname(modelOnnx), { recursive: true });
    fs.writeFileSync(modelOnnx, onnxBytes);
    const dsDir = path.join(root, 'dataset');
    writeTinyDataset(dsDir, { count: COUNT, size: SIZE, classes: CLASSES, seed: 5, names: 'imagenet', calibration: 4, shardSize: Math.ceil(COUNT / 2), resizeSize: SIZE + 8 });

    const buildDir = path.join(root, 'build');
    const build = await runVamcBuild({
      modelOnnx,
      outDir: buildDir,
      spec,
      precision: 'int8',
      generation,
      quantization: { calibrate_mode: 'max', per_channel: true, calibration_count: 3 },
      calibrationDataset: dsDir,
      extraSoftmax: preset === 'torchvision',
      vamcPath: path.join(STAND_INS, 'vamc'),
    });
    assert.equal(build.stand_in, true);
    assert.equal(build.tool, generation === '2023' ? 'vamc build' : 'vamc compile');
    assert.equal(build.calibration?.images, 3);
    assert.equal(fs.readdirSync(path.join(buildDir, 'calibration')).filter((f) => f.endsWith('.png')).length, 3);
    const config = parseVamcYaml(fs.readFileSync(path.join(buildDir, build.config), 'utf8'), 'config') as Record<string, any>;
    const ops = generation === '2023' ? config.dataset.transform_ops : config.dataset.process_ops;
    assert.deepEqual(ops.map((o: { type: string }) => o.type), ['DecodeImage', 'Normalize', 'ToTensor'], 'prepared calibration images need no geometry');
    assert.ok(fs.existsSync(path.join(buildDir, `${build.modelPrefix}.json`)), build.modelPrefix);
    assert.ok(!path.isAbsolute(build.modelPrefix));

    const modelPrefix = path.join(buildDir, build.modelPrefix);
    const vdspParams = path.join(buildDir, build.vdspParams);
    const vampPath = path.join(STAND_INS, 'vamp');
    const bench = await runVampBench({ modelPrefix, vdspParams, batch: 4, instances: 2, processes: 1, device: 0, vampPath });
    assert.equal(bench.batch, 4);
    assert.equal(bench.instances, 2);
    assert.ok(bench.throughput > 0);
    assert.ok(bench.latencyMs.p50 > 0 && bench.latencyMs.p99 >= bench.latencyMs.p50);
    assert.equal(bench.vastai.standIn, true);
    assert.deepEqual(bench.vastai.devices, [0]);

    const ds = await openDataset(dsDir);
    const npz = await writeNpzDataset(ds, path.join(root, 'npz')).finally(() => ds.close());
    const result = await runVampEval({
      modelPrefix,
      vdspParams,
      batch: 5,
      instances: 1,
      processes: 1,
      vampPath,
      npzDatalist: npz.datalist,
      outputDir: path.join(root, 'vamp-out'),
      labels: npz.labels,
      meta: { model: buildDir, precision: 'int8', weights: 'random-init', demoData: true },
      predictionsCsv: path.join(root, 'predictions.csv'),
    });
    assert.equal(result.backend, 'vastai');
    assert.equal(result.stand_in, true);
    assert.equal(result.images, COUNT);
    const direct = (await directEval(onnxBytes, spec, dsDir)).summary();
    assert.equal(result.top1, direct.top1);
    assert.equal(result.top5, direct.top5);
    assert.deepEqual(result.perClass, direct.perClass);
    // The figures are not trivially 0 or 100 (random init, 10 classes, top-5).
    assert.ok(direct.top5 > 0 && direct.top5 < 100, `top-5 ${direct.top5}`);
    assert.equal(fs.readFileSync(path.join(root, 'predictions.csv'), 'utf8').trim().split('\n').length, COUNT + 1);
  });
}

test('vamp-eval refuses to pair outputs by order when a file is missing', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vastai-pair-'));
  const { decodeVampOutputs } = await import('../../plugins/modelzoo/src/lib/vastai/vamp-eval');
  const { encodeNpz, float32Npy } = await import('../../plugins/modelzoo/src/lib/vastai/npy');
  const out = path.join(root, 'out');
  fs.mkdirSync(out);
  const inputs = ['/data/b/img_2.npz', '/data/a/img_10.npz', '/data/a/img_1.npz'];
  fs.writeFileSync(path.join(root, 'list.txt'), inputs.join('\n'));
  // Logits peak at 2, 0, 1 for the three inputs in datalist order; sorted file order would scramble them.
  const peak = { img_2: 2, img_10: 0, img_1: 1 } as Record<string, number>;
  for (const [stem, cls] of Object.entries(peak)) {
    const v = new Float32Array(3);
    v[cls] = 1;
    fs.writeFileSync(path.join(out, `${stem}.npz`), encodeNpz({ output_0: float32Npy(v, [1, 3]) }));
  }
  const labels = new Map(Object.entries(peak));
  const d = await decodeVampOutputs(path.join(root, 'list.txt'), out, labels);
  assert.equal(d.counter.summary().top1, 100);
  fs.rmSync(path.join(out, 'img_10.npz'));
  await assert.rejects(decodeVampOutputs(path.join(root, 'list.txt'), out, labels), /1 of 3 inputs have no output.*img_10\.npz/s);
});

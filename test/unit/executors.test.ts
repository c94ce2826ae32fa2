import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import onnxExport from '../../plugins/modelzoo/src/executors/onnx-export/executor';
import vamcBuild from '../../plugins/modelzoo/src/executors/vamc-build/executor';
import vampBench from '../../plugins/modelzoo/src/executors/vamp-bench/executor';
import vampEval from '../../plugins/modelzoo/src/executors/vamp-eval/executor';
import { writeTinyDataset } from '../helpers/tiny-dataset';
import { captureStderr, executorContext } from '../helpers/executor-context';

// Executors called as Nx calls them (options + context), on a temp workspace root.
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'executors-'));
const context = (target: string) => executorContext(root, target);

test('onnx-export rejects unknown options naming project, target and option', async () => {
  let result: { success: boolean } | undefined;
  const err = await captureStderr(async () => {
    result = await onnxExport({ variant: 'x', preprocess: 'timm', outputPath: 'out/x', widht: 2 } as any, context('onnx-export'));
  });
  assert.equal(result!.success, false);
  assert.match(err, /mobilenetv2-test:onnx-export/);
  assert.match(err, /unknown option 'widht'/);
  assert.ok(!fs.existsSync(path.join(root, 'out/x')));
});

test('onnx-export of a missing ONNX file fails with the path and writes nothing', async () => {
  let result: { success: boolean } | undefined;
  const err = await captureStderr(async () => {
    result = await onnxExport({ source: 'onnx', file: 'nope.onnx', variant: 'x', preprocess: 'timm', outputPath: 'out/missing' } as any, context('onnx-export'));
  });
  assert.equal(result!.success, false);
  assert.match(err, /nope\.onnx/);
  assert.ok(!fs.existsSync(path.join(root, 'out/missing')));
});

test('export → build → bench → eval through the executors, and a class-count mismatch is a clear error', async () => {
  process.env['MODELZOO_QUIET'] = '1';
  writeTinyDataset(path.join(root, 'ds'), { count: 10, classes: 10, size: 224 });
  const ok = async (p: Promise<{ success: boolean }>) => assert.equal((await p).success, true);
  await ok(onnxExport({ variant: 'tiny', preprocess: 'torchvision', width: 0.25, inputSize: 224, classes: 10, outputPath: 'out/export' } as any, context('onnx-export')));
  const card = JSON.parse(fs.readFileSync(path.join(root, 'out/export/model-card.json'), 'utf8'));
  assert.equal(card.weights, 'random-init');
  assert.equal(card.classes, 10);
  await ok(vamcBuild({ model: 'out/export', dataset: 'ds', preprocess: 'torchvision', outputPath: 'out/build' } as any, context('vamc-build')));
  await ok(vamcBuild({ model: 'out/export', dataset: 'ds', preprocess: 'torchvision', precision: 'int8', quantization: { calibration_count: 4 }, outputPath: 'out/build-int8' } as any, context('vamc-build')));
  await ok(vampBench({ models: ['out/build', 'out/build-int8'], batch: [1, 2], reps: 3, iterations: 2, warmup: 0, threads: 1, outputPath: 'out/bench' } as any, context('vamp-bench')));
  const bench = JSON.parse(fs.readFileSync(path.join(root, 'out/bench/bench.json'), 'utf8'));
  assert.deepEqual(bench.models.map((m: any) => m.label), ['fp32', 'int8']);
  for (const m of bench.models) {
    assert.deepEqual(m.results.map((r: any) => r.batch), [1, 2]);
    assert.ok(m.results.every((r: any) => r.throughput > 0 && r.latencyMs.p99 >= r.latencyMs.p50 && r.reps.length === 3 && r.iterations === 6 && r.cv >= 0));
  }
  // The pair: int8 ÷ fp32 at each batch, from the same reps; the report states the largest batch.
  assert.deepEqual(bench.pairs.map((p: any) => [p.batch, p.of, p.over, p.ratios.length]), [[1, 'int8', 'fp32', 3], [2, 'int8', 'fp32', 3]]);
  assert.equal(bench.reportBatch, 2);
  assert.ok(bench.startedAt && bench.load.before.length === 3 && bench.load.after.length === 3 && bench.machine.cores > 0 && 'cpuQuota' in bench.machine);
  assert.match(bench.runtime.version, /^\d+\.\d+/);
  assert.match(fs.readFileSync(path.join(root, 'out/bench/bench.md'), 'utf8'), /int8 ÷ fp32 at batch 2/);
  // A model file changed after its build is refused, not measured under the build's name.
  const built = path.join(root, 'out/build-int8', JSON.parse(fs.readFileSync(path.join(root, 'out/build-int8/build.json'), 'utf8')).model);
  const original = fs.readFileSync(built);
  fs.appendFileSync(built, Buffer.from([0]));
  let tampered: { success: boolean } | undefined;
  const tamperErr = await captureStderr(async () => {
    tampered = await vampBench({ models: ['out/build', 'out/build-int8'], batch: 1, reps: 1, iterations: 1, warmup: 0, threads: 1, outputPath: 'out/bench-t' } as any, context('vamp-bench'));
  });
  fs.writeFileSync(built, original);
  assert.equal(tampered!.success, false);
  assert.match(tamperErr, /the built model .*model\.onnx does not match the sha256 its producer recorded/);
  assert.ok(!fs.existsSync(path.join(root, 'out/bench-t')));
  await ok(vampEval({ model: 'out/build', dataset: 'ds', batch: 3, threads: 1, outputPath: 'out/eval' } as any, context('vamp-eval')));
  const ev = JSON.parse(fs.readFileSync(path.join(root, 'out/eval/eval.json'), 'utf8'));
  assert.equal(ev.images, 10);
  assert.equal(fs.readFileSync(path.join(root, 'out/eval/predictions.csv'), 'utf8').trim().split('\n').length, 11);

  // A 7-class model against 10-class labels.
  await ok(onnxExport({ variant: 'tiny7', preprocess: 'torchvision', width: 0.25, inputSize: 224, classes: 7, outputPath: 'out/export7' } as any, context('onnx-export')));
  await ok(vamcBuild({ model: 'out/export7', dataset: 'ds', preprocess: 'torchvision', outputPath: 'out/build7' } as any, context('vamc-build')));
  let result: { success: boolean } | undefined;
  const err = await captureStderr(async () => {
    result = await vampEval({ model: 'out/build7', dataset: 'ds', outputPath: 'out/eval7' } as any, context('vamp-eval'));
  });
  assert.equal(result!.success, false);
  assert.match(err, /7 output classes but the dataset's labels are for 10 classes/);
  assert.ok(!fs.existsSync(path.join(root, 'out/eval7')));
});

test('vamp-eval reference gate fails the target when accuracy is off by more than the tolerance', async () => {
  let result: { success: boolean } | undefined;
  const err = await captureStderr(async () => {
    result = await vampEval(
      { model: 'out/build', dataset: 'ds', outputPath: 'out/eval-gated', reference: { top1: 99, top5: 99, tolerance: 0.5 } } as any,
      context('vamp-eval'),
    );
  });
  assert.equal(result!.success, false);
  assert.match(err, /accuracy gate failed/);
});

test('vamp-eval holdout scores fp32 and int8 on the images outside the calibration subset; the overlap is always recorded', async () => {
  writeTinyDataset(path.join(root, 'ds2'), { count: 20, classes: 10, size: 224, calibration: 6 });
  const ok = async (p: Promise<{ success: boolean }>) => assert.equal((await p).success, true);
  await ok(vamcBuild({ model: 'out/export', dataset: 'ds2', preprocess: 'torchvision', precision: 'int8', quantization: { calibration_count: 4 }, outputPath: 'out/h-int8' } as any, context('vamc-build')));
  const build = JSON.parse(fs.readFileSync(path.join(root, 'out/h-int8/build.json'), 'utf8'));
  assert.equal(build.details.calibration.files.length, 4, 'build.json names the images it calibrated on');
  const evalJson = (dir: string) => JSON.parse(fs.readFileSync(path.join(root, dir, 'eval.json'), 'utf8'));
  await ok(vampEval({ model: 'out/h-int8', dataset: 'ds2', batch: 4, threads: 1, outputPath: 'out/h-eval-all' } as any, context('vamp-eval')));
  const all = evalJson('out/h-eval-all');
  assert.equal(all.images, 20);
  assert.deepEqual(all.calibration, { source: 'build', images: 4, overlap: 4 });
  assert.equal(all.holdout, false);
  assert.equal(all.dataset.images, 20);
  assert.match(all.dataset.fingerprint, /^[0-9a-f]{64}$/);
  for (const [model, out] of [['out/build', 'out/h-eval-fp32'], ['out/h-int8', 'out/h-eval-int8']] as const) {
    await ok(vampEval({ model, dataset: 'ds2', batch: 4, threads: 1, holdout: true, outputPath: out } as any, context('vamp-eval')));
  }
  const [fp, q] = [evalJson('out/h-eval-fp32'), evalJson('out/h-eval-int8')];
  assert.equal(fp.images, 14);
  assert.equal(q.images, 14);
  assert.equal(fp.dataset.fingerprint, q.dataset.fingerprint, 'fp32 and int8 scored on the same images');
  assert.notEqual(fp.dataset.fingerprint, all.dataset.fingerprint);
  assert.deepEqual([fp.calibration.overlap, q.calibration.overlap], [0, 0]);
  assert.equal(q.holdout, true);
  // Holdout on a dataset whose every image calibrates: a clear error, nothing written.
  let result: { success: boolean } | undefined;
  const err = await captureStderr(async () => {
    result = await vampEval({ model: 'out/build', dataset: 'ds', holdout: true, outputPath: 'out/h-none' } as any, context('vamp-eval'));
  });
  assert.equal(result!.success, false);
  assert.match(err, /holdout leaves no image to evaluate/);
  assert.ok(!fs.existsSync(path.join(root, 'out/h-none')));
});

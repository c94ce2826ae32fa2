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
  await ok(vampBench({ model: 'out/build', batch: [1, 2], iterations: 2, warmup: 0, threads: 1, outputPath: 'out/bench' } as any, context('vamp-bench')));
  const bench = JSON.parse(fs.readFileSync(path.join(root, 'out/bench/bench.json'), 'utf8'));
  assert.deepEqual(bench.results.map((r: any) => r.batch), [1, 2]);
  assert.ok(bench.results.every((r: any) => r.throughput > 0 && r.latencyMs.p99 >= r.latencyMs.p50));
  assert.match(fs.readFileSync(path.join(root, 'out/bench/bench.md'), 'utf8'), /\| batch \| threads/);
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

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchBatches, uniqueLabels } from '../../plugins/modelzoo/src/lib/bench/bench-model';
import { cgroupCpuQuota } from '../../plugins/modelzoo/src/lib/bench/machine';
import { runBench } from '../../plugins/modelzoo/src/lib/bench/run-bench';
import { coefficientOfVariation, pairedRatio } from '../../plugins/modelzoo/src/lib/bench/stats';
import { buildMobileNetV2 } from '../../plugins/modelzoo/src/lib/onnx/mobilenetv2';
import { encodeModel } from '../../plugins/modelzoo/src/lib/onnx/proto';

test('coefficient of variation: sample standard deviation over the mean', () => {
  assert.equal(coefficientOfVariation([5]), 0);
  assert.equal(coefficientOfVariation([2, 2, 2]), 0);
  // mean 2, sample sd 1 -> 0.5
  assert.ok(Math.abs(coefficientOfVariation([1, 2, 3]) - 0.5) < 1e-12);
});

test('the paired ratio is the median of per-rep ratios: a load burst on one rep pair cancels', () => {
  // Rep 3 ran under load: both sides are a third as fast; ratio of that pair is still ~2.
  const fp32 = [100, 102, 33, 98, 101];
  const int8 = [200, 205, 67, 196, 240];
  const p = pairedRatio(fp32, int8);
  assert.deepEqual(p.ratios.map((r) => Number(r.toFixed(3))), [2, 2.01, 2.03, 2, 2.376]);
  assert.equal(Number(p.median.toFixed(3)), 2.01);
  assert.ok(p.cv > 0);
  assert.throws(() => pairedRatio([1, 2], [1]), /equal, non-empty/);
});

test('the stated batch is the largest benchmarked unless reportBatch names another; it must be benchmarked', () => {
  assert.deepEqual(benchBatches({ batch: [1, 8] }), { batches: [1, 8], reportBatch: 8 });
  assert.deepEqual(benchBatches({ batch: 4 }), { batches: [4], reportBatch: 4 });
  assert.deepEqual(benchBatches({ batch: [1, 8], reportBatch: 1 }), { batches: [1, 8], reportBatch: 1 });
  assert.throws(() => benchBatches({ batch: [1, 8], reportBatch: 2 }), /reportBatch 2 is not one of the benchmarked batches \[1, 8\]/);
  assert.deepEqual(uniqueLabels(['fp32', 'int8', 'int8']), ['fp32', 'int8', 'int8#3']);
});

test('cgroup cpu.max: a quota in cores, or null for "max" and for no file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpumax-'));
  fs.writeFileSync(path.join(dir, 'a'), '200000 100000\n');
  fs.writeFileSync(path.join(dir, 'b'), 'max 100000\n');
  assert.deepEqual(cgroupCpuQuota(path.join(dir, 'a')), { raw: '200000 100000', cores: 2 });
  assert.deepEqual(cgroupCpuQuota(path.join(dir, 'b')), { raw: 'max 100000', cores: null });
  assert.equal(cgroupCpuQuota(path.join(dir, 'missing')), null);
});

test('runBench measures every model in interleaved reps at the same batch, with per-rep figures, CV and the pair', async () => {
  const small = encodeModel(buildMobileNetV2({ width: 0.25, classes: 10, inputSize: 64 }));
  const big = encodeModel(buildMobileNetV2({ width: 1.0, classes: 10, inputSize: 64 }));
  const run = await runBench({
    models: [
      { label: 'big', model: big, inputName: 'input', inputType: 'float32' },
      { label: 'small', model: small, inputName: 'input', inputType: 'float32' },
    ],
    imageShape: [3, 64, 64],
    batches: [2],
    threads: 1,
    instances: 1,
    warmup: 1,
    reps: 4,
    durationSec: 0.4,
    cvThreshold: 1e-9,
  });
  for (const label of ['big', 'small']) {
    const [r] = run.results[label]!;
    assert.equal(r!.batch, 2);
    assert.equal(r!.reps!.length, 4);
    assert.ok(r!.iterations >= 4, 'each rep runs at least once');
    assert.ok(r!.cv! > 0 && r!.unstable === true, 'a spread above a (tiny) threshold is marked unstable');
  }
  const [pair] = run.pairs;
  assert.equal(pair!.of, 'small');
  assert.equal(pair!.over, 'big');
  assert.equal(pair!.ratios.length, 4);
  assert.ok(pair!.ratio > 1.5, `a 0.25-width model runs faster than the 1.0 one: ${pair!.ratio}`);
});

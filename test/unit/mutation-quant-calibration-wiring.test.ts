import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { DataType, makeModel, node, onnx, valueInfo } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { PRESETS } from '../../plugins/modelzoo/src/lib/preprocess/spec';
import { type CalibrationBatch, type CalibrationSource, collectStatistics } from '../../plugins/modelzoo/src/lib/quant/calibrate';
import { TensorHistogram } from '../../plugins/modelzoo/src/lib/quant/histogram';
import { quantizeModel } from '../../plugins/modelzoo/src/lib/quant/quantize';
import { klRange, mseRange } from '../../plugins/modelzoo/src/lib/quant/ranges';
import { measureSensitivity } from '../../plugins/modelzoo/src/lib/quant/sensitivity';
import { foldNormalization } from '../../plugins/modelzoo/src/lib/runtime/fold-normalization';
import { ort } from '../../plugins/modelzoo/src/lib/runtime/session';
import { S, pixels, tapModel, tinyNet, uint8Source } from '../helpers/mutation-quant-calibration-models';
import { progressOf } from '../helpers/stderr-capture';

// Boundaries and wiring the first mutation-quant-calibration files left open: maxImages landing exactly
// on a batch boundary, sources without return(), several feeds, a failing batch while the next one is
// still being read, and the options quantizeModel passes down.

const quiet = () => {};

test('maxImages reached exactly at a batch boundary stops there (calibration and sensitivity)', async () => {
  const px = pixels(6, 1, 51);
  const src = uint8Source(px, 1, 2);
  const r = await collectStatistics(tapModel(), ['a'], new Map(), src, { maxImages: 4, atoms: false, nonNegative: new Set(), samplesPerImage: 16 });
  assert.equal(r.images, 4);
  assert.equal(r.batches, 2);
  assert.equal(r.histograms.get('a')!.count, 64);
  const calls: number[] = [];
  await measureSensitivity(tapModel(), tapModel(), [{ tensor: 'a', node: 'sub' }], uint8Source(px, 1, 2), {
    maxImages: 4,
    progress: (d) => calls.push(d),
  });
  assert.deepEqual(calls, [2, 4]);
});

test('a source whose iterator has no return() is read to the end', async () => {
  const px = pixels(3, 1, 52);
  const src: CalibrationSource = {
    batches: () => ({
      [Symbol.asyncIterator]: () => {
        let k = 0;
        return {
          next: async (): Promise<IteratorResult<CalibrationBatch>> =>
            k < 3 ? { done: false, value: { feeds: { x: new ort.Tensor('uint8', px.slice(k * 16, ++k * 16), [1, 1, S, S]) } } } : { done: true, value: undefined },
        };
      },
    }),
  };
  const r = await collectStatistics(tapModel(), ['a'], new Map(), src, { maxImages: 2, atoms: false, nonNegative: new Set() });
  assert.equal(r.images, 2);
  const full = await collectStatistics(tapModel(), ['a'], new Map(), src, { maxImages: 10, atoms: false, nonNegative: new Set() });
  assert.equal(full.images, 3);
});

/** z = Cast(x) - Cast(y), two uint8 inputs [N, 1, S, S]. */
function twoInputs() {
  return makeModel(
    onnx.GraphProto.create({
      name: 'two',
      node: [
        node('Cast', ['x'], ['fx'], { to: DataType.FLOAT }, 'cx'),
        node('Cast', ['y'], ['fy'], { to: DataType.FLOAT }, 'cy'),
        node('Sub', ['fx', 'fy'], ['z'], {}, 'sub'),
      ],
      input: [valueInfo('x', DataType.UINT8, ['N', 1, S, S]), valueInfo('y', DataType.UINT8, ['N', 1, S, S])],
      output: [valueInfo('z', DataType.FLOAT, ['N', 1, S, S])],
    }),
    13,
  );
}

test('the calibration hash covers every feed in name order, each view exactly (offsets in a larger buffer)', async () => {
  const big = pixels(8, 1, 53); // 128 bytes; feeds are views into it
  const ys = big.subarray(16, 48);
  const xs = big.subarray(80, 112);
  const src: CalibrationSource = {
    async *batches() {
      yield { feeds: { y: new ort.Tensor('uint8', ys, [2, 1, S, S]), x: new ort.Tensor('uint8', xs, [2, 1, S, S]) } };
    },
  };
  const r = await collectStatistics(twoInputs(), ['z'], new Map(), src, { maxImages: 10, atoms: false, nonNegative: new Set(), samplesPerImage: 16 });
  assert.equal(r.sha256, createHash('sha256').update(xs).update(ys).digest('hex'));
  const z = Array.from(xs, (v, k) => v - ys[k]!);
  assert.equal(r.histograms.get('z')!.min, Math.min(...z));
  assert.equal(r.histograms.get('z')!.max, Math.max(...z));
  assert.equal(r.images, 2);
});

test('a batch failing while the next one is still being read is reported once, as that batch', async () => {
  const good = new ort.Tensor('uint8', pixels(1, 1, 54), [1, 1, S, S]);
  const bad = new ort.Tensor('uint8', new Uint8Array(25), [1, 1, 5, 5]);
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const src: CalibrationSource = {
      async *batches() {
        for (let k = 0; k < 3; k++) {
          await new Promise((r) => setTimeout(r, 30)); // reading takes longer than the failing run
          yield { feeds: { x: k === 1 ? bad : good } };
        }
      },
    };
    await assert.rejects(collectStatistics(tapModel(), ['a'], new Map(), src, { maxImages: 10, atoms: false, nonNegative: new Set() }), {
      message: /^int8 calibration: ONNX Runtime failed on batch 2: /,
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(unhandled, [], 'no unhandled rejection while the next batch was read');
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('klRange and mseRange of a histogram that saw nothing', () => {
  assert.deepEqual(klRange(new TensorHistogram(16)), { lo: Infinity, hi: -Infinity });
  assert.deepEqual(mseRange(new TensorHistogram(16)), { lo: 0, hi: 0 });
});

// ---------------------------------------------------------------- quantizeModel options

const px = pixels(6, 3, 55);
const source = () => uint8Source(px, 3, 4, 'image_u8');
const keras = (pad = false) => foldNormalization(tinyNet(3, pad), PRESETS['keras']!.normalize);

test('quantizeModel: an excluded first Conv or normalization node keeps the input unfolded', async () => {
  const skip = (await quantizeModel(keras(), source(), { calibrate_mode: 'max', skip_conv_layers: [0] }, quiet)).details as any;
  assert.equal('input_folded' in skip, false);
  assert.deepEqual(skip.excluded_nodes, ['conv1']);
  const keep = (await quantizeModel(keras(), source(), { calibrate_mode: 'max', exclude_layers: ['normalize.mul'] }, quiet)).details as any;
  assert.equal('input_folded' in keep, false);
  // The Convs pad: the fold's error on padded pixels, |a Z + b| = |127 / 127.5 - 1|, to 4 digits.
  const pad = (await quantizeModel(keras(true), source(), { calibrate_mode: 'max' }, quiet)).details as any;
  assert.equal(pad.input_folded.max_pad_error, 0.003922);
});

test('quantizeModel: a plain ReLU (no upper bound) is not clip-capped, so its max is reduced exactly', async () => {
  const m = keras();
  const act = m.graph!.node!.find((n) => n.name === 'relu6')!;
  act.opType = 'Relu';
  act.input = [act.input![0]!];
  const d = (await quantizeModel(m, source(), { calibrate_mode: 'percentile' }, quiet)).details as any;
  assert.equal(d.calibration.sampled_max_tensors, 0);
  assert.deepEqual(d.tensors['a1'].folded_clip, [0, null].map((v) => v ?? Infinity));
  const capped = (await quantizeModel(keras(), source(), { calibrate_mode: 'percentile' }, quiet)).details as any;
  assert.equal(capped.calibration.sampled_max_tensors, 1);
});

test('quantizeModel: calibration_count bounds both passes; default progress lines are labelled', async () => {
  const calls: [number, number | undefined][] = [];
  await quantizeModel(keras(), uint8Source(px, 3, 2, 'image_u8'), { calibrate_mode: 'max', sensitivity: true, calibration_count: 4 }, (d, t) => calls.push([d, t]));
  assert.deepEqual(calls, [
    [2, 4],
    [4, 4],
    [2, 4],
    [4, 4],
  ]);
  const lines = await progressOf(() => quantizeModel(keras(), source(), { calibrate_mode: 'max', sensitivity: true }));
  assert.ok(lines.some((l) => l.includes('int8 calibration')), lines.join('|'));
  assert.ok(lines.some((l) => l.includes('int8 sensitivity')), lines.join('|'));
});

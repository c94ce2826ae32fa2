import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataType, type Model, encodeModel, floatTensor, makeModel, node, onnx, typedTensor, valueInfo } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { PRESETS } from '../../plugins/modelzoo/src/lib/preprocess/spec';
import { type CalibrationSource, collectStatistics, samplesPerImage, withOutputs } from '../../plugins/modelzoo/src/lib/quant/calibrate';
import { foldInputNormalization } from '../../plugins/modelzoo/src/lib/quant/input-fold';
import { type CalibrateMode, resolveInt8Options } from '../../plugins/modelzoo/src/lib/quant/options';
import { calibratedTensors, planQuantization } from '../../plugins/modelzoo/src/lib/quant/plan';
import { prepareGraph } from '../../plugins/modelzoo/src/lib/quant/prepare';
import { activationParams } from '../../plugins/modelzoo/src/lib/quant/qdq';
import { quantizeModel } from '../../plugins/modelzoo/src/lib/quant/quantize';
import { type Range, chooseRange } from '../../plugins/modelzoo/src/lib/quant/ranges';
import { foldNormalization } from '../../plugins/modelzoo/src/lib/runtime/fold-normalization';
import { createSession, ort } from '../../plugins/modelzoo/src/lib/runtime/session';
import { S, pixels, tinyNet, uint8Source } from '../helpers/mutation-quant-calibration-models';

// quantizeModel's wiring of calibration: which modes count the histogram's atoms (exact zeros and clip
// hits), which tensors count as non-negative or take their max from the sample (only folded activations
// whose lower bound is >= 0), and the parameters of a tensor dequantized from the uint8 input when an
// excluded Conv reads it.

const quiet = () => {};
const keras = (seed: number) => foldNormalization(tinyNet(seed), PRESETS['keras']!.normalize);
const px = pixels(6, 3, 41);
const source = () => uint8Source(px, 3, 4, 'image_u8');

/** The documented pipeline re-run with `atoms` forced: each calibrated tensor's chosen range. */
async function rangesWith(model: Model, mode: CalibrateMode, src: CalibrationSource, atoms: boolean): Promise<Map<string, Range>> {
  const opts = resolveInt8Options({ calibrate_mode: mode });
  const prepared = prepareGraph(model);
  let plan = planQuantization(prepared, opts);
  if (foldInputNormalization(prepared, plan.quantized, new Set())) plan = planQuantization(prepared, opts);
  const clip = new Map(plan.points.filter((p) => p.clip && p.clip.hi < Infinity).map((p) => [p.tensor, p.clip!.hi]));
  const nonNeg = new Set(plan.points.filter((p) => p.clip && p.clip.lo >= 0).map((p) => p.tensor));
  const stats = await collectStatistics(prepared.model, calibratedTensors(plan), clip, src, {
    maxImages: 1000,
    atoms,
    nonNegative: nonNeg,
    samplesPerImage: samplesPerImage(mode),
    sampledExtremes: new Set([...clip.keys()].filter((t) => nonNeg.has(t))),
  });
  return new Map([...stats.histograms].map(([t, h]) => [t, chooseRange(h, mode, 0.99999)]));
}

const paramsOf = (r: Range) => {
  const q = activationParams(r, 'uint8');
  return { scale: q.scale, zero_point: q.zeroPoint, range: [q.range.lo, q.range.hi] };
};

test('kl_divergence counts clip hits: the ReLU6 bound stays in the range of a saturating tensor', async () => {
  const model = keras(2);
  const d = (await quantizeModel(model, source(), { calibrate_mode: 'kl_divergence' }, quiet)).details as any;
  const a1 = d.tensors['a1'];
  // Clip hits are more than 1e-5 of the values, so the range reaches the bound 6 (the sampled max).
  assert.deepEqual(a1.observed, [0, 6]);
  assert.deepEqual({ scale: a1.scale, zero_point: a1.zero_point, range: a1.range }, paramsOf({ lo: 0, hi: 6 }));
  const withAtoms = await rangesWith(model, 'kl_divergence', source(), true);
  for (const t of ['a1', 'c2', 'sum', 'gap']) assert.deepEqual(d.tensors[t].range, paramsOf(withAtoms.get(t)!).range, t);
  // The fixture tells the two apart: without the counts KL's own search ends well below 6.
  const without = await rangesWith(model, 'kl_divergence', source(), false);
  assert.ok(without.get('a1')!.hi < 5, `${without.get('a1')!.hi}`);
});

/** x [N, 1, 32, 32] float -> 1x1 Conv (weight 1, bias 0) -> y: y equals x. */
function identityConv(): Model {
  const graph = onnx.GraphProto.create({
    name: 'identity',
    node: [node('Conv', ['x', 'w', 'b'], ['y'], { kernel_shape: [1, 1] }, 'conv')],
    initializer: [floatTensor('w', [1, 1, 1, 1], Float32Array.of(1)), floatTensor('b', [1], Float32Array.of(0))],
    input: [valueInfo('x', DataType.FLOAT, ['N', 1, 32, 32])],
    output: [valueInfo('y', DataType.FLOAT, ['N', 1, 32, 32])],
  });
  return makeModel(graph, 13);
}

/** 20 images of exact zeros but for one value 1 (in the first). */
function sparseSource(): CalibrationSource {
  return {
    images: 20,
    async *batches() {
      for (let b = 0; b < 20; b += 5) {
        const data = new Float32Array(5 * 1024);
        if (b === 0) data[0] = 1;
        yield { feeds: { x: new ort.Tensor('float32', data, [5, 1, 32, 32]) } };
      }
    },
  };
}

test('mse counts exact zeros: they cost no rounding noise, so a lone value keeps the full range', async () => {
  const d = (await quantizeModel(identityConv(), sparseSource(), { calibrate_mode: 'mse' }, quiet)).details as any;
  assert.equal(d.calibration.samples_per_image, 2048);
  // One non-zero value among 20480: its clipping costs more than the rounding noise of one value, so
  // MSE keeps alpha = 1, [0, 1].
  for (const t of ['x', 'y']) {
    assert.deepEqual(d.tensors[t], { ...paramsOf({ lo: 0, hi: 1 }), observed: [0, 1] }, t);
  }
  // Counted as noise, the 20479 zeros would shrink the range.
  const without = await rangesWith(identityConv(), 'mse', sparseSource(), false);
  assert.ok(without.get('x')!.hi < 0.99, `${without.get('x')!.hi}`);
});

/** The keras tiny net with its ReLU6 replaced by Clip(-1, 6): a folded activation with a signed range. */
function signedClip(): Model {
  const m = keras(3);
  const lo = m.graph!.initializer!.find((t) => t.name === 'zero')!;
  Object.assign(lo, floatTensor('zero', [], Float32Array.of(-1)));
  return m;
}

test('a folded Clip(-1, 6) is signed: its min is reduced exactly and its max is not taken from the sample', async () => {
  const prepared = prepareGraph(signedClip()).model;
  const s = await createSession(encodeModel(withOutputs(prepared, ['a1'])));
  let lo = Infinity;
  let hi = -Infinity;
  try {
    const out = await s.run({ image_u8: new ort.Tensor('uint8', px, [6, 3, S, S]) }, ['a1']);
    for (const v of out['a1']!.data as Float32Array) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  } finally {
    await s.release();
  }
  assert.equal(lo, -1, 'the clip bound is reached');
  const max = (await quantizeModel(signedClip(), source(), { calibrate_mode: 'max' }, quiet)).details as any;
  assert.deepEqual(max.tensors['a1'], { ...paramsOf({ lo, hi }), observed: [lo, hi], folded_clip: [-1, 6] });
  const pct = (await quantizeModel(signedClip(), source(), { calibrate_mode: 'percentile' }, quiet)).details as any;
  assert.equal(pct.calibration.sampled_max_tensors, 0, 'only non-negative clip-capped tensors take their max from the sample');
  assert.deepEqual(pct.tensors['a1'].observed, [lo, hi]);
  assert.deepEqual(pct.tensors['a1'].folded_clip, [-1, 6]);
});

/**
 * A model that reads its uint8 input through its own DequantizeLinear (scale 0.02, zero point 128):
 * x -> DQ -> f; f -> conv1 -> c1 and f -> conv2 -> c2; out = c1 + c2.
 */
function dequantizedInput(): Model {
  const graph = onnx.GraphProto.create({
    name: 'dq-input',
    node: [
      node('DequantizeLinear', ['x', 'xs', 'xz'], ['f'], {}, 'dq'),
      node('Conv', ['f', 'w1', 'b1'], ['c1'], { kernel_shape: [1, 1] }, 'conv1'),
      node('Conv', ['f', 'w2', 'b2'], ['c2'], { kernel_shape: [1, 1] }, 'conv2'),
      node('Add', ['c1', 'c2'], ['out'], {}, 'add'),
    ],
    initializer: [
      floatTensor('xs', [], Float32Array.of(0.02)),
      typedTensor('xz', [], DataType.UINT8, Uint8Array.of(128)),
      floatTensor('w1', [2, 1, 1, 1], Float32Array.of(0.5, -1)),
      floatTensor('b1', [2], Float32Array.of(0.1, 0)),
      floatTensor('w2', [2, 1, 1, 1], Float32Array.of(2, 1)),
      floatTensor('b2', [2], Float32Array.of(0, -0.2)),
    ],
    input: [valueInfo('x', DataType.UINT8, ['N', 1, S, S])],
    output: [valueInfo('out', DataType.FLOAT, ['N', 2, S, S])],
  });
  return makeModel(graph, 13);
}

test('an excluded Conv reading the dequantized uint8 input gets a uint8 zero point and the model runs', async () => {
  const data = pixels(4, 1, 13);
  const q = await quantizeModel(dequantizedInput(), uint8Source(data, 1, 4), { calibrate_mode: 'max', exclude_layers: ['conv1'] }, quiet);
  const d = q.details as any;
  const s = Math.fround(0.02);
  assert.deepEqual(d.tensors['f'], { scale: s, zero_point: 128, range: [s * -128, s * 127], dequantized_from: 'x' });
  assert.deepEqual(d.excluded_nodes, ['conv1']);
  const zp = q.model.graph!.initializer!.find((t) => t.name === 'f.for_conv1.zero_point')!;
  assert.equal(zp.dataType, DataType.UINT8);
  assert.deepEqual([...zp.rawData!], [128]);
  // ONNX Runtime accepts it (an int8 zero point for a uint8 input would not load) and the result is
  // the float model's within the quantization error.
  const run = async (m: Model) => {
    const session = await createSession(encodeModel(m));
    try {
      return (await session.run({ x: new ort.Tensor('uint8', data, [4, 1, S, S]) }))['out']!.data as Float32Array;
    } finally {
      await session.release();
    }
  };
  const [want, got] = [await run(dequantizedInput()), await run(q.model)];
  assert.equal(got.length, want.length);
  const scale = Math.max(...d.tensors['out'].range.map(Math.abs)) / 127;
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 4 * scale, `${i}: ${got[i]} vs ${want[i]}`);
});

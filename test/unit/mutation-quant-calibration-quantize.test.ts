import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { type Model, encodeModel } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { PRESETS } from '../../plugins/modelzoo/src/lib/preprocess/spec';
import { type CalibrationBatch, collectStatistics, samplesPerImage, withOutputs } from '../../plugins/modelzoo/src/lib/quant/calibrate';
import { foldInputNormalization } from '../../plugins/modelzoo/src/lib/quant/input-fold';
import { type CalibrateMode, resolveInt8Options } from '../../plugins/modelzoo/src/lib/quant/options';
import { calibratedTensors, planQuantization } from '../../plugins/modelzoo/src/lib/quant/plan';
import { prepareGraph } from '../../plugins/modelzoo/src/lib/quant/prepare';
import { activationParams } from '../../plugins/modelzoo/src/lib/quant/qdq';
import { QUANTIZER_ID, quantizeModel } from '../../plugins/modelzoo/src/lib/quant/quantize';
import { chooseRange } from '../../plugins/modelzoo/src/lib/quant/ranges';
import { foldNormalization } from '../../plugins/modelzoo/src/lib/runtime/fold-normalization';
import { createSession, ort } from '../../plugins/modelzoo/src/lib/runtime/session';
import { S, pixels, tinyNet, uint8Source } from '../helpers/mutation-quant-calibration-models';

// quantize.ts wires the pipeline: plan, input fold, calibration (what it samples per mode), range choice
// (clipped by folded activations), the QDQ build and the manifest details. The tiny Conv -> ReLU6 ->
// Conv -> Add -> pool -> Gemm classifier is quantized on 6 images; `max` ranges are checked against the
// float graph's exact extremes, and every mode against the documented pipeline re-run step by step.

const keras = foldNormalization(tinyNet(3), PRESETS['keras']!.normalize); // input fold taken (1x1 convs)
// ImageNet mean/std and a padding Conv: no input fold, the normalized input is calibrated.
const torch = foldNormalization(tinyNet(3, true), PRESETS['torchvision']!.normalize);
const px = pixels(6, 3, 41);
const source = () => uint8Source(px, 3, 4, 'image_u8');
const quiet = () => {};

/** Exact min/max of each tensor of the float model over the images. */
async function extremes(m: Model, tensors: string[]): Promise<Map<string, [number, number]>> {
  const s = await createSession(encodeModel(withOutputs(m, tensors)));
  try {
    const out = await s.run({ image_u8: new ort.Tensor('uint8', px, [6, 3, S, S]) }, tensors);
    return new Map(tensors.map((t) => [t, (out[t]!.data as Float32Array).reduce<[number, number]>((a, v) => [Math.min(a[0], v), Math.max(a[1], v)], [Infinity, -Infinity])]));
  } finally {
    await s.release();
  }
}

/** The details.tensors the pipeline must produce, re-run step by step from the exported stages. */
async function expectedTensors(model: Model, mode: CalibrateMode, percentile = 0.99999): Promise<Record<string, unknown>> {
  const opts = resolveInt8Options({ calibrate_mode: mode, percentile });
  const prepared = prepareGraph(model);
  let plan = planQuantization(prepared, opts);
  const convs = new Set(prepared.model.graph!.node!.filter((n) => n.opType === 'Conv').map((n) => n.name!));
  if (foldInputNormalization(prepared, convs, new Set())) plan = planQuantization(prepared, opts);
  const clip = new Map(plan.points.filter((p) => p.clip && p.clip.hi < Infinity).map((p) => [p.tensor, p.clip!.hi]));
  const nonNeg = new Set(plan.points.filter((p) => p.clip && p.clip.lo >= 0).map((p) => p.tensor));
  const stats = await collectStatistics(prepared.model, calibratedTensors(plan), clip, source(), {
    maxImages: 1000,
    atoms: mode === 'kl_divergence' || mode === 'mse',
    nonNegative: nonNeg,
    samplesPerImage: samplesPerImage(mode),
    sampledExtremes: mode === 'max' ? new Set() : new Set([...clip.keys()].filter((t) => nonNeg.has(t))),
  });
  const out: Record<string, unknown> = {};
  for (const p of plan.points) {
    if (p.alias) {
      out[p.tensor] = { same_as: p.alias };
      continue;
    }
    if (p.fixed) {
      const { scale, zeroPoint } = p.fixed;
      out[p.tensor] = { scale, zero_point: zeroPoint, range: [-scale * zeroPoint, scale * (255 - zeroPoint)], dequantized_from: p.fixed.quantized };
      continue;
    }
    const h = stats.histograms.get(p.tensor)!;
    const r = chooseRange(h, mode, percentile);
    const q = activationParams({ lo: r.lo, hi: p.clip ? Math.min(r.hi, p.clip.hi) : r.hi }, 'uint8');
    out[p.tensor] = {
      scale: q.scale,
      zero_point: q.zeroPoint,
      range: [q.range.lo, q.range.hi],
      observed: [h.min, h.max],
      ...(p.clip ? { folded_clip: [p.clip.lo, p.clip.hi] } : {}),
    };
  }
  return out;
}

test('quantizeModel max: details pin the options, the calibration set and the exact observed ranges', async () => {
  const calls: [number, number | undefined][] = [];
  const q = await quantizeModel(keras, source(), { calibrate_mode: 'max', per_channel: false }, (d, t) => calls.push([d, t]));
  const d = q.details as Record<string, any>;
  assert.equal(QUANTIZER_ID, 'modelzoo-qdq/1');
  assert.equal(d.quantizer, 'modelzoo-qdq/1');
  assert.equal(d.calibrate_mode, 'max');
  assert.equal('percentile' in d, false, 'percentile only for calibrate_mode percentile');
  assert.equal(d.per_channel, false);
  assert.equal(d.activation_type, 'uint8');
  assert.equal(d.weight_type, 'int8');
  assert.equal(d.bias_type, 'int32');
  assert.deepEqual(calls, [
    [4, 6],
    [6, 6],
  ]);
  const sha = createHash('sha256').update(px.subarray(0, 4 * 48)).update(px.subarray(4 * 48)).digest('hex');
  const { seconds, ...cal } = d.calibration;
  assert.deepEqual(cal, { images: 6, batches: 2, samples_per_image: 0, sampled_max_tensors: 0, sha256: sha });
  assert.ok(typeof seconds === 'number' && seconds >= 0 && Number(seconds.toFixed(3)) === seconds, `${seconds}`);
  assert.deepEqual(d.exclude_layers, []);
  assert.deepEqual(d.skip_conv_layers, []);
  assert.deepEqual(d.excluded_nodes, []);
  assert.deepEqual(d.folded_activations, ['relu6']);
  assert.equal(d.quantized_nodes, 6, 'conv1, conv2, add, gap, flatten, fc');
  const f = d.input_folded;
  assert.equal(f.tensor, 'input');
  assert.equal(f.input, 'image_u8');
  assert.equal(f.scale, Math.fround(1 / 127.5));
  assert.equal(f.zero_point, 127);
  assert.deepEqual(f.convs, ['conv1']);
  assert.deepEqual(f.removed_nodes, ['normalize.cast', 'normalize.mul', 'normalize.sub']);
  assert.equal(f.max_pad_error, 0);
  assert.equal(d.sensitivity, undefined);
  assert.equal(q.sensitivity, undefined);
  // The tensors: the folded input's fixed parameters, exact extremes for the rest, ReLU6 capped at 6.
  const t = d.tensors as Record<string, any>;
  assert.deepEqual(Object.keys(t), ['input', 'a1', 'c2', 'sum', 'gap', 'flat']);
  const s = Math.fround(1 / 127.5);
  assert.deepEqual(t['input'], { scale: s, zero_point: 127, range: [s * -127, s * 128], dequantized_from: 'image_u8' });
  assert.deepEqual(t['flat'], { same_as: 'gap' });
  const ex = await extremes(prepareGraph(keras).model, ['a1', 'c2', 'sum', 'gap']);
  for (const name of ['a1', 'c2', 'sum', 'gap']) {
    const [lo, hi] = ex.get(name)!;
    const clip = name === 'a1' ? 6 : Infinity;
    const p = activationParams({ lo: Math.min(0, lo), hi: Math.min(Math.max(0, hi), clip) }, 'uint8');
    if (name === 'gap') {
      // The pooled mean may differ in the last bit between two differently optimized graphs.
      assert.ok(Math.abs(t[name].observed[0] - lo) < 1e-6 && Math.abs(t[name].observed[1] - hi) < 1e-6, name);
      continue;
    }
    assert.deepEqual(t[name].observed, [name === 'a1' ? 0 : lo, hi], name);
    assert.deepEqual(t[name], {
      scale: p.scale,
      zero_point: p.zeroPoint,
      range: [p.range.lo, p.range.hi],
      observed: t[name].observed,
      ...(name === 'a1' ? { folded_clip: [0, 6] } : {}),
    }, name);
  }
  assert.ok(ex.get('a1')![1] > 0, 'ReLU6 output is not all zero');
  assert.deepEqual(t, await expectedTensors(keras, 'max'));
  assert.ok(q.model.graph!.node!.some((n) => n.opType === 'QuantizeLinear'), 'a QDQ graph');
  // The source model is left as it was.
  assert.equal(keras.graph!.node![0]!.opType, 'Cast');
});

test('quantizeModel: every calibrate_mode reads what it needs and picks the documented range', async () => {
  for (const mode of ['percentile', 'kl_divergence', 'mse'] as const) {
    const q = await quantizeModel(torch, () => source().batches(), { calibrate_mode: mode, percentile: 0.999 }, quiet);
    const d = q.details as Record<string, any>;
    assert.equal(d.calibrate_mode, mode);
    if (mode === 'percentile') assert.equal(d.percentile, 0.999);
    else assert.equal('percentile' in d, false, mode);
    assert.equal(d.calibration.samples_per_image, mode === 'percentile' ? 1024 : 2048);
    assert.equal(d.calibration.sampled_max_tensors, 1, 'a1: ReLU6-capped and non-negative');
    assert.equal('input_folded' in d, false, 'ImageNet mean/std: no input fold');
    assert.deepEqual(d.tensors, await expectedTensors(torch, mode, 0.999), mode);
    assert.ok('observed' in (d.tensors['input'] as object), 'the normalized input is calibrated');
  }
});

test('quantizeModel: exclusions, int8 activations and the sensitivity pass', async () => {
  const calls: [number, number | undefined][] = [];
  const src = source();
  const q = await quantizeModel(keras, src, { calibrate_mode: 'max', sensitivity: true, skip_conv_layers: [1], activation_type: 'int8' }, (d, t) =>
    calls.push([d, t]),
  );
  const d = q.details as Record<string, any>;
  assert.equal(src.passes, 2, 'calibration, then sensitivity');
  assert.deepEqual(calls, [
    [4, 6],
    [6, 6],
    [4, 6],
    [6, 6],
  ]);
  assert.deepEqual(d.skip_conv_layers, [1]);
  assert.deepEqual(d.excluded_nodes, ['conv2']);
  assert.equal(d.quantized_nodes, 5);
  assert.equal(d.activation_type, 'int8');
  assert.equal(d.per_channel, true);
  const gap = d.tensors['gap'];
  const p = activationParams({ lo: gap.observed[0], hi: gap.observed[1] }, 'int8');
  assert.deepEqual(gap, { scale: p.scale, zero_point: p.zeroPoint, range: [p.range.lo, p.range.hi], observed: gap.observed });
  assert.ok(p.zeroPoint < 0, 'int8 zero points are signed');
  const sens = q.sensitivity!;
  assert.equal(d.sensitivity, sens);
  // One entry per non-alias point, named by the node that writes it.
  assert.deepEqual(sens.map((s) => `${s.tensor}<-${s.node}`).sort(), ['a1<-conv1', 'c2<-conv2', 'gap<-gap', 'input<-input.DequantizeInput', 'sum<-add']);
  for (let i = 1; i < sens.length; i++) assert.ok(sens[i - 1]!.snrDb <= sens[i]!.snrDb, 'worst first');
  assert.ok(sens.every((s) => Number.isFinite(s.snrDb) && s.snrDb > 0 && s.snrDb <= 200), JSON.stringify(sens));
  // A float model whose first Conv reads the graph input: that point has no producer node and is
  // named by its tensor.
  const floats = Float32Array.from(px, (v) => v / 127.5 - 1);
  const fsrc = {
    images: 6,
    async *batches() {
      yield { feeds: { input: new ort.Tensor('float32', floats, [6, 3, S, S]) } };
    },
  };
  const fq = await quantizeModel(tinyNet(3), fsrc, { calibrate_mode: 'max', sensitivity: true, exclude_layers: ['add'] }, quiet);
  assert.deepEqual((fq.details as any).exclude_layers, ['add']);
  assert.deepEqual((fq.details as any).excluded_nodes, ['add']);
  assert.deepEqual(fq.sensitivity!.map((s) => `${s.tensor}<-${s.node}`).sort(), ['a1<-conv1', 'c2<-conv2', 'gap<-gap', 'input<-input', 'sum<-add']);
});

test('quantizeModel: sensitivity needs a re-iterable set; a one-shot iterable is enough without it', async () => {
  const once = async function* (): AsyncGenerator<CalibrationBatch> {
    yield { feeds: { image_u8: new ort.Tensor('uint8', px, [6, 3, S, S]) } };
  };
  await assert.rejects(quantizeModel(keras, once(), { sensitivity: true }, quiet), {
    message: 'int8 option sensitivity needs a second pass over the calibration set: pass a function or a CalibrationSource, not a one-shot iterable',
  });
  const q = await quantizeModel(keras, once(), { calibrate_mode: 'max' }, quiet);
  assert.equal((q.details as any).calibration.images, 6);
  assert.equal((q.details as any).calibration.batches, 1);
  // Raw vamc spellings are accepted.
  const v = await quantizeModel(keras, source(), { quant_mode: 'max', calibration_count: 4 }, quiet);
  assert.equal((v.details as any).calibrate_mode, 'max');
  assert.equal((v.details as any).calibration.images, 4);
});

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { buildMobileNetV2, seededRandom } from '../../plugins/modelzoo/src/lib/onnx/mobilenetv2';
import { type Model, decodeModel, encodeModel, node, tensorToFloat32 } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { PRESETS } from '../../plugins/modelzoo/src/lib/preprocess/spec';
import { type CalibrationSource, quantizeModel, resolveInt8Options } from '../../plugins/modelzoo/src/lib/quant';
import { probeShapes, samplingModel } from '../../plugins/modelzoo/src/lib/quant/calibrate';
import { foldInputNormalization } from '../../plugins/modelzoo/src/lib/quant/input-fold';
import { calibratedTensors, planQuantization } from '../../plugins/modelzoo/src/lib/quant/plan';
import { prepareGraph } from '../../plugins/modelzoo/src/lib/quant/prepare';
import { inferShapes } from '../../plugins/modelzoo/src/lib/quant/shapes';
import { WEIGHT_MIN_LEVELS, quantizeWeight, weightScale } from '../../plugins/modelzoo/src/lib/quant/qdq';
import { foldNormalization } from '../../plugins/modelzoo/src/lib/runtime/fold-normalization';
import { createSession, ort } from '../../plugins/modelzoo/src/lib/runtime/session';

const S = 64;
const model = foldNormalization(buildMobileNetV2({ width: 0.25, inputSize: S, classes: 10 }), PRESETS['torchvision']!.normalize);
const quiet = () => {};

/** Smooth random images (gradients + blobs), closer to photos than white noise. */
function images(n: number, seed: number): Uint8Array {
  const rand = seededRandom(seed);
  const out = new Uint8Array(n * 3 * S * S);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const a = rand() * 255;
      const gx = (rand() - 0.5) * 8;
      const gy = (rand() - 0.5) * 8;
      const f = 0.05 + rand() * 0.3;
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          const v = a + gx * x + gy * y + 60 * Math.sin(f * x + c) * Math.cos(f * y) + (rand() - 0.5) * 20;
          out[((i * 3 + c) * S + y) * S + x] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
  }
  return out;
}

const tensorOf = (d: Uint8Array) => new ort.Tensor('uint8', d, [d.length / (3 * S * S), 3, S, S]);
const calibData = images(16, 1);
const source: CalibrationSource = {
  images: 16,
  async *batches() {
    for (let b = 0; b < 16; b += 4) yield { feeds: { image_u8: tensorOf(calibData.subarray(b * 3 * S * S, (b + 4) * 3 * S * S)) } };
  },
};

async function optimizedOps(m: Model): Promise<{ op: string; name: string }[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quant-test-'));
  try {
    const file = path.join(dir, 'opt.onnx');
    const s = await createSession(encodeModel(m), { level: 'all', optimizedModelFilePath: file, threads: 1 });
    await s.release();
    return decodeModel(fs.readFileSync(file)).graph!.node!.map((n) => ({ op: n.opType!, name: n.name ?? '' }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const count = (ops: { op: string }[], op: string) => ops.filter((o) => o.op === op).length;
const countSrc = (m: Model, op: string) => m.graph!.node!.filter((n) => n.opType === op).length;
const FLOAT_COMPUTE = ['Conv', 'FusedConv', 'Gemm', 'MatMul', 'FusedGemm', 'Add', 'GlobalAveragePool', 'AveragePool'];

test('ONNX Runtime runs every Conv, Add, pooling and Gemm of the QDQ model on integer kernels', async () => {
  const q = await quantizeModel(model, source, {}, quiet);
  const ops = await optimizedOps(q.model);
  for (const op of FLOAT_COMPUTE) assert.equal(count(ops, op), 0, `float ${op} left in the optimized graph`);
  assert.equal(count(ops, 'QLinearConv'), countSrc(model, 'Conv'));
  assert.equal(count(ops, 'QLinearAdd'), countSrc(model, 'Add'));
  assert.equal(count(ops, 'QLinearGlobalAveragePool'), 1);
  assert.equal(count(ops, 'QGemm'), 1);
  // Only the input's quantization stays: no Q/DQ pairs between layers.
  assert.equal(count(ops, 'QuantizeLinear'), 1);
  assert.equal(count(ops, 'DequantizeLinear'), 0);
});

test('int8 logits stay close to fp32 on held-out images', async () => {
  const q = await quantizeModel(model, source, {}, quiet);
  const held = tensorOf(images(8, 99));
  const f = await createSession(encodeModel(model));
  const i8 = await createSession(encodeModel(q.model));
  const a = (await f.run({ image_u8: held })).logits!.data as Float32Array;
  const b = (await i8.run({ image_u8: held })).logits!.data as Float32Array;
  let dot = 0;
  let na = 0;
  let nb = 0;
  let noise = 0;
  for (let k = 0; k < a.length; k++) {
    dot += a[k]! * b[k]!;
    na += a[k]! ** 2;
    nb += b[k]! ** 2;
    noise += (a[k]! - b[k]!) ** 2;
  }
  const cosine = dot / Math.sqrt(na * nb);
  const snr = 10 * Math.log10(na / noise);
  assert.ok(cosine > 0.98, `cosine ${cosine}`);
  assert.ok(snr > 14, `SNR ${snr} dB`);
});

test('per-channel weight scales: max|w| / k (k in [64, 127]): exact grids first, least squares on small channels, max|w| never clipped', () => {
  // [3 out, 2 in, 1, 1]: channel maxima 1, 0.5, 2.54.
  const w = Float32Array.from([1, -0.25, 0.5, 0.1, -2.54, 2]);
  const q = quantizeWeight(w, [3, 2, 1, 1], 0, true);
  const err = (c: number, s: number) => [0, 1].reduce((e, j) => e + (w[2 * c + j]! - s * Math.round(w[2 * c + j]! / s)) ** 2, 0);
  [1, 0.5, 2.54].forEach((m, c) => {
    const k = Math.round(m / q.scales[c]!);
    assert.ok(k >= WEIGHT_MIN_LEVELS && k <= 127, `channel ${c}: ${k} steps`);
    assert.ok(Math.abs(q.scales[c]! - Math.fround(m / k)) <= 1e-7 * q.scales[c]!);
    assert.equal(Math.abs(q.data[2 * c]!), k); // the channel's max is exact
    assert.ok(err(c, q.scales[c]!) <= err(c, m / 127) + 1e-15, `channel ${c} is no worse than max/127`);
  });
  // 1 and -0.25 are both exact at 1/124: the textbook 1/127 would round -0.25 to -32/127.
  assert.deepEqual([q.data[0], q.data[1]], [124, -31]);
  const perTensor = quantizeWeight(w, [3, 2, 1, 1], 0, false);
  assert.equal(perTensor.scales.length, 1);
  // Gemm [K, N] (transB = 0): channels run along axis 1.
  const g = quantizeWeight(Float32Array.from([1, 4, -2, 1]), [2, 2], 1, true);
  assert.deepEqual(Array.from(g.scales).map((s, c) => Math.round([2, 4][c]! / s)), [2 / g.scales[0]!, 4 / g.scales[1]!].map(Math.round));
  assert.ok(g.scales[0]! >= 2 / 127 - 1e-9 && g.scales[1]! >= 4 / 127 - 1e-9);
});

test('weights already on an int8 grid (QAT / re-exported int8 models) are recovered exactly', () => {
  const rand = seededRandom(7);
  // 16 depthwise 3x3 channels on a per-tensor grid (step 0.01), like TFLite QAT weights; a channel's max
  // sits 97 or 40 steps from zero, not 127, so max|w| / 127 is off the grid.
  const w = new Float32Array(16 * 9);
  for (let c = 0; c < 16; c++) {
    const b = c % 2 ? 40 : 97;
    for (let j = 0; j < 9; j++) w[c * 9 + j] = Math.fround(0.01 * (j === 0 ? (c % 4 < 2 ? b : -b) : Math.floor(rand() * (2 * b + 1)) - b));
  }
  const q = quantizeWeight(w, [16, 1, 3, 3], 0, true);
  let worst = 0;
  for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(q.data[i]! * q.scales[Math.floor(i / 9)]! - w[i]!));
  assert.ok(worst < 1e-6, `max weight error ${worst}`);
  // Smooth (off-grid) weights: never worse than the textbook max|w| / 127.
  const r = Float32Array.from({ length: 64 }, () => rand() * 2 - 1);
  const m = r.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  const sse = (s: number) => r.reduce((e, v) => e + (v - s * Math.round(v / s)) ** 2, 0);
  assert.ok(sse(weightScale(r, m)) <= sse(m / 127));
  // Large off-grid channels: the textbook max|w| / 127.
  const big = Float32Array.from({ length: 500 }, () => rand() * 2 - 1);
  const bm = big.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  assert.equal(weightScale(big, bm), Math.fround(bm / 127));
});

test('the QDQ model carries per-channel int8 weights, int32 biases at input scale x weight scale', async () => {
  const q = await quantizeModel(model, source, {}, quiet);
  const g = q.model.graph!;
  const inits = new Map(g.initializer!.map((t) => [t.name, t]));
  const stem = g.node!.find((n) => n.name === 'stem.conv')!;
  const wDq = g.node!.find((n) => n.output![0] === stem.input![1])!;
  assert.equal(wDq.opType, 'DequantizeLinear');
  assert.equal(inits.get(wDq.input![0])!.dataType, 3); // INT8
  const wScale = tensorToFloat32(inits.get(wDq.input![1])!);
  assert.equal(wScale.length, 8); // stem has 8 output channels at width 0.25
  assert.equal(wDq.attribute!.find((a) => a.name === 'axis')?.i, 0);
  const bDq = g.node!.find((n) => n.output![0] === stem.input![2])!;
  assert.equal(inits.get(bDq.input![0])!.dataType, 6); // INT32
  const bScale = tensorToFloat32(inits.get(bDq.input![1])!);
  const xDq = g.node!.find((n) => n.output![0] === stem.input![0])!;
  const xScale = tensorToFloat32(inits.get(xDq.input![1])!)[0]!;
  for (let c = 0; c < 8; c++) assert.ok(Math.abs(bScale[c]! - xScale * wScale[c]!) <= 1e-6 * bScale[c]!);
  // The stem's ReLU6 is folded into its output range: zero point 0, at most 6 / 255 per step.
  assert.equal(g.node!.filter((n) => n.opType === 'Clip').length, 0);
  const t = (q.details['tensors'] as Record<string, { zero_point: number; scale: number }>)['stem.relu6']!;
  assert.equal(t.zero_point, 0);
  assert.ok(t.scale <= 6 / 255 + 1e-9);
});

test('exclude_layers and skip_conv_layers keep those nodes float; unknown names are errors', async () => {
  const q = await quantizeModel(model, source, { exclude_layers: ['block3.dw.conv'], skip_conv_layers: [0] }, quiet);
  const g = q.model.graph!;
  const floatInits = new Set(g.initializer!.filter((t) => t.dataType === 1).map((t) => t.name));
  for (const name of ['block3.dw.conv', 'stem.conv']) {
    const n = g.node!.find((x) => x.name === name)!;
    assert.equal(n.opType, 'Conv');
    assert.ok(floatInits.has(n.input![1]!), `${name} weight should stay a float initializer`);
  }
  assert.deepEqual(q.details['excluded_nodes'], ['block3.dw.conv', 'stem.conv']);
  const ops = await optimizedOps(q.model);
  const floatConvs = ops.filter((o) => o.op === 'Conv' || o.op === 'FusedConv');
  assert.equal(floatConvs.length, 2);
  assert.equal(count(ops, 'QLinearConv'), countSrc(model, 'Conv') - 2);
  await assert.rejects(quantizeModel(model, source, { exclude_layers: ['block99.dw'] }, quiet), /exclude_layers.*'block99\.dw'/);
  await assert.rejects(quantizeModel(model, source, { skip_conv_layers: [500] }, quiet), /skip_conv_layers: index 500/);
});

test('build manifest details: method, range, per-tensor parameters, calibration size and hash', async () => {
  const q = await quantizeModel(model, source, { calibrate_mode: 'kl_divergence', calibration_count: 8 }, quiet);
  const d = q.details as Record<string, any>;
  assert.equal(d['calibrate_mode'], 'kl_divergence');
  assert.equal(d['calibration'].images, 8); // stops at calibration_count
  assert.match(d['calibration'].sha256, /^[0-9a-f]{64}$/);
  const again = await quantizeModel(model, source, { calibrate_mode: 'kl_divergence', calibration_count: 16 }, quiet);
  assert.notEqual((again.details as any).calibration.sha256, d['calibration'].sha256);
  const tensors = d['tensors'] as Record<string, any>;
  const add = Object.entries(tensors).find(([k]) => k.endsWith('.add'))![1];
  assert.ok(add.scale > 0 && Number.isInteger(add.zero_point));
  assert.ok(add.range[0] < 0 && add.range[1] > 0);
  assert.equal(tensors['flat'].same_as, 'pool');
  const p = await quantizeModel(model, source, { quant_mode: 'percentile', percentile: 99.99 }, quiet);
  assert.equal((p.details as any).percentile, 0.9999);
});

test('sensitivity report: per-layer SNR over the calibration set, worst first', async () => {
  const q = await quantizeModel(model, () => source.batches(), { sensitivity: true, calibration_count: 8 }, quiet);
  const s = q.sensitivity!;
  assert.ok(s.length > 50);
  for (let i = 1; i < s.length; i++) assert.ok(s[i - 1]!.snrDb <= s[i]!.snrDb);
  assert.ok(s.every((e) => Number.isFinite(e.snrDb)));
  assert.ok(s.some((e) => e.node === 'stem.conv'));
  // Errors accumulate: the input is far cleaner than the deepest layers.
  const input = s.find((e) => e.tensor === 'input')!;
  assert.ok(input.snrDb > s[0]!.snrDb + 10);
  const oneShot = (async function* () {})();
  await assert.rejects(quantizeModel(model, oneShot, { sensitivity: true }, quiet), /second pass/);
});

test('options: vamc spellings, defaults and errors naming the option', () => {
  assert.deepEqual(resolveInt8Options({}).calibrate_mode, 'percentile');
  const o = resolveInt8Options({ quant_mode: 'max', quantize_per_channel: false });
  assert.equal(o.calibrate_mode, 'max');
  assert.equal(o.per_channel, false);
  assert.throws(() => resolveInt8Options({ calibrate_mode: 'entropy' }), /quantization\.calibrate_mode must be one of/);
  assert.throws(() => resolveInt8Options({ quant_mode: 'max', calibrate_mode: 'mse' }), /both set calibrate_mode/);
  assert.throws(() => resolveInt8Options({ per_chanel: true }), /unknown option 'per_chanel'/);
  assert.throws(() => resolveInt8Options({ calibration_count: 0 }), /calibration_count must be a positive integer/);
});

/** The Keras/TF export layout: x / 127.5 - 1, TF "SAME" padding, a 1x1 Conv classifier -> Flatten -> Identity. */
function kerasStyleModel(): Model {
  const m = buildMobileNetV2({ width: 0.25, inputSize: S, classes: 10, padding: 'tf-same' });
  const g = m.graph!;
  const fc = g.node!.findIndex((n) => n.opType === 'Gemm');
  const flat = g.node!.findIndex((n) => n.opType === 'Flatten');
  const w = g.initializer!.find((t) => t.name === 'fc.weight')!;
  w.dims = [Number(w.dims![0]), Number(w.dims![1]), 1, 1];
  g.node!.splice(flat, fc - flat + 1,
    node('Conv', ['pool', 'fc.weight', 'fc.bias'], ['fc.conv'], { kernel_shape: [1, 1] }, 'fc.conv'),
    node('Flatten', ['fc.conv'], ['fc.flat'], { axis: 1 }, 'fc.flatten'),
    node('Identity', ['fc.flat'], ['logits'], {}, 'fc.identity'),
  );
  return foldNormalization(m, PRESETS['keras']!.normalize);
}

async function logitSnr(a: Model, b: Model): Promise<number> {
  const held = tensorOf(images(8, 99));
  const x = (await (await createSession(encodeModel(a))).run({ image_u8: held })).logits!.data as Float32Array;
  const y = (await (await createSession(encodeModel(b))).run({ image_u8: held })).logits!.data as Float32Array;
  let s = 0;
  let n = 0;
  for (let k = 0; k < x.length; k++) {
    s += x[k]! ** 2;
    n += (x[k]! - y[k]!) ** 2;
  }
  return 10 * Math.log10(s / n);
}

test('Keras layout: the uint8 image feeds the first QLinearConv, the 1x1-Conv classifier runs as QGemm with float logits', async () => {
  const keras = kerasStyleModel();
  const q = await quantizeModel(keras, source, {}, quiet);
  const d = q.details as Record<string, any>;
  assert.equal(d['input_folded'].input, 'image_u8');
  assert.deepEqual(d['input_folded'].removed_nodes, ['normalize.cast', 'normalize.mul', 'normalize.sub']);
  assert.ok([127, 128].includes(d['input_folded'].zero_point)); // 127.5 is the centre: either is half a step off
  assert.ok(Math.abs(d['input_folded'].scale - 1 / 127.5) < 1e-9);
  // Padded pixels read 0.5/127.5 instead of 0: half an input step, and only on the border.
  assert.ok(d['input_folded'].max_pad_error <= (0.5 / 127.5) * 1.001);
  assert.equal(d['tensors']['input'].dequantized_from, 'image_u8');
  const ops = await optimizedOps(q.model);
  for (const op of [...FLOAT_COMPUTE, 'Cast', 'Mul', 'Sub', 'QuantizeLinear', 'DequantizeLinear']) {
    assert.equal(count(ops, op), 0, `${op} left in the optimized graph`);
  }
  assert.equal(count(ops, 'QLinearConv'), countSrc(keras, 'Conv') - 1); // the classifier Conv is a QGemm
  assert.equal(count(ops, 'QGemm'), 1);
  // The logits are QGemm's float output, not a uint8 tensor: no Q/DQ pair behind the classifier.
  const gemm = q.model.graph!.node!.find((n) => n.opType === 'Gemm')!;
  assert.deepEqual(gemm.output, ['logits']);
  assert.ok(!q.model.graph!.node!.some((n) => n.input!.includes('logits')));
  assert.ok((await logitSnr(keras, q.model)) > 12);
});

test('input folding is skipped where no single zero point keeps the padding exact (ImageNet mean/std)', async () => {
  const q = await quantizeModel(model, source, {}, quiet);
  assert.equal((q.details as Record<string, unknown>)['input_folded'], undefined);
  assert.ok(q.model.graph!.node!.some((n) => n.opType === 'Cast'));
});

test('the folded input computes the same float function (up to half a step on padded pixels)', () => {
  const keras = kerasStyleModel();
  const prepared = prepareGraph(keras);
  const convs = new Set(prepared.model.graph!.node!.filter((n) => n.opType === 'Conv').map((n) => n.name!));
  const before = prepareGraph(keras).model;
  const fold = foldInputNormalization(prepared, convs, new Set())!;
  assert.ok(fold);
  const stem = prepared.model.graph!.node!.find((n) => n.name === fold.convs[0])!;
  const inits = new Map(prepared.model.graph!.initializer!.map((t) => [t.name, t]));
  const orig = new Map(before.graph!.initializer!.map((t) => [t.name, t]));
  const origStem = before.graph!.node!.find((n) => n.name === fold.convs[0])!;
  // a = 1/127.5, Z = 127 or 128: weights unchanged (a / S = 1), bias += sum(W) * (Z/127.5 - 1).
  const w0 = tensorToFloat32(orig.get(origStem.input![1]!)!);
  const w1 = tensorToFloat32(inits.get(stem.input![1]!)!);
  for (let i = 0; i < w0.length; i++) assert.ok(Math.abs(w0[i]! - w1[i]!) <= 1e-6 * Math.abs(w0[i]!) + 1e-12);
  const b0 = tensorToFloat32(orig.get(origStem.input![2]!)!);
  const b1 = tensorToFloat32(inits.get(stem.input![2]!)!);
  const per = w0.length / b0.length;
  for (let o = 0; o < b0.length; o++) {
    let sum = 0;
    for (let k = 0; k < per; k++) sum += w0[o * per + k]!;
    assert.ok(Math.abs(b1[o]! - (b0[o]! + sum * (fold.zeroPoint / 127.5 - 1))) < 1e-5);
  }
});

test('static shape inference matches what ONNX Runtime computes (no probe session needed)', async () => {
  for (const m of [model, kerasStyleModel()]) {
    const prepared = prepareGraph(m);
    const tensors = calibratedTensors(planQuantization(prepared, resolveInt8Options({})));
    const feeds = { image_u8: tensorOf(images(2, 5)) };
    const probed = await probeShapes(prepared.model, tensors, feeds);
    const inferred = inferShapes(prepared.model.graph!, new Map([['image_u8', [1, 3, S, S]]]), tensors);
    assert.ok(inferred, 'every calibrated tensor has an inferred shape');
    for (const t of tensors) assert.deepEqual(inferred.get(t), probed.get(t), t);
  }
  // An op it does not know: undefined, and calibration falls back to ONNX Runtime.
  const odd = prepareGraph(model).model;
  odd.graph!.node!.find((n) => n.opType === 'GlobalAveragePool')!.opType = 'GlobalLpPool';
  assert.equal(inferShapes(odd.graph!, new Map([['image_u8', [1, 3, S, S]]]), ['pool']), undefined);
});

test('calibration taps run as soon as their tensor exists: tap groups are appended last-tensor-first', async () => {
  const prepared = prepareGraph(model);
  const tensors = calibratedTensors(planQuantization(prepared, resolveInt8Options({})));
  const shapes = await probeShapes(prepared.model, tensors, { image_u8: tensorOf(images(1, 5)) });
  const sampler = samplingModel(prepared.model, shapes, new Set());
  const taps = sampler.graph!.node!.slice(prepared.model.graph!.node!.length);
  const firstTap = (t: string) => taps.findIndex((n) => n.input![0] === t);
  // ONNX Runtime runs a depth-first search from the leaves, last leaf first: the earliest tensor's taps go last.
  for (let i = 1; i < tensors.length; i++) assert.ok(firstTap(tensors[i - 1]!) > firstTap(tensors[i]!), tensors[i]);
});

test('max calibration reads only the exact extremes: no samples, ranges are the observed [min, max]', async () => {
  const q = await quantizeModel(model, source, { calibrate_mode: 'max' }, quiet);
  const d = q.details as Record<string, any>;
  assert.equal(d['calibration'].samples_per_image, 0);
  assert.equal(d['calibration'].images, 16);
  for (const [name, t] of Object.entries(d['tensors'] as Record<string, any>)) {
    if (t.same_as) continue;
    const hi = t.folded_clip ? Math.min(t.observed[1], t.folded_clip[1]) : t.observed[1];
    assert.ok(Math.abs(t.range[1] - Math.max(0, hi)) < 1e-6, name);
    assert.ok(Math.abs(t.range[0] - Math.min(0, t.observed[0])) < 1e-6, name);
  }
  const pct = await quantizeModel(model, source, {}, quiet);
  assert.equal((pct.details as any).calibration.samples_per_image, 1024);
  const kl = await quantizeModel(model, source, { calibrate_mode: 'mse', calibration_count: 4 }, quiet);
  assert.equal((kl.details as any).calibration.samples_per_image, 2048);
  // The histogram methods read a clip-capped tensor's max from its sample; max reduces every tensor.
  assert.ok((kl.details as any).calibration.sampled_max_tensors > 0);
  assert.equal((pct.details as any).calibration.sampled_max_tensors, (kl.details as any).calibration.sampled_max_tensors);
  assert.equal(d['calibration'].sampled_max_tensors, 0);
  for (const t of Object.values((kl.details as any).tensors as Record<string, any>)) {
    if (t.folded_clip) assert.ok(t.range[1] <= t.folded_clip[1] && t.observed[1] <= t.folded_clip[1]);
  }
});

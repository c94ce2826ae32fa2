import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { architecture, buildMobileNetV2, convPads, makeDivisible } from '../../plugins/modelzoo/src/lib/onnx/mobilenetv2';
import { decodeModel, encodeModel } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { graphStats } from '../../plugins/modelzoo/src/lib/onnx/stats';

test('builtin x1.0 counts torchvision\'s 3,504,872 params and ~300 M MACs', () => {
  const s = graphStats(buildMobileNetV2({ width: 1.0 }));
  assert.equal(s.params, 3_504_872);
  assert.ok(s.macs > 299e6 && s.macs < 302e6, `MACs ${s.macs}`);
  assert.equal(s.macsComplete, true);
  assert.deepEqual(s.input.shape, ['N', 3, 224, 224]);
  assert.equal(s.classes, 1000);
});

test('width multipliers follow torchvision channel rounding', () => {
  assert.equal(makeDivisible(32 * 0.25), 8);
  assert.equal(makeDivisible(1280 * 1.5), 1920);
  const a = architecture({ width: 0.5, classes: 1000, rounding: 'torchvision' });
  assert.equal(a.convs[0]!.outC, 16);
  assert.equal(a.lastChannel, 1280);
  const p = architecture({ width: 0.25, classes: 1000, rounding: 'paddle' });
  assert.equal(p.convs[0]!.outC, 8);
  assert.equal(p.blocks.length, 17);
  assert.equal(p.blocks.filter((b) => b.residual).length, 10);
});

test('random-init weights are deterministic per seed and differ across seeds', () => {
  const a = encodeModel(buildMobileNetV2({ width: 0.25, inputSize: 64, classes: 10, seed: 1 }));
  const b = encodeModel(buildMobileNetV2({ width: 0.25, inputSize: 64, classes: 10, seed: 1 }));
  const c = encodeModel(buildMobileNetV2({ width: 0.25, inputSize: 64, classes: 10, seed: 2 }));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('TF SAME padding is asymmetric on stride-2 3x3 convs with even input', () => {
  assert.deepEqual(convPads(3, 2, 224, 'tf-same'), [0, 0, 1, 1]);
  assert.deepEqual(convPads(3, 2, 224, 'symmetric'), [1, 1, 1, 1]);
  assert.deepEqual(convPads(3, 1, 56, 'tf-same'), [1, 1, 1, 1]);
});

test('the built graph runs in ONNX Runtime for any input size and class count, with O(1) activations', async () => {
  for (const [size, classes] of [[96, 10], [160, 37]] as const) {
    const bytes = encodeModel(buildMobileNetV2({ width: 0.5, inputSize: size, classes }));
    const s = await ort.InferenceSession.create(bytes);
    const x = new Float32Array(2 * 3 * size * size).map((_, i) => Math.sin(i));
    const out = await s.run({ input: new ort.Tensor('float32', x, [2, 3, size, size]) });
    const logits = out['logits']!;
    assert.deepEqual(logits.dims, [2, classes]);
    const maxAbs = Math.max(...Array.from(logits.data as Float32Array).map(Math.abs));
    assert.ok(maxAbs > 1e-3 && Number.isFinite(maxAbs), `logit scale ${maxAbs}`);
    await s.release();
  }
});

test('graphStats rejects models that are not single-input image classifiers', () => {
  const m = decodeModel(encodeModel(buildMobileNetV2({ width: 0.25, inputSize: 64, classes: 10 })));
  m.graph!.output![0]!.type!.tensorType!.shape!.dim!.push({ dimValue: 3 });
  assert.throws(() => graphStats(m), /must be \[N, classes\]/);
  const two = decodeModel(encodeModel(buildMobileNetV2({ width: 0.25, inputSize: 64, classes: 10 })));
  two.graph!.input!.push({ ...two.graph!.input![0]!, name: 'second' });
  assert.throws(() => graphStats(two), /exactly one image input/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { buildMobileNetV2 } from '../../plugins/modelzoo/src/lib/onnx/mobilenetv2';
import { encodeModel } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { PRESETS } from '../../plugins/modelzoo/src/lib/preprocess/spec';
import { foldNormalization } from '../../plugins/modelzoo/src/lib/runtime/fold-normalization';

const size = 64;

async function run(model: Uint8Array, name: string, tensor: ort.Tensor): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(model);
  const out = await s.run({ [name]: tensor });
  await s.release();
  return out[s.outputNames[0]!]!.data as Float32Array;
}

for (const preset of ['torchvision', 'keras', 'mmcls'] as const) {
  test(`folded ${preset} normalization on uint8 equals normalizing by hand`, async () => {
    const spec = PRESETS[preset]!.normalize;
    const model = buildMobileNetV2({ width: 0.25, inputSize: size, classes: 10 });
    const u8 = new Uint8Array(3 * size * size).map((_, i) => (i * 37) % 256);
    const f32 = new Float32Array(u8.length);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < size * size; i++) {
        const k = c * size * size + i;
        f32[k] = (u8[k]! * spec.scale - spec.mean[c]!) / spec.std[c]!;
      }
    }
    const ref = await run(encodeModel(model), 'input', new ort.Tensor('float32', f32, [1, 3, size, size]));
    const folded = await run(encodeModel(foldNormalization(model, spec)), 'image_u8', new ort.Tensor('uint8', u8, [1, 3, size, size]));
    const maxDiff = Math.max(...Array.from(ref).map((v, i) => Math.abs(v - folded[i]!)));
    assert.ok(maxDiff < 1e-3, `max diff ${maxDiff}`);
  });
}

test('BGR channel order flips channels before normalizing', async () => {
  const spec = { ...PRESETS['torchvision']!.normalize, channelOrder: 'BGR' as const };
  const model = buildMobileNetV2({ width: 0.25, inputSize: size, classes: 10 });
  const rgb = new Uint8Array(3 * size * size).map((_, i) => (i * 13) % 256);
  const bgr = new Uint8Array(rgb.length);
  const plane = size * size;
  for (let c = 0; c < 3; c++) bgr.set(rgb.subarray((2 - c) * plane, (3 - c) * plane), c * plane);
  const rgbSpec = { ...spec, channelOrder: 'RGB' as const };
  // Flipping stored RGB inside the model must equal feeding pre-flipped data to the RGB model.
  const a = await run(encodeModel(foldNormalization(model, spec)), 'image_u8', new ort.Tensor('uint8', rgb, [1, 3, size, size]));
  // mean/std are given in the model's channel order, so they apply unchanged after the flip.
  const b = await run(encodeModel(foldNormalization(model, rgbSpec)), 'image_u8', new ort.Tensor('uint8', bgr, [1, 3, size, size]));
  assert.ok(Math.max(...Array.from(a).map((v, i) => Math.abs(v - b[i]!))) < 1e-4);
});

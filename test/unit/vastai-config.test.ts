import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../helpers/shared';
import { PRESETS, type PreprocessSpec } from '../../plugins/modelzoo/src/lib/preprocess/spec';
import { generateVamcConfig, vamcConfigToYaml, vamcModelPrefix, type VamcInput } from '../../plugins/modelzoo/src/lib/vastai/vamc-config';
import { validateVamcConfig, vamcConfigErrors } from '../../plugins/modelzoo/src/lib/vastai/vamc-schema';
import { generateVdspParams, parseVdspParams } from '../../plugins/modelzoo/src/lib/vastai/vdsp-params';

const base = (over: Partial<VamcInput> = {}): VamcInput => ({
  name: 'mobilenet_v2',
  checkpoint: '/models/model.onnx',
  inputShape: [1, 3, 224, 224],
  spec: PRESETS['torchvision']!,
  precision: 'int8',
  calibration: { path: './calibration', suffix: 'png', prepared: true },
  ...over,
});

test("unknown keys are rejected (the zoo's 'alibrate_mode' typo), in both generations", () => {
  const c25 = generateVamcConfig(base(), '2025') as any;
  c25.backend.quantize.alibrate_mode = 'percentile';
  assert.throws(() => validateVamcConfig(c25, '2025', 'x.yaml'), /x\.yaml is invalid.*backend\.quantize: unknown key 'alibrate_mode'/s);
  const c23 = generateVamcConfig(base(), '2023') as any;
  c23.engine.calibration.alibrate_mode = 'percentile';
  c23.dataset.transform_ops[1].sizee = 3;
  assert.deepEqual(vamcConfigErrors(c23, '2023').sort(), [
    "dataset.transform_ops.1: unknown key 'sizee'",
    "engine.calibration: unknown key 'alibrate_mode'",
  ]);
  // A 2023 config is not a 2025 one.
  assert.ok(vamcConfigErrors(generateVamcConfig(base(), '2023'), '2025').length > 0);
});

test('calibration options land under each generation\'s names; only explicit extras are written', () => {
  const q = { calibrate_mode: 'kl_divergence' as const, percentile: 0.9999, per_channel: false, exclude_layers: ['fc'], skip_conv_layers: [0], calibration_count: 200 };
  const c23 = generateVamcConfig(base({ quantization: q }), '2023') as any;
  assert.deepEqual(c23.engine.calibration, { quant_mode: 'kl_divergence', per_channel: false, percentile: 99.99, skip_conv_layers: [0], exclude_layers: ['fc'] });
  assert.equal(c23.dataset.sampler.get_data_num, 200);
  const c25 = generateVamcConfig(base({ quantization: q }), '2025') as any;
  assert.deepEqual(c25.backend.quantize, { calibrate_mode: 'kl_divergence', quantize_per_channel: false, percentile: 99.99, skip_conv_layers: [0], exclude_layers: ['fc'] });
  validateVamcConfig(c23, '2023');
  validateVamcConfig(c25, '2025');
  const plain = generateVamcConfig(base(), '2025') as any;
  assert.deepEqual(plain.backend.quantize, { calibrate_mode: 'percentile', quantize_per_channel: true });
  assert.throws(() => generateVamcConfig(base({ quantization: { calibration_count: 0 } }), '2025'), /calibration_count/);
});

test('fp16 builds: no quantization block; dtype and output paths per generation', () => {
  const c23 = generateVamcConfig(base({ precision: 'fp16' }), '2023') as any;
  assert.equal(c23.engine.common.do_quantization, false);
  assert.equal(c23.engine.calibration, undefined);
  assert.equal(vamcModelPrefix(c23, '2023'), path.join('deploy_weights', 'mobilenet_v2-fp16-3_224_224-vacc', 'mobilenet_v2'));
  const c25 = generateVamcConfig(base({ precision: 'fp16', extraSoftmax: true }), '2025') as any;
  assert.equal(c25.backend.dtype, 'fp16');
  assert.equal(c25.backend.quantize, undefined);
  assert.deepEqual(c25.graph, { extra_ops: { type: 'softmax' } });
  assert.equal(vamcModelPrefix(c25, '2025'), path.join('deploy_weights', 'mobilenet_v2_fp16', 'mod'));
  assert.equal(
    vamcModelPrefix(generateVamcConfig(base({ quantization: { calibrate_mode: 'max' } }), '2023'), '2023'),
    path.join('deploy_weights', 'mobilenet_v2-int8-max-3_224_224-vacc', 'mobilenet_v2'),
  );
  assert.throws(() => generateVamcConfig(base({ checkpoint: 'model.pt' }), '2025'), /must be \.onnx or \.h5/);
});

test('transform ops follow the spec: square vs shorter resize, BGR, scale folding', () => {
  const raw = { path: '/imagenet/calib', suffix: 'JPEG' };
  const square: PreprocessSpec = { ...PRESETS['mmcls']!, geometry: { ...PRESETS['mmcls']!.geometry, resize: 'square' } };
  const ops = (generateVamcConfig(base({ spec: square, calibration: raw }), '2023') as any).dataset.transform_ops;
  assert.deepEqual(ops[1], { type: 'Resize', size: [256, 256] });
  assert.deepEqual(ops[3], { type: 'Normalize', div255: false, mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] });
  const shorter = (generateVamcConfig(base({ calibration: raw }), '2025') as any).dataset.process_ops;
  assert.deepEqual(shorter[1], { type: 'Resize', size: 256 });
  const bgr: PreprocessSpec = { ...PRESETS['torchvision']!, normalize: { ...PRESETS['torchvision']!.normalize, channelOrder: 'BGR' } };
  const c = generateVamcConfig(base({ spec: bgr }), '2025') as any;
  assert.deepEqual(c.dataset.process_ops.map((o: any) => o.type), ['DecodeImage', 'CvtColor', 'Normalize', 'ToTensor']);
  validateVamcConfig(c, '2025');
  const vdsp = generateVdspParams(bgr, '2025', 224) as any;
  assert.equal(vdsp.OpConfig.ColorCvtCode, 'RGB2BGR');
  assert.equal((generateVdspParams(bgr, '2023') as any).config.find((p: any) => p.Property === 'color_cvt_code').Value, 'COLOR_RGB2BGR');
});

test('vdsp_params for prepared inputs do no geometry; both formats parse to the same request', () => {
  for (const preset of Object.keys(PRESETS)) {
    const spec = PRESETS[preset]!;
    const a = parseVdspParams(generateVdspParams(spec, '2023', 224), 'a');
    const b = parseVdspParams(generateVdspParams(spec, '2025', 224), 'b');
    assert.deepEqual({ ...a, generation: '' }, { ...b, generation: '' }, preset);
    assert.equal(a.resizeWidth, 224);
    assert.equal(a.cropX, 0);
    const zoo = parseVdspParams(generateVdspParams(spec, '2025'), 'zoo');
    assert.equal(zoo.inputWidth, 256);
    assert.equal(zoo.cropX, 16);
  }
  assert.throws(() => generateVdspParams(PRESETS['timm']!, '2025', 100), /input size 100 must be an integer >= the crop size 224/);
  assert.throws(() => parseVdspParams({ foo: 1 }, 'x.json'), /x\.json: neither a 2023/);
});

test('the vamc stand-in validates the YAML against the generation schema and exits non-zero', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vamc-standin-'));
  const cfg = generateVamcConfig(base({ checkpoint: path.join(dir, 'missing.onnx') }), '2025') as any;
  cfg.backend.quantize.alibrate_mode = 'max';
  fs.writeFileSync(path.join(dir, 'c.yaml'), vamcConfigToYaml(cfg));
  const vamc = path.join(REPO_ROOT, 'test', 'stand-ins', 'vamc');
  const r = spawnSync(vamc, ['compile', 'c.yaml'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /unknown key 'alibrate_mode'/);
  assert.match(r.stdout, /stand-in/);
  // A 2025 config given to the 2023 command is rejected too.
  delete cfg.backend.quantize.alibrate_mode;
  fs.writeFileSync(path.join(dir, 'c.yaml'), vamcConfigToYaml(cfg));
  assert.equal(spawnSync(vamc, ['build', 'c.yaml'], { cwd: dir, encoding: 'utf8' }).status, 1);
  assert.equal(spawnSync(vamc, ['frobnicate'], { cwd: dir, encoding: 'utf8' }).status, 2);
});

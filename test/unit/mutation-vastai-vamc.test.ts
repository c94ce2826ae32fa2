import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REFERENCE_DIR } from '../helpers/shared';
import { PRESETS, type PreprocessSpec } from '../../plugins/modelzoo/src/lib/preprocess/spec';
import {
  DEFAULT_CALIBRATE_MODE,
  DEFAULT_CALIBRATION_COUNT,
  DEFAULT_WORK_DIR,
  detectGeneration,
  generateVamcConfig,
  parseVamcYaml,
  transformOps,
  vamcConfigToYaml,
  vamcModelPrefix,
  type VamcInput,
} from '../../plugins/modelzoo/src/lib/vastai/vamc-config';

/** A spec unlike every preset: BGR, no div255 (scale 1), resize 8 / crop 5. */
const tiny: PreprocessSpec = {
  name: 'tiny',
  geometry: { resize: 'shorter', resizeSize: 8, interpolation: 'bilinear', backend: 'cv2', cropSize: 5 },
  normalize: { scale: 1, mean: [128, 64, 32], std: [2, 4, 0.5], channelOrder: 'BGR' },
};

const full: VamcInput = {
  name: 'net',
  checkpoint: '/m/net.onnx',
  inputName: 'data',
  inputShape: [2, 3, 5, 5],
  spec: tiny,
  precision: 'int8',
  quantization: { calibrate_mode: 'mse', percentile: 0.99999, per_channel: false, exclude_layers: ['fc', 'head'], skip_conv_layers: [1, 2], calibration_count: 7 },
  extraSoftmax: true,
  calibration: { path: '/cal', suffix: 'JPEG' },
  workDir: 'out/',
};

const plain: VamcInput = {
  name: 'mobilenet_v2',
  checkpoint: 'model.onnx',
  inputShape: [1, 3, 224, 224],
  spec: PRESETS['torchvision']!,
  precision: 'fp16',
  calibration: { path: 'calib', suffix: 'png', prepared: true },
};

/**
 * The parts of `full`'s YAML both generations write alike (at the same indentation): the input shape,
 * the layer lists, the dataset path and sampler, and the image ops (transform_ops / process_ops).
 */
const SHAPE = `      - 2
      - 3
      - 5
      - 5
`;
const LAYERS = `    skip_conv_layers:
      - 1
      - 2
    exclude_layers:
      - fc
      - head
`;
const DATASET = `  path: /cal
  sampler:
    suffix: JPEG
    get_data_num: 7
`;
const OPS = `    - type: DecodeImage
    - type: Resize
      size: 8
    - type: CenterCrop
      crop_size:
        - 5
        - 5
    - type: CvtColor
      code: RGB2BGR
    - type: Normalize
      div255: false
      mean:
        - 128
        - 64
        - 32
      std:
        - 2
        - 4
        - 0.5
    - type: ToTensor
`;

test('2023 build config, every option set: the exact YAML document', () => {
  // 0.99999 * 100 is 99.99900000000001 in binary; vamc gets 99.999.
  assert.equal(
    vamcConfigToYaml(generateVamcConfig(full, '2023')),
    `model:
  name: net
  inputs:
    data:
${SHAPE}  checkpoint: /m/net.onnx
engine:
  type: vacc
  common:
    do_quantization: true
  add_extra_ops_to_graph:
    type: softmax
  calibration:
    quant_mode: mse
    per_channel: false
    percentile: 99.999
${LAYERS}dataset:
${DATASET}  transform_ops:
${OPS}workspace:
  work_dir: out/
  enable_ir: false
  save_log: true
`,
  );
});

test('2025 compile config, every option set: the exact YAML document', () => {
  assert.equal(
    vamcConfigToYaml(generateVamcConfig(full, '2025')),
    `name: net_int8
frontend:
  shape:
    data:
${SHAPE}  type: onnx
  checkpoint: /m/net.onnx
  dtype: fp32
backend:
  type: tvm_vacc
  dtype: int8
  compile:
    cluster_mode: 0
  quantize:
    calibrate_mode: mse
    quantize_per_channel: false
    percentile: 99.999
${LAYERS}graph:
  extra_ops:
    type: softmax
dataset:
  type: tvm
${DATASET}  process_ops:
${OPS}workspace:
  path: out/
`,
  );
});

test('defaults: fp16, no softmax, prepared images, default input name, work dir and config name', () => {
  assert.deepStrictEqual(generateVamcConfig(plain, '2023'), {
    model: { name: 'mobilenet_v2', inputs: { input: [1, 3, 224, 224] }, checkpoint: 'model.onnx' },
    engine: { type: 'vacc', common: { do_quantization: false }, add_extra_ops_to_graph: { type: null } },
    dataset: {
      path: 'calib',
      sampler: { suffix: 'png', get_data_num: 1000 },
      transform_ops: [{ type: 'DecodeImage' }, { type: 'Normalize', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }, { type: 'ToTensor' }],
    },
    workspace: { work_dir: './deploy_weights/', enable_ir: false, save_log: true },
  });
  assert.deepStrictEqual(generateVamcConfig(plain, '2025'), {
    name: 'mobilenet_v2_fp16',
    frontend: { shape: { input: [1, 3, 224, 224] }, type: 'onnx', checkpoint: 'model.onnx', dtype: 'fp32' },
    backend: { type: 'tvm_vacc', dtype: 'fp16', compile: { cluster_mode: 0 } },
    dataset: {
      type: 'tvm',
      path: 'calib',
      sampler: { suffix: 'png', get_data_num: 1000 },
      process_ops: [{ type: 'DecodeImage' }, { type: 'Normalize', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }, { type: 'ToTensor' }],
    },
    workspace: { path: './deploy_weights/' },
  });
  assert.match(vamcConfigToYaml(generateVamcConfig(plain, '2023')), /\n {2}add_extra_ops_to_graph:\n {4}type: null\n/);
  assert.deepEqual([DEFAULT_CALIBRATE_MODE, DEFAULT_CALIBRATION_COUNT, DEFAULT_WORK_DIR], ['percentile', 1000, './deploy_weights/']);
  // An explicit config name wins; a Keras .h5 (any case) is the keras frontend.
  const k = generateVamcConfig({ ...plain, configName: 'mine', checkpoint: 'w/Model.H5' }, '2025') as { name: string; frontend: { type: string } };
  assert.deepEqual([k.name, k.frontend.type], ['mine', 'keras']);
  assert.equal((generateVamcConfig({ ...plain, checkpoint: 'w/m.ONNX' }, '2025') as { frontend: { type: string } }).frontend.type, 'onnx');
  // The 2023 build has no frontend type: any checkpoint name goes through.
  assert.equal((generateVamcConfig({ ...plain, checkpoint: 'w/m.pt' }, '2023') as { model: { checkpoint: string } }).model.checkpoint, 'w/m.pt');
  // extraSoftmax false writes no graph block in 2025.
  assert.equal('graph' in generateVamcConfig({ ...plain, extraSoftmax: false }, '2025'), false);
});

test('int8 with no quantization options: the default calibration block in each generation', () => {
  const c23 = generateVamcConfig({ ...plain, precision: 'int8' }, '2023') as { engine: Record<string, unknown> };
  assert.deepStrictEqual(c23.engine, { type: 'vacc', common: { do_quantization: true }, add_extra_ops_to_graph: { type: null }, calibration: { quant_mode: 'percentile', per_channel: true } });
  const c25 = generateVamcConfig({ ...plain, precision: 'int8', quantization: { skip_conv_layers: [], exclude_layers: [] } }, '2025') as { backend: Record<string, unknown> };
  assert.deepStrictEqual(c25.backend, { type: 'tvm_vacc', dtype: 'int8', compile: { cluster_mode: 0 }, quantize: { calibrate_mode: 'percentile', quantize_per_channel: true } });
  // The layer lists are copies: changing the options later does not change the config.
  const q = { exclude_layers: ['a'], skip_conv_layers: [3] };
  const c = generateVamcConfig({ ...plain, precision: 'int8', quantization: q }, '2025') as { backend: { quantize: { exclude_layers: string[]; skip_conv_layers: number[] } } };
  q.exclude_layers.push('b');
  q.skip_conv_layers.push(4);
  assert.deepEqual([c.backend.quantize.exclude_layers, c.backend.quantize.skip_conv_layers], [['a'], [3]]);
});

test('percentile: a fraction becomes a percentage (1 -> 100), a percentage is kept; bounds (0.5, 100]', () => {
  const pct = (percentile: number) =>
    (generateVamcConfig({ ...plain, precision: 'int8', quantization: { percentile } }, '2025') as { backend: { quantize: { percentile: number } } }).backend.quantize.percentile;
  assert.equal(pct(1), 100);
  assert.equal(pct(0.9), 90);
  assert.equal(pct(0.99999), 99.999);
  assert.equal(pct(0.50001), 50.001);
  assert.equal(pct(1.5), 1.5);
  assert.equal(pct(99.99), 99.99);
  assert.equal(pct(100), 100);
  for (const bad of [0.5, 0.4, 0, -1, 100.5, NaN]) {
    assert.throws(() => pct(bad), (e: Error) => e.message === `vamc: quantization.percentile must be a fraction in (0.5, 1] or a percentage, got ${bad}`, String(bad));
  }
  const count = (calibration_count: number) => generateVamcConfig({ ...plain, quantization: { calibration_count } }, '2023') as { dataset: { sampler: { get_data_num: number } } };
  assert.equal(count(1).dataset.sampler.get_data_num, 1);
  for (const bad of [0, -3, 2.5, NaN]) {
    assert.throws(() => count(bad), (e: Error) => e.message === `vamc: quantization.calibration_count must be a positive integer, got ${bad}`, String(bad));
  }
});

test('input shape and checkpoint errors name the value', () => {
  for (const inputShape of [[1, 3, 224], [1, 3, 224, 224, 1], [0, 3, 224, 224], [1, 3, 224.5, 224], [1, -3, 224, 224]]) {
    assert.throws(
      () => generateVamcConfig({ ...plain, inputShape }, '2023'),
      (e: Error) => e.message === `vamc: inputShape must be [N, C, H, W] positive integers, got [${inputShape.join(',')}]`,
      String(inputShape),
    );
  }
  assert.throws(() => generateVamcConfig({ ...plain, checkpoint: 'w/model.pt' }, '2025'), (e: Error) => e.message === "vamc: checkpoint w/model.pt must be .onnx or .h5 (got '.pt')");
  assert.throws(() => generateVamcConfig({ ...plain, checkpoint: 'w/model' }, '2025'), (e: Error) => e.message === "vamc: checkpoint w/model must be .onnx or .h5 (got 'no extension')");
});

test('transformOps: square resize is a pair, shorter an int; div255 form has no div255 key; prepared drops geometry', () => {
  const square: PreprocessSpec = { ...tiny, geometry: { ...tiny.geometry, resize: 'square' }, normalize: { ...PRESETS['ppcls']!.normalize } };
  assert.deepStrictEqual(transformOps(square, false), [
    { type: 'DecodeImage' },
    { type: 'Resize', size: [8, 8] },
    { type: 'CenterCrop', crop_size: [5, 5] },
    { type: 'Normalize', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    { type: 'ToTensor' },
  ]);
  assert.deepStrictEqual(transformOps(tiny, true), [
    { type: 'DecodeImage' },
    { type: 'CvtColor', code: 'RGB2BGR' },
    { type: 'Normalize', div255: false, mean: [128, 64, 32], std: [2, 4, 0.5] },
    { type: 'ToTensor' },
  ]);
  // Keras' x / 127.5 - 1 folds into mean 127.5, std 127.5 without div255.
  assert.deepStrictEqual(transformOps(PRESETS['keras']!, true)[1], { type: 'Normalize', div255: false, mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] });
});

test('YAML: long strings are never folded; parse errors name the file', () => {
  // The yaml library folds plain scalars at spaces past 80 columns by default; vamc would read the
  // folded text back the same, but a reader of the file would not see one path per line.
  const long = Array(30).fill('word').join(' ');
  assert.equal(vamcConfigToYaml({ path: long, list: [1] }), `path: ${long}\nlist:\n  - 1\n`);
  assert.deepEqual(parseVamcYaml('a:\n  - 1\n  - b\n', 'c.yaml'), { a: [1, 'b'] });
  assert.throws(() => parseVamcYaml('a: [1\n', 'dir/c.yaml'), (e: Error) => e.message.startsWith('dir/c.yaml: invalid YAML: ') && e.message.length > 'dir/c.yaml: invalid YAML: '.length);
});

test('detectGeneration: 2025 by frontend or backend, 2023 by model or engine, else undefined', () => {
  assert.equal(detectGeneration({ frontend: {} }), '2025');
  assert.equal(detectGeneration({ backend: {} }), '2025');
  assert.equal(detectGeneration({ model: {}, backend: {} }), '2025');
  assert.equal(detectGeneration({ model: {} }), '2023');
  assert.equal(detectGeneration({ engine: {} }), '2023');
  for (const v of [{}, { name: 'x', dataset: {} }, null, undefined, 'frontend', 7, false]) assert.equal(detectGeneration(v), undefined, String(v));
});

test('vamcModelPrefix: 2023 <work_dir>/<name>-<int8-mode|fp16>-<C_H_W>-vacc/<name>, 2025 <path>/<name>/mod', () => {
  assert.equal(vamcModelPrefix(generateVamcConfig(full, '2023'), '2023'), path.join('out', 'net-int8-mse-3_5_5-vacc', 'net'));
  assert.equal(vamcModelPrefix(generateVamcConfig(full, '2025'), '2025'), path.join('out', 'net_int8', 'mod'));
  // int8 with no calibration block: vamc's default mode names the directory.
  const bare = { model: { name: 'm', inputs: { x: [1, 3, 4, 6] } }, engine: { common: { do_quantization: true } }, workspace: { work_dir: 'w' } };
  assert.equal(vamcModelPrefix(bare, '2023'), path.join('w', 'm-int8-percentile-3_4_6-vacc', 'm'));
  assert.equal(vamcModelPrefix({ ...bare, engine: { common: { do_quantization: false }, calibration: { quant_mode: 'max' } } }, '2023'), path.join('w', 'm-fp16-3_4_6-vacc', 'm'));
  assert.equal(vamcModelPrefix({ ...bare, engine: { common: { do_quantization: true }, calibration: {} } }, '2023'), path.join('w', 'm-int8-percentile-3_4_6-vacc', 'm'));
});

const ZOO = path.join(REFERENCE_DIR, 'vastmodelzoo');
const skip = fs.existsSync(ZOO) ? false : `reference configs not found at ${ZOO}`;

test("the zoo's real YAML configs: generation detected, model prefix where vamc writes it", { skip }, () => {
  const read = (rel: string) => parseVamcYaml(fs.readFileSync(path.join(ZOO, rel), 'utf8'), rel) as Record<string, unknown>;
  const c23 = read('2023/torchvision_mobilenetv2.yaml');
  assert.equal(detectGeneration(c23), '2023');
  assert.equal(vamcModelPrefix(c23, '2023'), path.join('deploy_weights', 'mobilenet_v2-int8-percentile-3_224_224-vacc', 'mobilenet_v2'));
  const c25 = read('2025/torchvision_mobilenetv2.yaml');
  assert.equal(detectGeneration(c25), '2025');
  assert.equal(vamcModelPrefix(c25, '2025'), path.join('deploy_weights', 'torchvision_mobilenetv2_int8', 'mod'));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import vamcBuild from '../../plugins/modelzoo/src/executors/vamc-build/executor';
import vampBench from '../../plugins/modelzoo/src/executors/vamp-bench/executor';
import vampEval from '../../plugins/modelzoo/src/executors/vamp-eval/executor';
import datasetPrepSchema from '../../plugins/modelzoo/src/executors/dataset-prep/schema.json';
import vamcBuildSchema from '../../plugins/modelzoo/src/executors/vamc-build/schema.json';
import vampBenchSchema from '../../plugins/modelzoo/src/executors/vamp-bench/schema.json';
import vampEvalSchema from '../../plugins/modelzoo/src/executors/vamp-eval/schema.json';
import { validateOptions } from '../../plugins/modelzoo/src/lib/common/options';
import { variantProject } from '../../plugins/modelzoo/src/lib/nx/variant-project';
import { VASTAI_CONFIGURATION, vastaiDatasetConfiguration, vastaiOutputPath } from '../../plugins/modelzoo/src/lib/nx/vastai-configuration';
import { NPZ_FORMAT_SCHEMA, VASTAI_OPTIONS_SCHEMA } from '../../plugins/modelzoo/src/lib/vastai/options-schema';
import { vamcQuantization } from '../../plugins/modelzoo/src/lib/vastai/stages';
import { captureStderr, executorContext } from '../helpers/executor-context';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'executors-vastai-'));
const context = (target: string) => executorContext(root, target);

test('the schema.json files carry the vastai library\'s option schemas unchanged', () => {
  const schemas = { 'vamc-build': vamcBuildSchema, 'vamp-bench': vampBenchSchema, 'vamp-eval': vampEvalSchema } as const;
  for (const [name, schema] of Object.entries(schemas)) {
    const props = schema.properties as Record<string, any>;
    assert.deepEqual(props['backend'].enum, ['onnxruntime', 'vastai'], name);
    const { description: _d, ...vastai } = props['vastai'];
    assert.deepEqual(vastai, JSON.parse(JSON.stringify(VASTAI_OPTIONS_SCHEMA[name as keyof typeof VASTAI_OPTIONS_SCHEMA])), `${name}: schema.json drifted from options-schema.ts`);
  }
  assert.deepEqual((datasetPrepSchema.properties as any).format, JSON.parse(JSON.stringify(NPZ_FORMAT_SCHEMA.format)));
});

test('unknown or mistyped vastai options are rejected with project:target and the option path', () => {
  const where = { project: 'p', target: 'vamp-bench' };
  assert.throws(
    () => validateOptions(vampBenchSchema, { backend: 'vastai', models: ['m'], outputPath: 'o', vastai: { vampPth: '/x' } }, where),
    /Invalid options for p:vamp-bench:[\s\S]*unknown option 'vastai\.vampPth'/,
  );
  assert.throws(
    () => validateOptions(vamcBuildSchema, { backend: 'vastai', model: 'm', dataset: 'd', preprocess: 'timm', outputPath: 'o', vastai: { generation: '2024' } }, where),
    /option 'vastai\.generation' must be one of \["2023","2025"\]/,
  );
  assert.throws(() => validateOptions(vampEvalSchema, { backend: 'tensorrt', model: 'm', dataset: 'd', outputPath: 'o' }, where), /option 'backend' must be one of/);
  // Defaults of the vastai object are applied; batch/instances fall back to the target's own options.
  const ok = validateOptions<any>(vamcBuildSchema, { backend: 'vastai', model: 'm', dataset: 'd', preprocess: 'timm', outputPath: 'o', vastai: {} }, where);
  assert.equal(ok.vastai.generation, '2025');
  const bench = validateOptions<any>(vampBenchSchema, { backend: 'vastai', models: ['m'], outputPath: 'o', vastai: {} }, where);
  assert.equal(bench.vastai.batch, undefined);
  assert.equal(bench.vastai.processes, 1);
});

test('a vastai object without backend: vastai is an error, not a silent onnxruntime run', async () => {
  let result: { success: boolean } | undefined;
  const err = await captureStderr(async () => {
    result = await vampBench({ models: ['m'], outputPath: 'out/b', vastai: { instances: 2 } } as any, context('vamp-bench'));
  });
  assert.equal(result!.success, false);
  assert.match(err, /mobilenetv2-test:vamp-bench.*option 'vastai' is set but option 'backend' is 'onnxruntime'/);
  assert.ok(!fs.existsSync(path.join(root, 'out/b')));
});

test('vastai stages refuse an onnxruntime build and missing npz inputs, naming the fix', async () => {
  const build = path.join(root, 'ort-build');
  fs.mkdirSync(build, { recursive: true });
  fs.writeFileSync(path.join(build, 'build.json'), JSON.stringify({ backend: 'onnxruntime', precision: 'fp32' }));
  let result: { success: boolean } | undefined;
  let err = await captureStderr(async () => {
    result = await vampEval({ backend: 'vastai', model: 'ort-build', dataset: 'nowhere', outputPath: 'out/e' } as any, context('vamp-eval'));
  });
  assert.equal(result!.success, false);
  assert.match(err, /built with backend 'onnxruntime'.*-c vastai/);
  fs.writeFileSync(path.join(build, 'build.json'), JSON.stringify({ backend: 'vastai', precision: 'fp16', details: { modelPrefix: 'x/mod', vdspParams: 'vdsp_params.json' } }));
  err = await captureStderr(async () => {
    result = await vampEval({ backend: 'vastai', model: 'ort-build', dataset: 'nowhere', outputPath: 'out/e' } as any, context('vamp-eval'));
  });
  assert.equal(result!.success, false);
  assert.match(err, /no npz inputs at .*nowhere\/npz.*format: 'npz'/);
  assert.ok(!fs.existsSync(path.join(root, 'out/e')));
});

test('vamc-build with backend vastai and no vamc anywhere names the option and the variable', async () => {
  const saved = { VAMC_PATH: process.env['VAMC_PATH'], PATH: process.env['PATH'] };
  const exportDir = path.join(root, 'export');
  fs.mkdirSync(exportDir, { recursive: true });
  fs.writeFileSync(path.join(exportDir, 'model-card.json'), JSON.stringify({ input: { name: 'image', shape: ['N', 3, 224, 224] }, sha256: require('node:crypto').createHash('sha256').update('not really').digest('hex'), weights: 'random-init' }));
  fs.writeFileSync(path.join(exportDir, 'model.onnx'), 'not really');
  const ds = path.join(root, 'ds');
  fs.mkdirSync(ds, { recursive: true });
  const { PRESETS } = await import('../../plugins/modelzoo/src/lib/preprocess/spec');
  fs.writeFileSync(path.join(ds, 'manifest.json'), JSON.stringify({ geometry: PRESETS['timm']!.geometry, shape: [3, 224, 224] }));
  fs.writeFileSync(path.join(ds, 'geometry.json'), JSON.stringify({ geometry: PRESETS['timm']!.geometry, shape: [3, 224, 224] }));
  delete process.env['VAMC_PATH'];
  process.env['PATH'] = path.join(root, 'empty-bin');
  let result: { success: boolean } | undefined;
  try {
    const err = await captureStderr(async () => {
      result = await vamcBuild(
        { backend: 'vastai', model: 'export', dataset: 'ds', preprocess: 'timm', outputPath: 'out/v', vastai: {} } as any,
        context('vamc-build'),
      );
    });
    assert.equal(result!.success, false);
    assert.match(err, /vamc not found: set the vastai\.vamcPath option or the VAMC_PATH environment variable/);
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  assert.ok(!fs.existsSync(path.join(root, 'out/v')));
});

test("every variant target has a 'vastai' configuration whose outputs never share a folder with onnxruntime's", () => {
  const p = variantProject({ model: 'mobilenetv2', row: 'timm', preprocess: 'timm', width: 1 }, 'models/mobilenetv2/timm') as any;
  const outputs = new Set<string>();
  for (const [name, t] of Object.entries<any>(p.targets)) {
    outputs.add(t.options.outputPath);
    if (name === 'onnx-export') {
      assert.equal(t.configurations, undefined, 'the export is shared by both backends');
      continue;
    }
    const c = t.configurations[VASTAI_CONFIGURATION];
    assert.equal(c.backend, 'vastai', name);
    assert.ok(c.vastai, name);
    assert.equal(c.outputPath, vastaiOutputPath(t.options.outputPath));
    assert.ok(!outputs.has(c.outputPath), `${name}: ${c.outputPath}`);
    if (t.options.dataset) assert.match(c.dataset, /\/vastai\//, `${name} reads the npz-prepared dataset`);
    if (name.startsWith('vamp-eval')) assert.equal(c.model, vastaiOutputPath(t.options.model), `${name} reads the vastai build`);
    if (name === 'vamp-bench') assert.deepEqual(c.models, t.options.models.map(vastaiOutputPath), 'the vastai pair: both vastai builds');
  }
  assert.equal(p.targets['vamc-build'].configurations.vastai.model, undefined, 'vamc-build compiles the shared export');
  assert.equal(vastaiOutputPath('dist/models/m/row/build-int8'), 'dist/models/m/row/vastai/build-int8');
  assert.deepEqual(vastaiDatasetConfiguration('dist/datasets/imagenet-val/pil-bicubic'), {
    format: 'npz',
    outputPath: 'dist/datasets/imagenet-val/vastai/pil-bicubic',
  });
});

test('the inferred imagenet-val project has the matching npz configuration on every dataset-prep target', async () => {
  const { datasetPrepTargets } = await import('../../plugins/modelzoo/src/lib/nx/inferred');
  const targets = datasetPrepTargets(['torchvision', 'timm', 'mmcls', 'keras', 'ppcls']);
  assert.equal(Object.keys(targets).length, 3);
  for (const t of Object.values<any>(targets)) {
    assert.deepEqual(t.configurations?.vastai, vastaiDatasetConfiguration(t.options.outputPath));
  }
});

test('quantization options map to vamc names; onnxruntime-only ones are dropped', () => {
  assert.deepEqual(
    vamcQuantization({ quant_mode: 'max', percentile: 0.9999, quantize_per_channel: false, exclude_layers: [], skip_conv_layers: [2], calibration_count: 8, activation_type: 'uint8', sensitivity: true }),
    { calibrate_mode: 'max', per_channel: false, skip_conv_layers: [2], calibration_count: 8 },
  );
  assert.deepEqual(vamcQuantization({ calibrate_mode: 'percentile', percentile: 0.99999, per_channel: true }), {
    calibrate_mode: 'percentile',
    percentile: 0.99999,
    per_channel: true,
  });
});

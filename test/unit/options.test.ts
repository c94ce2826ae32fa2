import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateOptions } from '../../plugins/modelzoo/src/lib/common/options';
import buildSchema from '../../plugins/modelzoo/src/executors/vamc-build/schema.json';
import benchSchema from '../../plugins/modelzoo/src/executors/vamp-bench/schema.json';

const where = { project: 'mobilenetv2-timm', target: 'vamc-build' };

test('unknown options are rejected with project, target and option named', () => {
  assert.throws(
    () => validateOptions(buildSchema, { model: 'm', dataset: 'd', preprocess: 'timm', outputPath: 'o', precison: 'int8' }, where),
    (e: Error) => /mobilenetv2-timm:vamc-build/.test(e.message) && /unknown option 'precison'/.test(e.message),
  );
  assert.throws(
    () =>
      validateOptions(
        buildSchema,
        { model: 'm', dataset: 'd', preprocess: 'timm', outputPath: 'o', quantization: { alibrate_mode: 'max' } },
        where,
      ),
    /unknown option 'quantization.alibrate_mode'/,
  );
});

test('enum and type errors name the option', () => {
  assert.throws(
    () => validateOptions(buildSchema, { model: 'm', dataset: 'd', preprocess: 'timm', outputPath: 'o', precision: 'int4' }, where),
    /option 'precision' must be one of \["fp32","int8"\]/,
  );
  assert.throws(() => validateOptions(benchSchema, { model: 'm', outputPath: 'o', batch: 0 }, where), /option 'batch'/);
});

test('defaults from schema.json are applied, including nested quantization defaults', () => {
  const o = validateOptions<Record<string, any>>(
    buildSchema,
    { model: 'm', dataset: 'd', preprocess: 'timm', outputPath: 'o', precision: 'int8', quantization: {} },
    where,
  );
  assert.equal(o['backend'], 'onnxruntime');
  assert.equal(o['quantization'].calibrate_mode, 'percentile');
  assert.equal(o['quantization'].per_channel, true);
});

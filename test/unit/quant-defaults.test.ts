import { test } from 'node:test';
import assert from 'node:assert/strict';
import buildSchema from '../../plugins/modelzoo/src/executors/vamc-build/schema.json';
import { DEFAULT_INT8_OPTIONS, INT8_OPTIONS_SCHEMA, resolveInt8Options } from '../../plugins/modelzoo/src/lib/quant/options';

// The int8 defaults decide every published int8 figure; a changed default must be a deliberate,
// reviewed change of this test, never a silent drift.
test('the int8 defaults are pinned (percentile 0.99999, per-channel, uint8 activations, 1000 images)', () => {
  assert.deepEqual(DEFAULT_INT8_OPTIONS, {
    calibrate_mode: 'percentile',
    percentile: 0.99999,
    per_channel: true,
    exclude_layers: [],
    skip_conv_layers: [],
    calibration_count: 1000,
    activation_type: 'uint8',
    sensitivity: false,
  });
  assert.equal(resolveInt8Options({}).percentile, 0.99999);
  assert.equal(resolveInt8Options({}).calibrate_mode, 'percentile');
});

test("vamc-build's schema.json defaults equal the library's int8 defaults", () => {
  const q = (buildSchema as any).properties.quantization;
  assert.ok(q, 'vamc-build schema has a quantization object');
  for (const [key, prop] of Object.entries(INT8_OPTIONS_SCHEMA.properties) as [string, any][]) {
    assert.deepEqual(q.properties[key]?.default, prop.default, `quantization.${key}: schema.json default differs from options.ts`);
  }
  assert.equal(q.properties.percentile.default, 0.99999);
  assert.equal(q.properties.percentile.default, DEFAULT_INT8_OPTIONS.percentile);
  assert.equal(q.properties.calibrate_mode.default, DEFAULT_INT8_OPTIONS.calibrate_mode);
});

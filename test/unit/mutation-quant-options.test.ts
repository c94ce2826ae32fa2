import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CALIBRATE_MODES, DEFAULT_INT8_OPTIONS, INT8_OPTIONS_SCHEMA, resolveInt8Options } from '../../plugins/modelzoo/src/lib/quant/options';

// resolveInt8Options is the only gate between a user's `quantization` block and the int8 build: every
// accepted spelling and every refusal message is pinned here (quant.test.ts runs whole-model builds).
test('every option is accepted with its value; aliases map to their 2025 names; undefined is skipped', () => {
  const o = resolveInt8Options({
    calibrate_mode: 'kl_divergence',
    percentile: 0.9999,
    per_channel: false,
    exclude_layers: ['a', 'b'],
    skip_conv_layers: [0, 3],
    calibration_count: 7,
    activation_type: 'int8',
    sensitivity: true,
    quant_mode: undefined,
  });
  assert.deepEqual(o, {
    calibrate_mode: 'kl_divergence', percentile: 0.9999, per_channel: false, exclude_layers: ['a', 'b'],
    skip_conv_layers: [0, 3], calibration_count: 7, activation_type: 'int8', sensitivity: true,
  });
  assert.deepEqual(resolveInt8Options({ quant_mode: 'mse', quantize_per_channel: false }), { ...DEFAULT_INT8_OPTIONS, calibrate_mode: 'mse', per_channel: false });
  for (const m of CALIBRATE_MODES) assert.equal(resolveInt8Options({ calibrate_mode: m }).calibrate_mode, m);
  assert.deepEqual(CALIBRATE_MODES, ['percentile', 'max', 'kl_divergence', 'mse']);
  assert.equal(resolveInt8Options({ activation_type: 'uint8' }).activation_type, 'uint8');
  assert.equal(resolveInt8Options({ sensitivity: false }).sensitivity, false);
  assert.equal(resolveInt8Options({ per_channel: true }).per_channel, true);
  assert.deepEqual(resolveInt8Options(), DEFAULT_INT8_OPTIONS);
});

test('list options are copied, never shared with the defaults or the caller', () => {
  const layers = ['x'];
  const o = resolveInt8Options({ exclude_layers: layers, skip_conv_layers: [1] });
  layers.push('y');
  assert.deepEqual(o.exclude_layers, ['x']);
  const d = resolveInt8Options({});
  d.exclude_layers.push('z');
  d.skip_conv_layers.push(9);
  assert.deepEqual(DEFAULT_INT8_OPTIONS.exclude_layers, []);
  assert.deepEqual(DEFAULT_INT8_OPTIONS.skip_conv_layers, []);
});

test('percentiles: a fraction in (0.5, 1], or a percentage (vamc style) divided by 100 without float noise', () => {
  assert.equal(resolveInt8Options({ percentile: 99.999 }).percentile, 0.99999);
  assert.equal(resolveInt8Options({ percentile: 99.99 }).percentile, 0.9999);
  assert.equal(resolveInt8Options({ percentile: 100 }).percentile, 1);
  assert.equal(resolveInt8Options({ percentile: 1 }).percentile, 1);
  assert.equal(resolveInt8Options({ percentile: 0.51 }).percentile, 0.51);
  for (const bad of [0.5, 0.2, 0, -1, 100.5, 1000, '0.99', '99.9', null, NaN]) {
    assert.throws(() => resolveInt8Options({ percentile: bad }), (e: Error) => e.message === `quantization.percentile must be a fraction in (0.5, 1] (or a percentage), got ${JSON.stringify(bad)}`, String(bad));
  }
});

test('each wrong type is refused with the option, the expectation and the value', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ calibrate_mode: 'entropy' }, `quantization.calibrate_mode must be one of percentile, max, kl_divergence, mse, got "entropy"`],
    [{ calibrate_mode: 3 }, `quantization.calibrate_mode must be one of percentile, max, kl_divergence, mse, got 3`],
    [{ quant_mode: 'x' }, `quantization.quant_mode must be one of percentile, max, kl_divergence, mse, got "x"`],
    [{ per_channel: 'yes' }, `quantization.per_channel must be true or false, got "yes"`],
    [{ sensitivity: 1 }, `quantization.sensitivity must be true or false, got 1`],
    [{ exclude_layers: 'fc' }, `quantization.exclude_layers must be a list of node names, got "fc"`],
    [{ exclude_layers: ['fc', 1] }, `quantization.exclude_layers must be a list of node names, got ["fc",1]`],
    [{ skip_conv_layers: 2 }, `quantization.skip_conv_layers must be a list of Conv indices (integers >= 0), got 2`],
    [{ skip_conv_layers: [1, -1] }, `quantization.skip_conv_layers must be a list of Conv indices (integers >= 0), got [1,-1]`],
    [{ skip_conv_layers: [1.5] }, `quantization.skip_conv_layers must be a list of Conv indices (integers >= 0), got [1.5]`],
    [{ calibration_count: 0 }, `quantization.calibration_count must be a positive integer, got 0`],
    [{ calibration_count: 2.5 }, `quantization.calibration_count must be a positive integer, got 2.5`],
    [{ activation_type: 'fp16' }, `quantization.activation_type must be 'uint8' or 'int8', got "fp16"`],
  ];
  for (const [raw, msg] of cases) assert.throws(() => resolveInt8Options(raw), (e: Error) => e.message === msg, msg);
  assert.equal(resolveInt8Options({ skip_conv_layers: [0] }).skip_conv_layers[0], 0);
  assert.equal(resolveInt8Options({ calibration_count: 1 }).calibration_count, 1);
});

test('unknown keys and double spellings name the option and where it came from', () => {
  assert.throws(
    () => resolveInt8Options({ per_chanel: true }, 'vamc-build.quantization'),
    (e: Error) =>
      e.message ===
      "vamc-build.quantization: unknown option 'per_chanel' (known: calibrate_mode, percentile, per_channel, exclude_layers, skip_conv_layers, calibration_count, activation_type, sensitivity, quant_mode, quantize_per_channel)",
  );
  assert.throws(() => resolveInt8Options({ quant_mode: 'max', calibrate_mode: 'mse' }), (e: Error) => e.message === "quantization: 'calibrate_mode' and 'quant_mode' both set calibrate_mode: keep one");
  assert.throws(() => resolveInt8Options({ per_channel: true, quantize_per_channel: true }), (e: Error) => e.message === "quantization: 'quantize_per_channel' and 'per_channel' both set per_channel: keep one");
  assert.throws(() => resolveInt8Options({ toString: 1 }), /unknown option 'toString'/);
});

test('the schema fragment: enums, bounds and defaults match the resolver', () => {
  const p = INT8_OPTIONS_SCHEMA.properties;
  assert.equal(INT8_OPTIONS_SCHEMA.additionalProperties, false);
  assert.deepEqual(p.calibrate_mode.enum, [...CALIBRATE_MODES]);
  assert.deepEqual(p.quant_mode.enum, [...CALIBRATE_MODES]);
  assert.equal(p.percentile.exclusiveMinimum, 0.5);
  assert.equal(p.percentile.maximum, 1);
  assert.equal(p.calibration_count.minimum, 1);
  assert.equal(p.skip_conv_layers.items.minimum, 0);
  assert.deepEqual(p.activation_type.enum, ['uint8', 'int8']);
  assert.deepEqual(p.exclude_layers.default, []);
  assert.deepEqual(p.skip_conv_layers.default, []);
  for (const k of ['per_channel', 'calibration_count', 'activation_type', 'sensitivity'] as const) assert.equal(p[k].default, DEFAULT_INT8_OPTIONS[k]);
});

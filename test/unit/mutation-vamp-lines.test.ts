import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVampOutput, vampReportToBench } from '../../plugins/modelzoo/src/lib/vastai/vamp-output';

// Line shapes of vamp's console report that the parser must (and must not) take: markdown-ish
// bullets and bold, spacing, numbers with exponents, keys that only look like known ones.

test('numbers: a whole exponent, a negative exponent', () => {
  const r = parseVampOutput('throughput (qps): 2e10\nsamples: 1.5e-3\n');
  assert.equal(r.throughputQps, 2e10);
  assert.equal(r.samples, 0.0015);
});

test('bullets and bold are stripped; only whole markers at the ends', () => {
  assert.equal(parseVampOutput('  **batch size: 4**').batch, 4);
  assert.equal(parseVampOutput('-   **batch size: 5**').batch, 5);
  assert.equal(parseVampOutput('**  batch size: 6').batch, 6);
  assert.deepEqual(parseVampOutput('x*y: 5').other, { 'x*y': '5' });
  assert.deepEqual(parseVampOutput('name: vamp**').other, { name: 'vamp' });
  assert.deepEqual(parseVampOutput('name: vamp** ').other, { name: 'vamp' });
  assert.deepEqual(parseVampOutput('name: a*b').other, { name: 'a*b' });
});

test('input/output lines: whole line shape, any index, spacing optional, empty dims dropped', () => {
  const r = parseVampOutput('input[10]:[1,2],dtype:uint8\noutput[0]: [1, 1000, ], dtype: float16\nmy input[0]: [3], dtype: u8\n');
  assert.deepEqual(r.inputs[10], { shape: [1, 2], dtype: 'uint8' });
  assert.equal(r.inputs.length, 11);
  assert.equal(r.inputs[0], undefined);
  assert.deepEqual(r.outputs, [{ shape: [1, 1000], dtype: 'float16' }]);
  assert.deepEqual(r.other, { 'my input[0]': '[3], dtype: u8' });
});

test('a line starting with a colon is no key: value', () => {
  const r = parseVampOutput(':batch size: 4\n');
  assert.equal(r.batch, undefined);
  assert.deepEqual(r.other, {});
});

test('latency headers and stats are whole keys', () => {
  const r = parseVampOutput([
    'e2e latency (us) extra: x',
    'xe2e latency (us):',
    'model latency (ms):',
    'xavg latency: 2',
    'e2e latency (ms):',
    'avg latency x: 1',
  ].join('\n'));
  assert.deepEqual(r.e2eLatencyUs, {});
  assert.deepEqual(r.modelLatencyUs, {});
  assert.equal(r.other['e2e latency (us) extra'], 'x');
  assert.equal(r.other['xe2e latency (us)'], '');
  assert.equal(r.other['avg latency x'], '1');
  assert.equal(r.other['xavg latency'], '2');
  assert.deepEqual(parseVampOutput('model latency (ms):\nmin latency: 3').modelLatencyUs, { min: 3000 });
});

test('devices without numbers are none', () => {
  assert.deepEqual(parseVampOutput('devices: none').devices, []);
});

test('every e2e percentile reaches the bench result, in ms; no samples means 0 iterations', () => {
  const r = parseVampOutput([
    'e2e latency (us):',
    'avg latency: 1000', 'min latency: 500', 'max latency: 9000',
    'p50 latency: 1100', 'p90 latency: 2200', 'p95 latency: 3300', 'p99 latency: 4400',
    'throughput (qps): 100',
  ].join('\n'));
  const b = vampReportToBench(r, { batch: 2, instances: 1, processes: 1 });
  assert.deepEqual(b.latencyMs, { min: 0.5, mean: 1, p50: 1.1, p90: 2.2, p95: 3.3, p99: 4.4, max: 9 });
  assert.equal(b.iterations, 0);
});

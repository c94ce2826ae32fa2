import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STAND_IN_MARKER, parseVampOutput, vampReportToBench } from '../../plugins/modelzoo/src/lib/vastai/vamp-output';

test('vampReportToBench: vamp figures win over the asked ones; latencies converted to ms; missing stats stay NaN', () => {
  const r = parseVampOutput([
    'number of instances in each device: 2', 'devices: [0, 1]', 'batch size: 4', 'samples: 1024', 'number of process: 3',
    'forwad time (s): 1.5', 'throughput (qps): 682.5', 'ai utilize (%): 96.4', 'temperature (°C): 41', 'card power (W): 30.5',
    'die memory used (MB): 1356.75', 'e2e latency (us):', '  avg latency: 2000', '  min latency: 1500', '  max latency: 3000',
    '  p99 latency: 2900', 'model latency (ms):', '  avg latency: 1.25', STAND_IN_MARKER,
  ].join('\n'));
  const b = vampReportToBench(r, { batch: 1, instances: 1, processes: 1 });
  assert.deepEqual(b.latencyMs.mean, 2);
  assert.equal(b.latencyMs.min, 1.5);
  assert.equal(b.latencyMs.max, 3);
  assert.equal(b.latencyMs.p99, 2.9);
  for (const k of ['p50', 'p90', 'p95'] as const) assert.ok(Number.isNaN(b.latencyMs[k]), k);
  assert.deepEqual({ ...b, latencyMs: undefined }, {
    batch: 4, threads: 3, instances: 2, iterations: 256, seconds: 1.5, throughput: 682.5, latencyMs: undefined,
    vastai: {
      processes: 3, devices: [0, 1], standIn: true, modelLatencyMs: { mean: 1.25 },
      aiUtilizePct: 96.4, temperatureC: 41, cardPowerW: 30.5, dieMemoryMB: 1356.75,
    },
  });
});

test('vampReportToBench: asked values fill in; samples from per-process counts; seconds from samples / qps', () => {
  const r = parseVampOutput('number of samples in each process: 100\nthroughput (qps): 50\n');
  const b = vampReportToBench(r, { batch: 8, instances: 2, processes: 2 });
  assert.deepEqual([b.batch, b.threads, b.instances, b.iterations, b.seconds], [8, 2, 2, 25, 4]);
  assert.deepEqual(b.vastai, { processes: 2, devices: [], standIn: false });
  for (const v of Object.values(b.latencyMs)) assert.ok(Number.isNaN(v));
  const withProc = vampReportToBench(parseVampOutput('number of samples in each process: 10\nnumber of processes: 3\nthroughput (qps): 10\n'), { batch: 4, instances: 1, processes: 1 });
  assert.deepEqual([withProc.iterations, withProc.seconds, withProc.threads], [8, 3, 3]);
  const none = vampReportToBench(parseVampOutput('throughput (qps): 10\n'), { batch: 4, instances: 1, processes: 1 });
  assert.equal(none.iterations, 0);
  assert.ok(Number.isNaN(none.seconds));
  assert.throws(() => vampReportToBench(parseVampOutput('batch size: 1\n'), { batch: 1, instances: 1, processes: 1 }), (e: Error) => e.message === 'vamp output has no "throughput (qps)" line; was the run complete?');
});

test('parseVampOutput: numbers in any notation, keys normalised, unknown and io lines', () => {
  const r = parseVampOutput('Batch   Size : 16 images\nthroughput (qps): 1.5e3\ntemperature (C): -3.25\nweird line without colon\nfoo: bar baz\ninput[1]: [ 3, 224 ,224 ], dtype:u1\noutput[0]: [], dtype:f4\n');
  assert.equal(r.batch, 16);
  assert.equal(r.throughputQps, 1500);
  assert.equal(r.temperatureC, -3.25);
  assert.deepEqual(r.other, { foo: 'bar baz' });
  assert.deepEqual(r.inputs[1], { shape: [3, 224, 224], dtype: 'u1' });
  assert.equal(r.inputs[0], undefined);
  assert.deepEqual(r.outputs[0], { shape: [], dtype: 'f4' });
  const blk = parseVampOutput('e2e latency (s):\n avg latency: 0.5\ninput[0]: [1], dtype:u1\n min latency: 7\n');
  assert.deepEqual(blk.e2eLatencyUs, { avg: 500000 });
  assert.equal(blk.other['min latency'], '7', 'an io line ends the latency block');
  const nonum = parseVampOutput('e2e latency (us):\n avg latency: n/a\n min latency: 3\nthroughput (qps): none\n');
  assert.deepEqual(nonum.e2eLatencyUs, { min: 3 });
  assert.equal(nonum.throughputQps, undefined);
  assert.equal(parseVampOutput('min latency: 4\n').other['min latency'], '4', 'a stat line outside a block is kept as other');
  assert.equal(parseVampOutput(`  -   ${STAND_IN_MARKER} (x)`).standIn, true);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REFERENCE_DIR } from '../helpers/shared';
import { resolveTool, runTool } from '../../plugins/modelzoo/src/lib/vastai/tools';
import { parseVampOutput, vampReportToBench } from '../../plugins/modelzoo/src/lib/vastai/vamp-output';
import { vampArgs } from '../../plugins/modelzoo/src/lib/vastai/vamp-run';

const SAMPLES = path.join(REFERENCE_DIR, 'vastmodelzoo', 'vamp-output-samples.txt');
const skipSamples = fs.existsSync(SAMPLES) ? false : `${SAMPLES} not found`;

test('vamp samples: percentiles, misspelled forwad time, optional lines', { skip: skipSamples }, () => {
  const [retinanet, cbdnet] = fs.readFileSync(SAMPLES, 'utf8').split(/^## cbdnet/m);
  const a = parseVampOutput(retinanet!);
  assert.equal(a.throughputQps, 41.5769);
  assert.deepEqual(a.devices, [0]);
  assert.equal(a.forwardSeconds, undefined);
  assert.deepEqual(a.e2eLatencyUs, { avg: 52049, min: 46867, max: 65637, p50: 53599, p90: 56406, p95: 56446, p99: 56540 });
  assert.equal(a.modelLatencyUs?.p99, 56487);
  assert.equal(a.temperatureC, 39.5858);
  const benchA = vampReportToBench(a, { batch: 1, instances: 1, processes: 1 });
  assert.equal(benchA.latencyMs.p50, 53.599);
  assert.equal(benchA.latencyMs.mean, 52.049);
  assert.equal(benchA.throughput, 41.5769);

  const b = parseVampOutput(cbdnet!);
  assert.equal(b.forwardSeconds, 1.31991);
  assert.equal(b.samples, 1024);
  assert.equal(b.maxBatchSize, 5);
  assert.deepEqual(b.inputs, [{ shape: [3, 256, 256], dtype: 'u1' }]);
  assert.deepEqual(b.outputs, [{ shape: [1, 3, 256, 256], dtype: 'f2' }]);
  assert.deepEqual(b.e2eLatencyUs, { avg: 21697, min: 1883, max: 21965 });
  assert.equal(b.standIn, false);
  const benchB = vampReportToBench(b, { batch: 1, instances: 1, processes: 1 });
  assert.equal(benchB.iterations, 1024);
  assert.equal(benchB.seconds, 1.31991);
  assert.equal(benchB.latencyMs.max, 21.965);
  // Not printed, so not invented: NaN (null in JSON).
  assert.ok(Number.isNaN(benchB.latencyMs.p99));
  assert.equal(JSON.parse(JSON.stringify(benchB)).latencyMs.p99, null);
});

test('vamp output parsing tolerates reordering, ms blocks, CRLF and unknown lines', () => {
  const text = [
    'some banner: v1.2.3',
    '  throughput (qps): 100.5',
    '  model latency (ms):',
    '    avg latency: 2.5',
    '  batch size: 8',
    '  e2e latency (us):',
    '    p50 latency: 9000',
    '  new metric (x): 7',
  ].join('\r\n');
  const r = parseVampOutput(text);
  assert.equal(r.throughputQps, 100.5);
  assert.equal(r.batch, 8);
  assert.equal(r.modelLatencyUs?.avg, 2500);
  assert.deepEqual(r.e2eLatencyUs, { p50: 9000 });
  assert.equal(r.other['new metric (x)'], '7');
  assert.throws(() => vampReportToBench(parseVampOutput('batch size: 1'), { batch: 1, instances: 1, processes: 1 }), /throughput \(qps\)/);
});

test('a missing tool names the option and the environment variable', async () => {
  await assert.rejects(resolveTool('vamc', undefined, { PATH: '/nonexistent' }), (err: Error) => {
    assert.match(err.message, /vamc not found/);
    assert.match(err.message, /vastai\.vamcPath/);
    assert.match(err.message, /VAMC_PATH/);
    return true;
  });
  await assert.rejects(resolveTool('vamp', undefined, { VAMP_PATH: '/nope/vamp', PATH: '' }), /\/nope\/vamp \(from environment variable VAMP_PATH\) is not an executable/);
  await assert.rejects(resolveTool('vamp', '/nope/x', {}), /from option vastai\.vampPath/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tool-'));
  const exe = path.join(dir, 'vamp');
  fs.writeFileSync(exe, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  assert.equal(await resolveTool('vamp', undefined, { PATH: `/nonexistent${path.delimiter}${dir}` }), exe);
  assert.equal(await resolveTool('vamp', undefined, { VAMP_PATH: exe, PATH: '' }), exe);
});

test('a failing tool: exit code and stderr in the error; arguments are never shell-interpreted', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tool-'));
  const exe = path.join(dir, 'vamc');
  fs.writeFileSync(exe, '#!/usr/bin/env node\nconsole.log(JSON.stringify(process.argv.slice(2)));\nif (process.argv[2] === "fail") { console.error("bad config: engine.x"); process.exit(3); }\n', { mode: 0o755 });
  const tricky = ['a b', '$(touch pwned)', "it's", '; rm -rf /'];
  const ok = await runTool('vamc', exe, tricky, dir);
  assert.deepEqual(JSON.parse(ok.stdout), tricky);
  assert.ok(!fs.existsSync(path.join(dir, 'pwned')));
  await assert.rejects(runTool('vamc', exe, ['fail', 'x y.yaml'], dir), (err: Error) => {
    assert.match(err.message, /vamc exited with code 3/);
    assert.match(err.message, /bad config: engine\.x/);
    assert.match(err.message, /"x y\.yaml"/);
    return true;
  });
});

test('vamp argv: -m --vdsp_params -i -p -b [-d], validated', () => {
  assert.deepEqual(vampArgs({ modelPrefix: '/m/mod', vdspParams: '/v.json', batch: 22, instances: 8, processes: 1 }), [
    '-m', '/m/mod', '--vdsp_params', '/v.json', '-i', '8', '-p', '1', '-b', '22',
  ]);
  assert.deepEqual(
    vampArgs({ modelPrefix: '/m/mod', vdspParams: '/v.json', batch: 1, instances: 1, processes: 2, device: 3 }, ['--datalist', '/d.txt']).slice(-4),
    ['-d', '3', '--datalist', '/d.txt'],
  );
  assert.throws(() => vampArgs({ modelPrefix: 'm', vdspParams: 'v', batch: 0, instances: 1, processes: 1 }), /batch must be a positive integer/);
});

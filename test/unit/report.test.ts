import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeReport } from '../../plugins/modelzoo/src/lib/report/report';
import { variantsFromProjects } from '../../plugins/modelzoo/src/lib/report/variants';
import { variantProject } from '../../plugins/modelzoo/src/lib/nx/variant-project';
import { MOBILENETV2_SEED } from '../../plugins/modelzoo/src/lib/nx/seed-table';
import { pairedBench } from '../helpers/report-fixture';

function writeJson(file: string, v: unknown) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(v));
}

test('the report joins card, eval and the paired bench per precision: img/s and speedup at one stated batch', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'report-'));
  const resolve = (p: string) => path.join(root, p);
  const projects = {
    'mobilenetv2-timm': variantProject(
      { model: 'mobilenetv2', row: 'timm', preprocess: 'timm', width: 1, zoo: { top1: 72.956, top5: 91.01, flopsM: 327.544, paramsM: 3.5 } },
      'models/mobilenetv2/timm',
    ),
    'not-a-variant': { root: 'x', tags: ['dataset'] },
  };
  const variants = variantsFromProjects(projects as any, 'variant', resolve);
  assert.equal(variants.length, 1);
  const base = resolve('dist/models/mobilenetv2/timm');
  writeJson(`${base}/export/model-card.json`, { source: 'builtin', weights: 'random-init', sha256: 'ab'.repeat(32), macs: 300.77e6, params: 3504872, input: { shape: ['N', 3, 224, 224] } });
  const dataset = { name: 'demo', prepared: 'pil-bicubic', images: 1000, total: 1000, fingerprint: 'f0'.repeat(32), demo: true };
  writeJson(`${base}/eval/eval.json`, { top1: 70, top5: 90, images: 1000, demoData: true, dataset, holdout: false, calibration: { source: 'dataset', images: 1000, overlap: 1000 } });
  writeJson(`${base}/eval-int8/eval.json`, { top1: 69.5, top5: 89.9, images: 1000, demoData: true, dataset, holdout: false, calibration: { source: 'build', images: 200, overlap: 200 } });
  writeJson(`${base}/build-int8/build.json`, { precision: 'int8', details: { calibrate_mode: 'percentile', percentile: 0.99999, calibration: { images: 200 } } });
  // int8 is faster at batch 1 (the best of either side), but the stated batch is 8: img/s and speedup
  // both come from batch 8, and the speedup is the paired median (2.1), not 900 / 400.
  writeJson(`${base}/bench/bench.json`, pairedBench({ labels: ['fp32', 'int8'], tp: { 1: [300, 1000], 8: [400, 900] }, ratio: { 1: 3.3, 8: 2.1 }, reportBatch: 8 }));
  const { rows, markdown, provenance } = await writeReport(variants, { tag: 'variant', title: 'T', outputPath: resolve('dist/report') });
  assert.equal(rows.length, 2);
  const [fp32, int8] = rows;
  assert.equal(fp32!.precision, 'fp32');
  assert.equal(fp32!.imgPerSec, 400);
  assert.equal(int8!.imgPerSec, 900);
  assert.equal(int8!.batch, 8);
  assert.ok(Math.abs(int8!.top1Drop! - 0.5) < 1e-9);
  assert.equal(int8!.speedup, 2.1);
  assert.deepEqual(int8!.bench!.map((b) => b.batch), [1, 8]);
  assert.deepEqual(int8!.calibration, { method: 'percentile 0.99999', images: 200, overlap: 200 });
  assert.equal(fp32!.calibration, undefined);
  assert.equal(fp32!.weightsSha256, 'ab'.repeat(32));
  assert.deepEqual(fp32!.dataset, dataset);
  assert.match(markdown, /\| mobilenetv2 \| timm \| random-init \| int8 \| 69\.50 \| 89\.90 \| 0\.50 \| 72\.96 /);
  assert.match(markdown, /\| 900\.0 @8 \| 2\.10× @8 \|/);
  assert.match(markdown, /DEMO images/);
  assert.match(markdown, /random-init/);
  assert.doesNotMatch(markdown, /unstable/);
  // Provenance: when, which commit, where, with what; per row the dataset, weights and calibration.
  const json = JSON.parse(fs.readFileSync(resolve('dist/report/report.json'), 'utf8'));
  assert.deepEqual(Object.keys(json.provenance).sort(), ['date', 'git', 'machine', 'versions']);
  assert.ok(!Number.isNaN(Date.parse(json.provenance.date)));
  assert.match(json.provenance.git.commit, /^[0-9a-f]{40}$/, 'the report runs in a git checkout here (cwd)');
  assert.equal(typeof json.provenance.git.dirty, 'boolean');
  assert.match(json.provenance.versions.nx, /^\d+\./);
  assert.match(json.provenance.versions.onnxruntime, /^\d+\./);
  assert.ok(json.provenance.machine.cores > 0 && 'cpuQuota' in json.provenance.machine);
  assert.equal(provenance.git.commit, json.provenance.git.commit);
  assert.ok(markdown.includes(`commit ${json.provenance.git.commit}`));
  assert.match(markdown, /\| mobilenetv2 \| timm \| int8 \| demo \(demo\) \| 1000 \| f0f0f0f0f0f0 \| no \| abababababab \| percentile 0\.99999 \| 200 \| 200 \|/);
});

test('an unstable figure (CV over the threshold) is marked in the row and the Markdown', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'report-unstable-'));
  const resolve = (p: string) => path.join(root, p);
  const projects = { 'mobilenetv2-tv': variantProject({ model: 'mobilenetv2', row: 'tv', preprocess: 'torchvision', width: 1 }, 'models/mobilenetv2/tv') };
  const variants = variantsFromProjects(projects as any, 'variant', resolve);
  writeJson(resolve('dist/models/mobilenetv2/tv/bench/bench.json'), pairedBench({ labels: ['fp32', 'int8'], tp: { 4: [100, 180] }, ratio: { 4: 1.8 }, reportBatch: 4, cv: 0.25 }));
  const { rows, markdown } = await writeReport(variants, { tag: 'variant', title: 'T', outputPath: resolve('dist/report') }, { root });
  assert.equal(rows[0]!.unstable, true);
  assert.equal(rows[0]!.imgPerSecCv, 0.25);
  assert.match(markdown, /\| 100\.0 @4 unstable \|/);
  // The pair's own spread (3%) is under the threshold: the speedup is not marked, only int8's img/s.
  assert.equal(rows[1]!.speedupUnstable, undefined);
  assert.match(markdown, /\| 180\.0 @4 unstable \| 1\.80× @4 \|/);
  assert.match(markdown, /\*\*`unstable`\*\*/);
  // Outside a git checkout the commit is unknown, never guessed.
  const json = JSON.parse(fs.readFileSync(resolve('dist/report/report.json'), 'utf8'));
  assert.equal(json.provenance.git.commit, null);
  assert.match(markdown, /commit unknown/);
});

test("rows follow the zoo page's order (metadata.zoo.order), then the name", () => {
  const p = (row: string, order?: number) => variantProject({ model: 'mobilenetv2', row, preprocess: 'timm', width: 1, zoo: order ? { order } : undefined }, `models/mobilenetv2/${row}`);
  const projects = { 'mobilenetv2-a': p('a'), 'mobilenetv2-keras': p('keras', 4), 'mobilenetv2-timm': p('timm', 2), 'mobilenetv2-torchvision': p('torchvision', 1), 'mobilenetv2-0': p('0') };
  const variants = variantsFromProjects(projects as any, 'variant', (x) => x);
  assert.deepEqual(variants.map((v) => v.variant), ['torchvision', 'timm', 'keras', '0', 'a']);
});

test('the seed rows carry the zoo page order 1..11, in the page\'s sequence', () => {
  assert.deepEqual(MOBILENETV2_SEED.map((v) => v.zoo?.order), MOBILENETV2_SEED.map((_, i) => i + 1));
  assert.deepEqual(MOBILENETV2_SEED.slice(0, 5).map((v) => v.row), ['torchvision', 'timm', 'mmcls', 'keras', 'ppcls-x0.25']);
});

test("vastai rows come from the 'vastai' configuration's outputs, marked stand-in; missing numbers render as '—'", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'report-vastai-'));
  const resolve = (p: string) => path.join(root, p);
  const projects = { 'mobilenetv2-tv': variantProject({ model: 'mobilenetv2', row: 'tv', preprocess: 'torchvision', width: 1 }, 'models/mobilenetv2/tv') };
  const variants = variantsFromProjects(projects as any, 'variant', resolve);
  const base = resolve('dist/models/mobilenetv2/tv');
  // No model card, no onnxruntime results at all, only a vastai build with a bench that lacks percentiles.
  writeJson(`${base}/vastai/build/build.json`, { backend: 'vastai', precision: 'fp16', stand_in: true });
  writeJson(`${base}/vastai/eval/eval.json`, { backend: 'vastai', top1: 60, top5: 80, images: 12, demoData: false, stand_in: true });
  const nullLatency = { min: null, mean: 2, p50: null, p90: null, p95: null, p99: null, max: null };
  const vbench = pairedBench({ backend: 'vastai', labels: ['fp16', 'int8'], tp: { 1: [100, 250] }, ratio: { 1: 2.5 }, reportBatch: 1, standIn: true });
  for (const m of vbench.models) for (const r of m.results) r.latencyMs = nullLatency as any;
  writeJson(`${base}/vastai/bench/bench.json`, vbench);
  writeJson(`${base}/vastai/eval-int8/eval.json`, { backend: 'vastai', top1: null, top5: 79, images: 12, stand_in: true });
  const { rows, markdown } = await writeReport(variants, { tag: 'variant', title: 'T', outputPath: resolve('dist/report') });
  // onnxruntime rows are always listed (their numbers missing); vastai rows only where they have results.
  assert.deepEqual(rows.map((r) => [r.precision, r.backend]), [['fp32', undefined], ['int8', undefined], ['fp16', 'vastai'], ['int8', 'vastai']]);
  const [, , fp16, int8] = rows;
  assert.equal(fp16!.standIn, true);
  assert.equal(int8!.top1, undefined);
  assert.equal(int8!.top1Drop, undefined);
  assert.ok(Math.abs(int8!.speedup! - 2.5) < 1e-9, 'int8 speedup is against the same backend\'s float build');
  assert.match(markdown, /\| mobilenetv2 \| tv \| — \| fp32 \| — \| — \| — \|/);
  assert.match(markdown, /\| fp16 \(vastai stand-in\) \| 60\.00 \| 80\.00 \|/);
  assert.match(markdown, /\| int8 \(vastai stand-in\) \| — \| 79\.00 \| — \|/);
  assert.match(markdown, /stand-in.*not VastAI hardware/);
  assert.ok(!markdown.includes('NaN') && !markdown.includes('null') && !markdown.includes('undefined'), markdown);
});

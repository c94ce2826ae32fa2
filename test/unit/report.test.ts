import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeReport } from '../../plugins/modelzoo/src/lib/report/report';
import { variantsFromProjects } from '../../plugins/modelzoo/src/lib/report/variants';
import { variantProject } from '../../plugins/modelzoo/src/lib/nx/variant-project';

function writeJson(file: string, v: unknown) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(v));
}

test('the report joins card, eval and bench per precision, with int8 drop and speedup', async () => {
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
  writeJson(`${base}/export/model-card.json`, { source: 'builtin', weights: 'random-init', macs: 300.77e6, params: 3504872, input: { shape: ['N', 3, 224, 224] } });
  const bench = (tp: number) => ({ results: [{ batch: 1, throughput: tp / 2 }, { batch: 8, throughput: tp }] });
  writeJson(`${base}/eval/eval.json`, { top1: 70, top5: 90, images: 1000, demoData: true });
  writeJson(`${base}/eval-int8/eval.json`, { top1: 69.5, top5: 89.9, images: 1000, demoData: true });
  writeJson(`${base}/bench/bench.json`, bench(400));
  writeJson(`${base}/bench-int8/bench.json`, bench(900));
  const { rows, markdown } = await writeReport(variants, { tag: 'variant', title: 'T', outputPath: resolve('dist/report') });
  assert.equal(rows.length, 2);
  const [fp32, int8] = rows;
  assert.equal(fp32!.precision, 'fp32');
  assert.equal(fp32!.imgPerSec, 400);
  assert.ok(Math.abs(int8!.top1Drop! - 0.5) < 1e-9);
  assert.ok(Math.abs(int8!.speedup! - 2.25) < 1e-9);
  assert.match(markdown, /\| mobilenetv2 \| timm \| random-init \| int8 \| 69\.50 \| 89\.90 \| 0\.50 \| 72\.96 /);
  assert.match(markdown, /DEMO images/);
  assert.match(markdown, /random-init/);
  assert.ok(fs.existsSync(resolve('dist/report/report.json')));
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
  writeJson(`${base}/vastai/bench/bench.json`, { backend: 'vastai', stand_in: true, results: [{ batch: 1, throughput: 100, latencyMs: nullLatency }] });
  writeJson(`${base}/vastai/bench-int8/bench.json`, { backend: 'vastai', stand_in: true, results: [{ batch: 1, throughput: 250, latencyMs: nullLatency }] });
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

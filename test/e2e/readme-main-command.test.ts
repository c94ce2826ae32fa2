import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MOBILENETV2_SEED } from '../../plugins/modelzoo/src/lib/nx/seed-table';
import { REPO_ROOT } from '../helpers/shared';
import { type TempWorkspace, createTempWorkspace, taskRuns } from '../helpers/temp-workspace';

// README's main command, as a new user types it, over the committed seed projects and demo images.
let ws: TempWorkspace;
const noDataset = { MODELZOO_IMAGENET_VAL: undefined, MODELZOO_IMAGENET_LABELS: undefined };

before(() => {
  ws = createTempWorkspace('readme-main');
  for (const dir of ['models', 'data']) fs.cpSync(path.join(REPO_ROOT, dir), path.join(ws.root, dir), { recursive: true });
});

after(() => fs.rmSync(ws.root, { recursive: true, force: true }));

test('nx run-many -t vamp-eval vamp-bench report takes every seed row through every stage on the demo set', () => {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  assert.match(readme, /npx nx run-many -t vamp-eval vamp-bench report/, 'README no longer shows the command this test runs');
  const r = ws.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench', 'report'], noDataset);
  assert.equal(r.status, 0, r.output);
  const runs = taskRuns(r.output);
  for (const row of MOBILENETV2_SEED) {
    for (const t of ['onnx-export', 'vamc-build', 'vamc-build-int8', 'vamp-eval', 'vamp-eval-int8', 'vamp-bench']) {
      assert.equal(runs.get(`mobilenetv2-${row.row}:${t}`), 'ran', `mobilenetv2-${row.row}:${t}`);
    }
  }
  const report = ws.readJson('dist/report/report.json');
  const rows = report.rows;
  assert.equal(rows.length, MOBILENETV2_SEED.length * 2, 'one fp32 and one int8 row per seed variant');
  assert.deepEqual(rows.filter((_: unknown, i: number) => i % 2 === 0).map((x: { variant: string }) => x.variant), MOBILENETV2_SEED.map((v) => v.row), "rows in the zoo page's order");
  assert.ok(rows.every((x: { imgPerSec: number; batch: number }) => x.imgPerSec > 0 && x.batch === 8), 'img/s stated at batch 8 for every row');
  assert.ok(rows.filter((x: { precision: string }) => x.precision === 'int8').every((x: { speedup: number }) => x.speedup > 0), 'a paired speedup on every int8 row');
  const md = fs.readFileSync(path.join(ws.root, 'dist/report/report.md'), 'utf8');
  assert.match(md, /DEMO/, 'the report must say demo data was used');

  const again = ws.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench', 'report'], noDataset);
  assert.equal(again.status, 0, again.output);
  for (const [task, how] of taskRuns(again.output)) assert.equal(how, 'cache', `${task} reran on an unchanged workspace`);
});

test('-c vastai takes every seed row end to end through the vamc/vamp stand-ins, with the onnxruntime figures', () => {
  const standIns = path.join(REPO_ROOT, 'test', 'stand-ins');
  const env = { ...noDataset, VAMC_PATH: path.join(standIns, 'vamc'), VAMP_PATH: path.join(standIns, 'vamp'), VAMP_STANDIN_SAMPLES: '8' };
  const r = ws.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench', '-c', 'vastai'], env);
  assert.equal(r.status, 0, r.output);
  const runs = taskRuns(r.output);
  for (const row of MOBILENETV2_SEED) {
    const project = `mobilenetv2-${row.row}`;
    for (const t of ['vamc-build', 'vamc-build-int8', 'vamp-eval', 'vamp-eval-int8', 'vamp-bench']) {
      assert.equal(runs.get(`${project}:${t}`), 'ran', `${project}:${t}`);
    }
    assert.equal(runs.get(`${project}:onnx-export`), 'cache', `${project}: both backends compile the same export`);
    const out = `dist/models/mobilenetv2/${row.row}`;
    const ort = ws.readJson(`${out}/eval/eval.json`);
    for (const s of ['', '-int8']) {
      const ev = ws.readJson(`${out}/vastai/eval${s}/eval.json`);
      assert.equal(ev.stand_in, true, `${project} vastai${s} is labelled a stand-in`);
      assert.equal(ev.images, ort.images);
      // The vamp stand-in runs the exported float model: the same figures as ONNX Runtime's fp32 build.
      assert.equal(ev.top1, ort.top1, `${project} vastai${s} top-1`);
      assert.equal(ev.top5, ort.top5, `${project} vastai${s} top-5`);
      const bench = ws.readJson(`${out}/vastai/bench/bench.json`).models.find((m: { label: string }) => m.label === (s ? 'int8' : 'fp16'));
      assert.ok(bench.results.length > 0 && bench.results.every((x: { throughput: number }) => x.throughput > 0), `${project} vastai${s} bench`);
    }
  }
  // The report's dependsOn runs the default configuration only; its inputs still see the new results.
  // (Without the tool variables: they are cache inputs of every build, bench and eval, so the same
  // shell settings as the default run keep those cache hits.)
  const report = ws.nx(['run', 'zoo-report:report'], noDataset);
  assert.equal(report.status, 0, report.output);
  const reportRuns = taskRuns(report.output);
  assert.equal(reportRuns.get('zoo-report:report'), 'ran', 'the report must not be replayed from before the vastai results');
  for (const [task, how] of reportRuns) if (task !== 'zoo-report:report') assert.equal(how, 'cache', task);
  const rows = ws.readJson('dist/report/report.json').rows as { backend?: string; standIn?: boolean }[];
  assert.equal(rows.length, MOBILENETV2_SEED.length * 4, 'fp32 + int8 on onnxruntime, fp16 + int8 on vastai');
  assert.equal(rows.filter((x) => x.backend === 'vastai' && x.standIn).length, MOBILENETV2_SEED.length * 2);
});

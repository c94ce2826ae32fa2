import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import report from '../../plugins/modelzoo/src/executors/report/executor';
import { runReport } from '../../plugins/modelzoo/src/lib/report/run';
import { variantsFromProjects } from '../../plugins/modelzoo/src/lib/report/variants';
import { captureStderr } from '../helpers/executor-context';
import { type FixtureOptions, writeReportFixture } from '../helpers/report-fixture';

// The report executor as Nx calls it, with a baseline report.json and the zoo gate.
function workspace(o: FixtureOptions = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'report-exec-'));
  const { projects } = writeReportFixture(root, o);
  const context = {
    root,
    cwd: root,
    isVerbose: false,
    projectName: 'zoo-report',
    targetName: 'report',
    projectsConfigurations: { version: 2, projects: { ...projects, 'zoo-report': { root: 'models/report' } } },
    nxJsonConfiguration: {},
    projectGraph: { nodes: {}, dependencies: {} },
  } as unknown as ExecutorContext;
  const resolve = (p: string) => (path.isAbsolute(p) ? p : path.join(root, p));
  return { root, context, projects, resolve };
}

async function run(context: ExecutorContext, options: object): Promise<{ success: boolean; stderr: string }> {
  let result: { success: boolean } | undefined;
  const stderr = await captureStderr(async () => {
    result = await report({ tag: 'variant', title: 'T', outputPath: 'dist/report', ...options } as any, context);
  });
  return { success: result!.success, stderr };
}

test('a run slower than its baseline beyond tolerance fails, lists the regressions and still writes the report and the diff', async () => {
  const base = workspace();
  assert.equal((await run(base.context, {})).success, true);
  const baselineFile = path.join(os.tmpdir(), `baseline-${process.pid}-${Date.now()}.json`);
  fs.copyFileSync(path.join(base.root, 'dist/report/report.json'), baselineFile);

  const same = workspace();
  const ok = await run(same.context, { baseline: baselineFile });
  assert.equal(ok.success, true, ok.stderr);
  const diff = JSON.parse(fs.readFileSync(path.join(same.root, 'dist/report/diff.json'), 'utf8'));
  assert.equal(diff.baseline.regressions.length, 0);
  assert.match(fs.readFileSync(path.join(same.root, 'dist/report/report-diff.md'), 'utf8'), /No regressions beyond tolerance/);

  // 30% slower everywhere (speedups unchanged) and 0.5 pt less top-1 on the fp32 rows.
  const slow = workspace({ throughputScale: 0.7, top1Offset: -0.8 });
  const bad = await run(slow.context, { baseline: baselineFile });
  assert.equal(bad.success, false);
  assert.match(bad.stderr, /zoo-report:report failed: 44 regression\(s\) against the baseline .*baseline-.*\.json beyond tolerance/);
  assert.match(bad.stderr, /mobilenetv2-timm fp32 imgPerSec: .* allowed −20%/);
  assert.match(bad.stderr, /mobilenetv2-timm fp32 top1: .*\(-0\.50\), allowed −0\.1 pt/);
  assert.doesNotMatch(bad.stderr, /speedup/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  for (const f of ['report.md', 'report.json', 'index.html', 'report-diff.md', 'diff.json']) assert.ok(fs.existsSync(path.join(slow.root, 'dist/report', f)), f);
  assert.match(fs.readFileSync(path.join(slow.root, 'dist/report/index.html'), 'utf8'), /44 regression\(s\) beyond tolerance/);

  // The same run passes with tolerances wide enough for it.
  const wide = await run(slow.context, { baseline: baselineFile, tolerances: { top1: 0.5, top5: 0.5, imgPerSecPct: 31 } });
  assert.equal(wide.success, true, wide.stderr);
  fs.rmSync(baselineFile);
});

test('the baseline can come from MODELZOO_REPORT_BASELINE; a missing or malformed baseline fails before anything is written', async () => {
  const w = workspace();
  const missing = await run(w.context, { baseline: 'nope/report.json' });
  assert.equal(missing.success, false);
  assert.match(missing.stderr, /option 'baseline': nope\/report\.json does not exist/);
  assert.ok(!fs.existsSync(path.join(w.root, 'dist/report')), 'nothing written');
  fs.writeFileSync(path.join(w.root, 'bad.json'), '{"rows": [{"top1": 1}]}');
  const bad = await run(w.context, { baseline: 'bad.json' });
  assert.match(bad.stderr, /bad\.json is not a report\.json/);
  const unknown = await run(w.context, { tolerances: { top1: 0.1, img: 3 } });
  assert.match(unknown.stderr, /unknown option 'tolerances\.img'/);
  assert.ok(!fs.existsSync(path.join(w.root, 'dist/report')), 'nothing written');

  fs.writeFileSync(path.join(w.root, 'old.json'), JSON.stringify({ title: 'old', rows: [{ project: 'mobilenetv2-timm', precision: 'fp32', weights: 'pretrained', images: 50000, demoData: false, top1: 99, reference: {} }] }));
  process.env['MODELZOO_REPORT_BASELINE'] = 'old.json';
  try {
    const r = await run(w.context, {});
    assert.equal(r.success, false);
    assert.match(r.stderr, /1 regression\(s\) against the baseline old\.json/);
  } finally {
    delete process.env['MODELZOO_REPORT_BASELINE'];
  }
});

test('gateZoo fails a pretrained full-val row below the zoo by more than zooTolerance, and refuses to gate a run it cannot judge', async () => {
  const good = workspace();
  const g = await run(good.context, { gateZoo: true });
  assert.equal(g.success, true, g.stderr);
  const low = workspace({ top1Offset: -0.8 });
  const r = await run(low.context, { gateZoo: true });
  assert.equal(r.success, false);
  assert.match(r.stderr, /row\(s\) below the zoo's published figures by more than 0\.5 pt:\n\s+- mobilenetv2-\S+ fp32 top1/);
  assert.equal((await run(low.context, { gateZoo: true, zooTolerance: 0.8 })).success, true, 'exactly at the tolerance passes');
  const demo = workspace({ weights: 'random-init', demoData: true, images: 12 });
  const d = await run(demo.context, { gateZoo: true });
  assert.equal(d.success, false);
  assert.match(d.stderr, /gateZoo: no row can be gated against the zoo's figures \(.*weights are random-init.*\)/);
  assert.equal((await run(demo.context, {})).success, true, 'without the gate a demo run passes');
});

test('the summary names the report files and says rows, best top-1 per precision and the rows that lack figures', async () => {
  const w = workspace();
  fs.rmSync(path.join(w.root, 'dist/models/mobilenetv2/keras/eval-int8'), { recursive: true });
  const variants = variantsFromProjects(w.projects, 'variant', w.resolve);
  const { summary } = await runReport(variants, { tag: 'variant', title: 'T', outputPath: 'dist/report' }, w.resolve, w.root);
  assert.match(summary, /^── modelzoo report ──\n22 rows \(11 variants\)\n/);
  assert.match(summary, /best top-1: fp32 76\.54 \(ppcls-ssld\), int8 75\.54 \(ppcls-ssld\)\n/);
  assert.match(summary, /unstable: none/);
  assert.match(summary, /failed rows: mobilenetv2-keras int8 \(no top-1\)/);
  assert.match(summary, /report: dist\/report\/report\.md\n\s+dist\/report\/report\.json\n\s+dist\/report\/index\.html\n$/);
  assert.equal(fs.readFileSync(path.join(w.root, 'dist/report/summary.txt'), 'utf8'), summary);
});

test('rows report.json flags unstable are named in the summary and highlighted in the HTML table', async () => {
  const { renderSummary } = await import('../../plugins/modelzoo/src/lib/report/summary');
  const { renderHtml } = await import('../../plugins/modelzoo/src/lib/report/html');
  const row = (precision: string, u: { imgPerSecUnstable?: boolean; speedupUnstable?: boolean }) =>
    ({ project: 'mobilenetv2-tv', model: 'mobilenetv2', variant: 'tv', precision, top1: 70, imgPerSec: 100, speedup: 2, reference: {}, ...u, unstable: !!(u.imgPerSecUnstable || u.speedupUnstable) });
  const rows = [row('fp32', { imgPerSecUnstable: true }), row('int8', {}), { ...row('fp16', { speedupUnstable: true }), backend: 'vastai' as const }];
  assert.match(renderSummary({ rows, files: ['r.md'] }), /unstable: mobilenetv2-tv fp32, mobilenetv2-tv fp16 \(vastai\)\n/);
  assert.equal((renderHtml({ report: { title: 'T', rows } }).match(/class="num unstable"/g) ?? []).length, 2);
});

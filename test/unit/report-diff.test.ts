import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_TOLERANCES,
  compareMetric,
  diffAgainstZoo,
  diffReports,
  formatRegressions,
  renderDiffMarkdown,
  zooCheck,
} from '../../plugins/modelzoo/src/lib/report/diff';
import type { ReportRow } from '../../plugins/modelzoo/src/lib/report/report';

const row = (project: string, precision: string, figures: Partial<ReportRow> = {}): ReportRow => ({
  project,
  model: 'mobilenetv2',
  variant: project.replace('mobilenetv2-', ''),
  precision,
  weights: 'random-init',
  images: 1000,
  demoData: false,
  reference: {},
  ...figures,
});

test('unchanged figures and moves within tolerance are not regressions; beyond it they are, in both directions', () => {
  const t = DEFAULT_TOLERANCES;
  assert.equal(compareMetric('top1', 71.9, 71.9, t).status, 'same');
  assert.equal(compareMetric('top1', 71.9, 71.8, t).status, 'same', 'exactly at the 0.1 pt tolerance passes');
  assert.equal(compareMetric('top1', 71.9, 71.79, t).status, 'regressed');
  assert.equal(compareMetric('top1', 71.9, 72.01, t).status, 'improved');
  assert.equal(compareMetric('imgPerSec', 100, 80, t).status, 'same', 'exactly −20% passes');
  const slow = compareMetric('imgPerSec', 100, 79.9, t);
  assert.equal(slow.status, 'regressed');
  assert.ok(Math.abs(slow.deltaPct! + 20.1) < 1e-9);
  assert.equal(compareMetric('speedup', 2, 2.5, t).status, 'improved');
  assert.equal(compareMetric('top5', undefined, undefined, t).status, 'absent');
  assert.equal(compareMetric('top5', 90, undefined, t).status, 'gone');
  assert.equal(compareMetric('top5', undefined, 90, t).status, 'added');
  assert.equal(compareMetric('top1', 70, Number.NaN, t).status, 'gone', 'NaN is no figure');
});

test('rows are matched by project, precision and backend; new and removed rows are listed but only kept rows can regress', () => {
  const baseline = [
    row('mobilenetv2-a', 'fp32', { top1: 70, top5: 90, imgPerSec: 400 }),
    row('mobilenetv2-a', 'int8', { top1: 69.5, top5: 89.5, imgPerSec: 900, speedup: 2.25 }),
    row('mobilenetv2-gone', 'fp32', { top1: 60 }),
    row('mobilenetv2-a', 'fp16', { backend: 'vastai', top1: 70 }),
  ];
  const current = [
    row('mobilenetv2-a', 'fp32', { top1: 70.05, top5: 90, imgPerSec: 300 }),
    row('mobilenetv2-a', 'int8', { top1: 69.0, top5: 89.5, imgPerSec: 950 }),
    row('mobilenetv2-new', 'fp32', { top1: 1 }),
    row('mobilenetv2-a', 'fp16', { backend: 'vastai', top1: 75 }),
  ];
  const d = diffReports(baseline, current);
  assert.deepEqual(
    d.rows.map((r) => [r.label, r.status]),
    [
      ['mobilenetv2-a fp32', 'compared'],
      ['mobilenetv2-a int8', 'compared'],
      ['mobilenetv2-new fp32', 'new'],
      ['mobilenetv2-a fp16 (vastai)', 'compared'],
      ['mobilenetv2-gone fp32', 'removed'],
    ],
  );
  assert.deepEqual(
    d.regressions.map((r) => `${r.row} ${r.metric}`),
    ['mobilenetv2-a fp32 imgPerSec', 'mobilenetv2-a int8 top1', 'mobilenetv2-a int8 speedup'],
    'img/s −25%, top-1 −0.5 pt, and a speedup the baseline had and this run lost',
  );
  const vast = d.rows.find((r) => r.label.includes('vastai'))!;
  assert.equal(vast.metrics.find((m) => m.metric === 'top1')!.status, 'improved');
  const md = renderDiffMarkdown(d);
  assert.match(md, /\| mobilenetv2-a fp32 \| compared \| imgPerSec \| 400\.0 \| 300\.0 \| −100\.0 \(−25\.0%\) \| −20% \| \*\*REGRESSED\*\* \|/);
  assert.match(md, /\| mobilenetv2-gone fp32 \| removed \| top1 \| 60\.00 \| — \|/);
  assert.match(md, /3 regression\(s\)/);
  assert.match(formatRegressions(d), /mobilenetv2-a int8 top1: 69\.50 → 69\.00 \(-0\.50\), allowed −0\.1 pt/);
  assert.equal(diffReports(current, current).regressions.length, 0, 'a run compared with itself has no regressions');
});

test('accuracy on other images or other weights is incomparable, not a regression; speed is still compared', () => {
  const d = diffReports(
    [row('mobilenetv2-a', 'fp32', { top1: 70, imgPerSec: 100, images: 1000 })],
    [row('mobilenetv2-a', 'fp32', { top1: 10, imgPerSec: 50, images: 50000 })],
  );
  assert.equal(d.rows[0]!.status, 'incomparable');
  assert.match(d.rows[0]!.reason!, /images 1000 → 50000/);
  assert.deepEqual(d.regressions.map((r) => r.metric), ['imgPerSec']);
  const w = diffReports([row('p', 'fp32', { top1: 70 })], [row('p', 'fp32', { top1: 0.1, weights: 'pretrained' })]);
  assert.match(w.rows[0]!.reason!, /weights random-init → pretrained/);
  assert.equal(w.regressions.length, 0);
  const md = renderDiffMarkdown(diffReports([row('a|b', 'fp32', { top1: 1 })], [row('a|b', 'fp32', { top1: 1 })]));
  assert.match(md, /\| a\\\|b fp32 \|/, 'a pipe in a name cannot split the Markdown row');
});

test('the zoo gate applies to pretrained full-val float rows only and fails a row below the page by more than the tolerance', () => {
  const ref = { top1: 71.878, top5: 90.286 };
  const full = { weights: 'pretrained', images: 50000, demoData: false, reference: ref };
  const rows = [
    row('mobilenetv2-tv', 'fp32', { ...full, top1: 71.5, top5: 90.1 }),
    row('mobilenetv2-low', 'fp32', { ...full, top1: 71.3, top5: 90.3 }),
    row('mobilenetv2-tv', 'int8', { ...full, top1: 70 }),
    row('mobilenetv2-sample', 'fp32', { ...full, images: 1000, top1: 89.2 }),
    row('mobilenetv2-rand', 'fp32', { reference: ref, images: 50000, top1: 0.1 }),
    row('mobilenetv2-demo', 'fp32', { ...full, demoData: true, top1: 0 }),
  ];
  assert.equal(zooCheck(rows[0]!).status, 'pass');
  assert.deepEqual(zooCheck(rows[1]!), { status: 'fail', reason: 'top1 71.30 < zoo 71.88 − 0.5' });
  assert.match(zooCheck(rows[2]!).reason, /float figures/);
  assert.match(zooCheck(rows[3]!).reason, /1000 images, not the 50000/);
  assert.match(zooCheck(rows[4]!).reason, /random-init/);
  assert.match(zooCheck(rows[5]!).reason, /demo/);
  const d = diffAgainstZoo(rows);
  assert.equal(d.against, 'zoo');
  assert.deepEqual(d.regressions.map((r) => `${r.row} ${r.metric}`), ['mobilenetv2-low fp32 top1']);
  assert.equal(d.notApplicable.length, 4);
  assert.equal(diffAgainstZoo(rows, 0.6).regressions.length, 0, 'a wider tolerance passes it');
  const md = renderDiffMarkdown(d);
  assert.match(md, /Tolerances: top1 ±0\.5 pt, top5 ±0\.5 pt, img\/s not compared, speedup not compared\./);
  assert.match(md, /\| mobilenetv2-low fp32 \| compared \| top1 \| 71\.88 \| 71\.30 \| −0\.58 \| −0\.5 pt \| \*\*REGRESSED\*\* \|/);
});

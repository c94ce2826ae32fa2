import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chartLibrary, escapeHtml, inlineScript, jsonForScript, renderHtml } from '../../plugins/modelzoo/src/lib/report/html';
import { chartData, latencyRows, paretoFront } from '../../plugins/modelzoo/src/lib/report/html-data';
import { collectRows } from '../../plugins/modelzoo/src/lib/report/report';
import { MOBILENETV2_SEED } from '../../plugins/modelzoo/src/lib/nx/seed-table';
import { writeReportFixture } from '../helpers/report-fixture';

test('the Pareto front keeps the builds no other build beats on both accuracy and speed', () => {
  const p = (x: number, y: number) => ({ x, y, label: `${x}/${y}` });
  const pts = [p(100, 70), p(200, 69), p(150, 69), p(300, 60), p(300, 55), p(90, 70), p(50, 72)];
  assert.deepEqual(paretoFront(pts).map((q) => q.label), ['50/72', '100/70', '200/69', '300/60']);
  assert.deepEqual(paretoFront([]), []);
});

test('chart data: one scatter point per row with top-1 and img/s, int8 bars per int8 row, latency bars per row and batch', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'report-html-'));
  const { variants } = writeReportFixture(root);
  const rows = await collectRows(variants);
  const latency = latencyRows(rows);
  const c = chartData(rows, latency);
  const n = MOBILENETV2_SEED.length;
  assert.equal(c.pareto.expected, 2 * n);
  assert.deepEqual(c.pareto.groups.map((g) => [g.name, g.points.length]), [['fp32', n], ['int8', n]]);
  assert.deepEqual(c.int8.expected, { drop: n, speedup: n });
  assert.equal(latency.length, 2 * n);
  assert.deepEqual(c.latency.batches.map((b) => b.batch), [1, 8, 32]);
  assert.equal(c.latency.expected, 2 * n * 3);
  // A row without figures is no mark, and the expected count says so.
  delete rows[0]!.imgPerSec;
  delete rows[1]!.speedup;
  assert.equal(chartData(rows).pareto.expected, 2 * n - 1);
});

test('names are data: no variant name can inject markup or end a script; the chart library is inlined whole', () => {
  const evil = '</script><img src=x onerror=alert(1)><!--';
  const row = { project: `p${evil}`, model: 'm', variant: evil, precision: 'fp32', weights: 'random-init', top1: 1, imgPerSec: 2, reference: {} };
  const html = renderHtml({ report: { title: `T ${evil}`, rows: [row], provenance: { git: { commit: evil } } as any } });
  assert.ok(!html.includes('<img'), 'an <img> tag made it into the page');
  assert.equal(html.split(/<\/script>/i).length - 1, 3, 'exactly the three script elements close');
  assert.ok(!/<!--/.test(html));
  const json = jsonForScript({ s: evil + '\u2028&' });
  assert.ok(!/[<>&\u2028]/.test(json));
  assert.deepEqual(JSON.parse(json), { s: evil + '\u2028&' });
  assert.equal(escapeHtml(`<a href="x">'&`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;');
  assert.equal(inlineScript('var s="</script>";var r=/<\\/sCrIpT/', 'lib'), 'var s="<\\/script>";var r=/<\\/sCrIpT/');
  assert.throws(() => inlineScript('a="<!--"', 'lib'), /cannot be inlined/);
  const lib = chartLibrary();
  assert.match(lib.version, /^4\./);
  assert.ok(html.includes(lib.source.slice(0, 200)) && html.includes(lib.source.slice(-200)), 'Chart.js is inlined');
  assert.doesNotMatch(html, /<script[^>]*\ssrc=|<link[\s>]|<img[\s>]|@import/i, 'nothing is fetched');
});

test("the zoo column passes or fails pretrained full-val rows and otherwise says why there is no pass/fail", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'report-html-zoo-'));
  const full = await collectRows(writeReportFixture(root).variants);
  const html = renderHtml({ report: { title: 'T', rows: full } });
  assert.match(html, /class="zoo-pass"[^>]*>pass</);
  assert.match(html, /11 pass, 0 fail/);
  const demoRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'report-html-demo-'));
  const demo = await collectRows(writeReportFixture(demoRoot, { weights: 'random-init', demoData: true, images: 12 }).variants);
  const page = renderHtml({ report: { title: 'T', rows: demo } });
  assert.match(page, /No pass\/fail against the zoo's published figures: .*weights are random-init/);
  assert.doesNotMatch(page, /class="zoo-(pass|fail)"/);
});

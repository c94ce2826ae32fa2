import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../common/errors';
import { type DiffResult, type MetricDiff, DEFAULT_ZOO_TOLERANCE, zooCheck } from './diff';
import { type ChartData, type LatencyRow, chartData } from './html-data';
import { MISSING, type ReportJson, type ReportRow } from './report';

const UNSTABLE = { cls: 'unstable', tip: 'unstable: spread (coefficient of variation) above the threshold' };

/** report.json as the HTML reads it: title and rows, plus whatever provenance the report carries. */
/** report.json as the report writes it (provenance and all), or a baseline's: only title and rows are required. */
export type ReportDocument = Pick<ReportJson, 'title' | 'rows'> & Partial<Omit<ReportJson, 'title' | 'rows'>>;

export interface HtmlInputs {
  report: ReportDocument;
  latency?: LatencyRow[];
  diff?: DiffResult;
  zooTolerance?: number;
}

/**
 * Chart.js's UMD build, read from the installed package at report time and inlined, so the page opens
 * offline with nothing to fetch. The package's `exports` map hides dist/, so it is found beside the
 * resolved CommonJS entry.
 */
export function chartLibrary(): { source: string; version: string } {
  let dir: string;
  try {
    dir = path.dirname(require.resolve('chart.js'));
  } catch {
    throw new UserError('report: the chart.js package is not installed (it is a dependency of this plugin): run `npm ci`.');
  }
  const file = path.join(dir, 'chart.umd.min.js');
  let source: string;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch {
    throw new UserError(`report: ${file} is missing; reinstall chart.js (\`npm ci\`).`);
  }
  let version = 'unknown';
  try {
    version = (JSON.parse(fs.readFileSync(path.join(dir, '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    // The version is only shown in the footer.
  }
  return { source: inlineScript(source, file), version };
}

/**
 * Script text made safe inside <script>…</script>: `</script` would end the element early, so it becomes
 * `<\/script` (the same string to JS, `\/` is `/` in strings and regexes alike). `<!--` and `<script` put
 * the HTML parser in its "escaped" states, which no rewrite undoes safely for every JS context: refuse.
 */
export function inlineScript(source: string, what: string): string {
  if (/<!--|<script/i.test(source)) throw new UserError(`report: ${what} contains '<!--' or '<script' and cannot be inlined into the HTML safely.`);
  return source.replace(/<\/(script)/gi, '<\\/$1');
}

/** JSON for a <script type="application/json"> block: no `<`, `>` or `&` survive, so no data can close it. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

interface Column {
  head: string;
  title?: string;
  numeric?: boolean;
  cell(r: ReportRow): { text: string; sort?: number | string; cls?: string; tip?: string };
}

const numCell = (v: number | undefined, digits: number, suffix = '') => ({ text: isNum(v) ? v.toFixed(digits) + suffix : MISSING, sort: isNum(v) ? v : undefined });

function columns(zooTolerance: number): Column[] {
  return [
    { head: 'model', cell: (r) => ({ text: r.model }) },
    { head: 'row', title: "the zoo page's row (source)", cell: (r) => ({ text: r.variant }) },
    { head: 'weights', cell: (r) => ({ text: r.weights ?? MISSING }) },
    { head: 'precision', cell: (r) => ({ text: r.backend ? `${r.precision} (${r.backend}${r.standIn ? ' stand-in' : ''})` : r.precision }) },
    { head: 'top1', numeric: true, cell: (r) => numCell(r.top1, 2) },
    { head: 'top5', numeric: true, cell: (r) => numCell(r.top5, 2) },
    { head: 'int8 drop', numeric: true, title: 'top-1 points lost vs the fp32 build', cell: (r) => numCell(r.top1Drop, 2) },
    { head: 'zoo top1', numeric: true, title: "the zoo page's published figure", cell: (r) => numCell(r.reference.top1, 2) },
    { head: 'zoo top5', numeric: true, cell: (r) => numCell(r.reference.top5, 2) },
    {
      head: 'vs zoo',
      title: `pass/fail against the zoo's top-1/top-5 (±${zooTolerance} pt), only for pretrained weights on the full 50,000 val images`,
      cell: (r) => {
        const c = zooCheck(r, zooTolerance);
        return { text: c.status, cls: `zoo-${c.status.replace('/', '')}`, tip: c.reason };
      },
    },
    { head: 'MMACs', numeric: true, cell: (r) => numCell(r.mmacs, 1) },
    { head: 'Mparams', numeric: true, cell: (r) => numCell(r.mparams, 3) },
    { head: 'img/s', numeric: true, cell: (r) => ({ ...numCell(r.imgPerSec, 1), ...(r.imgPerSecUnstable ? UNSTABLE : {}) }) },
    { head: 'int8 speedup', numeric: true, cell: (r) => ({ ...numCell(r.speedup, 2, '×'), ...(r.speedupUnstable ? UNSTABLE : {}) }) },
  ];
}

function renderTable(rows: ReportRow[], zooTolerance: number): string {
  const cols = columns(zooTolerance);
  const head = cols
    .map((c, i) => `<th data-col="${i}" data-type="${c.numeric ? 'num' : 'text'}"${c.title ? ` title="${escapeHtml(c.title)}"` : ''}>${escapeHtml(c.head)}</th>`)
    .join('');
  const body = rows
    .map((r, ri) => {
      const cells = cols.map((c) => {
        const v = c.cell(r);
        const sort = v.sort ?? (v.text === MISSING ? undefined : v.text);
        const attrs = [
          sort !== undefined ? `data-sort="${escapeHtml(String(sort))}"` : '',
          c.numeric ? 'class="num' + (v.cls ? ` ${v.cls}` : '') + '"' : v.cls ? `class="${v.cls}"` : '',
          v.tip ? `title="${escapeHtml(v.tip)}"` : '',
        ].filter(Boolean);
        return `<td${attrs.length ? ' ' + attrs.join(' ') : ''}>${escapeHtml(v.text)}</td>`;
      });
      return `<tr data-index="${ri}">${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<table id="zoo"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** Why the table has no pass/fail against the zoo (each distinct reason once), or nothing when some rows have one. */
function zooNote(rows: ReportRow[], tol: number): string {
  const checks = rows.map((r) => zooCheck(r, tol));
  if (checks.some((c) => c.status !== 'n/a')) {
    const fails = checks.filter((c) => c.status === 'fail').length;
    return `<p class="note">Against the zoo's published figures (±${tol} pt): ${checks.filter((c) => c.status === 'pass').length} pass, ${fails} fail; other rows are n/a (hover a cell for why).</p>`;
  }
  const reasons = [...new Set(checks.filter((_, i) => rows[i]!.precision !== 'int8').map((c) => c.reason))];
  return `<p class="note">No pass/fail against the zoo's published figures: those are for the pretrained checkpoints on all 50,000 ImageNet val images, and here ${escapeHtml(reasons.join('; ') || 'no float row was measured')}.</p>`;
}

function notes(rows: ReportRow[]): string {
  const out: string[] = [];
  if (rows.some((r) => r.demoData)) out.push('<strong>Accuracy was measured on the built-in DEMO images, not ImageNet val.</strong>');
  if (rows.some((r) => r.standIn)) out.push('<strong>Rows marked stand-in came from the VastAI stand-ins (ONNX Runtime on this CPU), not VastAI hardware.</strong>');
  if (rows.some((r) => r.weights === 'random-init')) out.push("Rows with random-init weights use the builder's deterministic random weights: their accuracy is chance level by design.");
  return out.map((n) => `<p class="note">${n}</p>`).join('\n');
}

/** report.json's provenance (date, commit, machine, versions), one line per field. */
function provenance(doc: ReportDocument): string {
  const entries = Object.entries(doc.provenance ?? {});
  if (entries.length === 0) return '';
  const show = (v: unknown): string => (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v));
  return `<h2>Provenance</h2><dl class="prov">${entries.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(show(v))}</dd>`).join('')}</dl>`;
}

const DIGITS: Record<MetricDiff['metric'], number> = { top1: 2, top5: 2, imgPerSec: 1, speedup: 2 };

function renderDiff(d: DiffResult): string {
  const f = (m: MetricDiff, v: number | undefined) => (isNum(v) ? v.toFixed(DIGITS[m.metric]) : MISSING);
  const lines: string[] = [];
  for (const r of d.rows) {
    for (const m of r.metrics) {
      if (m.status === 'absent') continue;
      const delta = isNum(m.delta) ? `${m.delta > 0 ? '+' : ''}${m.delta.toFixed(DIGITS[m.metric])}${isNum(m.deltaPct) ? ` (${m.deltaPct > 0 ? '+' : ''}${m.deltaPct.toFixed(1)}%)` : ''}` : MISSING;
      lines.push(
        `<tr class="d-${m.status}"><td>${escapeHtml(r.label)}</td><td>${escapeHtml(r.status + (r.reason ? `: ${r.reason}` : ''))}</td><td>${m.metric}</td><td class="num">${f(m, m.old)}</td><td class="num">${f(m, m.new)}</td><td class="num">${escapeHtml(delta)}</td><td>${escapeHtml(m.allowed)}</td><td>${m.status}</td></tr>`,
      );
    }
  }
  const verdict = d.regressions.length ? `<p class="bad"><strong>${d.regressions.length} regression(s) beyond tolerance.</strong></p>` : '<p class="good">No regressions beyond tolerance.</p>';
  return `<h2>Changes against ${escapeHtml(d.against)}</h2>${verdict}<table id="diff"><thead><tr><th>row</th><th>status</th><th>metric</th><th>old</th><th>new</th><th>delta</th><th>allowed</th><th></th></tr></thead><tbody>${lines.join('\n')}</tbody></table>`;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#fff}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #d5d9e0;padding:3px 7px}
th{background:#eef1f5;cursor:pointer;user-select:none;white-space:nowrap}th[data-dir=asc]::after{content:" ▲"}th[data-dir=desc]::after{content:" ▼"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.zoo-pass{color:#157a2c;font-weight:600}.zoo-fail{color:#b3261e;font-weight:600}.zoo-na{color:#888}.unstable{background:#fff3cd}
.note{color:#444}.bad{color:#b3261e}.good{color:#157a2c}
tr.d-regressed,tr.d-gone{background:#fde8e6}tr.d-improved{background:#e6f4ea}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:24px}
.chart{position:relative;height:380px}figure.wide{grid-column:1/-1}figure{margin:0}figcaption{color:#444;margin-top:4px}
dl.prov{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:12px}dt{font-weight:600}dd{margin:0;word-break:break-all}
footer{margin-top:32px;color:#888;font-size:12px}`;

/**
 * The page's own script: reads the embedded JSON, draws three charts with Chart.js, makes the table
 * sortable, and records on each chart the marks the library drew (data-marks) beside the marks the
 * data calls for (data-expected), so a headless browser test can compare them.
 */
const APP = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var palette = ['#3366cc', '#dc3912', '#ff9900', '#109618', '#990099', '#0099c6', '#dd4477', '#66aa00'];
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  function drawn(chart, indices) {
    var n = 0;
    indices.forEach(function (i) {
      var meta = chart.getDatasetMeta(i);
      // An element exists for every label; it is a mark only where its value parsed to a number (a
      // null bar has an element but nothing is drawn) and it sits at a finite pixel position.
      meta.data.forEach(function (el, j) {
        var p = meta.controller.getParsed(j);
        if (p && Number.isFinite(p.x) && Number.isFinite(p.y) && Number.isFinite(el.x) && Number.isFinite(el.y)) n++;
      });
    });
    return n;
  }
  function record(id, chart, indices) {
    var box = document.getElementById(id);
    box.dataset.marks = String(drawn(chart, indices));
  }
  var c = data.charts;
  var pareto = new Chart(document.querySelector('#chart-pareto canvas'), {
    type: 'scatter',
    data: {
      datasets: c.pareto.groups.map(function (g, i) {
        return { label: g.name, data: g.points, backgroundColor: palette[i % palette.length], pointRadius: 5 };
      }).concat([{ type: 'line', label: 'Pareto front', data: c.pareto.front, borderColor: '#555', borderDash: [6, 4], pointRadius: 0, fill: false, showLine: true }])
    },
    options: {
      scales: { x: { type: 'logarithmic', title: { display: true, text: 'img/s (at the batch each row states, log scale)' } }, y: { title: { display: true, text: 'top-1 (%)' } } },
      plugins: { tooltip: { callbacks: { label: function (ctx) { return ctx.raw.label + ': ' + ctx.raw.y.toFixed(2) + '% at ' + ctx.raw.x.toFixed(1) + ' img/s'; } } } }
    }
  });
  record('chart-pareto', pareto, c.pareto.groups.map(function (_, i) { return i; }));
  var int8 = new Chart(document.querySelector('#chart-int8 canvas'), {
    type: 'bar',
    data: {
      labels: c.int8.labels,
      datasets: [
        { label: 'top-1 drop (points)', data: c.int8.drop, backgroundColor: '#dc3912', yAxisID: 'y' },
        { label: 'speedup (×)', data: c.int8.speedup, backgroundColor: '#3366cc', yAxisID: 'y1' }
      ]
    },
    options: { scales: { y: { position: 'left', title: { display: true, text: 'top-1 drop (points)' } }, y1: { position: 'right', grid: { drawOnChartArea: false }, title: { display: true, text: 'speedup (×)' } } } }
  });
  document.getElementById('chart-int8').dataset.marks = JSON.stringify({ drop: drawn(int8, [0]), speedup: drawn(int8, [1]) });
  var lat = new Chart(document.querySelector('#chart-latency canvas'), {
    type: 'bar',
    data: {
      labels: c.latency.labels,
      datasets: c.latency.batches.map(function (b, i) {
        return { label: 'batch ' + b.batch + ' (p50–p99)', data: b.bars, backgroundColor: palette[i % palette.length] };
      })
    },
    options: {
      scales: { y: { type: 'logarithmic', title: { display: true, text: 'latency per batch (ms, log scale)' } } },
      plugins: { tooltip: { callbacks: { label: function (ctx) {
        var d = c.latency.batches[ctx.datasetIndex].detail[ctx.dataIndex] || {};
        var f = function (v) { return v == null ? '—' : v.toFixed(2); };
        return 'batch ' + d.batch + ': min ' + f(d.min) + ', p50 ' + f(d.p50) + ', p90 ' + f(d.p90) + ', p95 ' + f(d.p95) + ', p99 ' + f(d.p99) + ', max ' + f(d.max) + ' ms';
      } } } }
    }
  });
  record('chart-latency', lat, c.latency.batches.map(function (_, i) { return i; }));

  var table = document.getElementById('zoo');
  table.querySelectorAll('th').forEach(function (th) {
    th.addEventListener('click', function () {
      var col = Number(th.dataset.col), num = th.dataset.type === 'num';
      var dir = th.dataset.dir === 'asc' ? 'desc' : 'asc';
      table.querySelectorAll('th').forEach(function (h) { delete h.dataset.dir; });
      th.dataset.dir = dir;
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.sort, y = b.cells[col].dataset.sort;
        if (x === undefined || y === undefined) return x === y ? Number(a.dataset.index) - Number(b.dataset.index) : x === undefined ? 1 : -1;
        var r = num ? Number(x) - Number(y) : x.localeCompare(y);
        return (dir === 'asc' ? r : -r) || Number(a.dataset.index) - Number(b.dataset.index);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  document.body.dataset.ready = 'true';
})();
`;

export function renderHtml(inp: HtmlInputs, lib: { source: string; version: string } = chartLibrary()): string {
  const { report } = inp;
  const tol = inp.zooTolerance ?? DEFAULT_ZOO_TOLERANCE;
  const charts: ChartData = chartData(report.rows, inp.latency ?? []);
  const figure = (id: string, expected: unknown, caption: string, wide = false) =>
    `<figure${wide ? ' class="wide"' : ''}><div class="chart" id="${id}" data-expected='${escapeHtml(JSON.stringify(expected))}'><canvas></canvas></div><figcaption>${caption}</figcaption></figure>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(report.title)}</title>
<style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(report.title)}</h1>
${notes(report.rows)}
<h2>Zoo table</h2>
<p class="note">Click a column header to sort.</p>
${renderTable(report.rows, tol)}
${zooNote(report.rows, tol)}
<h2>Charts</h2>
<div class="charts">
${figure('chart-pareto', charts.pareto.expected, 'Top-1 vs throughput per variant and precision; the dashed line is the Pareto front (no other build is both faster and more accurate).')}
${figure('chart-int8', charts.int8.expected, 'int8 against the fp32 build of the same variant: top-1 points lost (left axis) and speedup (right axis).')}
${figure('chart-latency', charts.latency.expected, 'Latency per batch: each bar spans p50 to p99 (hover for min, p90, p95, max).', true)}
</div>
${inp.diff ? renderDiff(inp.diff) : ''}
${provenance(report)}
<footer>Charts: Chart.js ${escapeHtml(lib.version)} (MIT), inlined; this page loads nothing from the network.</footer>
<script>${lib.source}</script>
<script type="application/json" id="report-data">${jsonForScript({ charts })}</script>
<script>${APP}</script>
</body></html>
`;
}

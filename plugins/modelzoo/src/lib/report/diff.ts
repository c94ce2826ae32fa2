import type { ReportRow } from './report';

/**
 * Run-to-run comparison of zoo tables, like `dvc metrics diff`: per row and metric the old value, the
 * new one and the delta, judged against a per-metric tolerance. The same machinery gates accuracy
 * against the zoo page's own figures (the "old" side is then the published number).
 */
export type Metric = 'top1' | 'top5' | 'imgPerSec' | 'speedup';
export const METRICS: readonly Metric[] = ['top1', 'top5', 'imgPerSec', 'speedup'];

/** Accuracy: absolute points; throughput and speedup: percent of the old value. All higher-is-better. */
export interface Tolerances {
  top1: number;
  top5: number;
  imgPerSecPct: number;
  speedupPct: number;
}

/**
 * Accuracy is deterministic for a given model and dataset (0.1 points is one image in 1000); wall-clock
 * figures move run to run on a shared machine, so they get a wide band by default.
 */
export const DEFAULT_TOLERANCES: Tolerances = { top1: 0.1, top5: 0.1, imgPerSecPct: 20, speedupPct: 20 };
/** Points a pretrained full-val fp32 row may fall below the zoo's published top-1/top-5. */
export const DEFAULT_ZOO_TOLERANCE = 0.5;
export const FULL_VAL_IMAGES = 50_000;

/** Float slack so a delta exactly at the tolerance (e.g. 71.9 → 71.8 with 0.1) is not a regression. */
const EPS = 1e-9;

export type MetricStatus = 'same' | 'improved' | 'regressed' | 'gone' | 'added' | 'absent';

export interface MetricDiff {
  metric: Metric;
  old?: number;
  new?: number;
  delta?: number;
  /** delta as a percent of old (throughput-like metrics). */
  deltaPct?: number;
  /** What the tolerance allows, in words ("±0.1 pt", "−20%"). */
  allowed: string;
  status: MetricStatus;
}

export interface RowDiff {
  key: string;
  label: string;
  /** removed/new: the row is on one side only; incomparable: figures measured on different things. */
  status: 'compared' | 'new' | 'removed' | 'incomparable';
  reason?: string;
  metrics: MetricDiff[];
}

export interface Regression {
  row: string;
  metric: Metric;
  old?: number;
  new?: number;
  delta?: number;
  allowed: string;
}

export interface DiffResult {
  /** What the new run was compared with: a baseline file, or "zoo". */
  against: string;
  tolerances: Tolerances;
  rows: RowDiff[];
  regressions: Regression[];
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A row's identity across runs: project, precision and backend (ORT rows carry no backend). */
export function rowKey(r: Pick<ReportRow, 'project' | 'precision' | 'backend'>): string {
  return `${r.project}|${r.precision}|${r.backend ?? 'onnxruntime'}`;
}

export function rowLabel(r: Pick<ReportRow, 'project' | 'precision' | 'backend'>): string {
  return `${r.project} ${r.precision}${r.backend && r.backend !== 'onnxruntime' ? ` (${r.backend})` : ''}`;
}

function allowedText(metric: Metric, t: Tolerances): string {
  if (metric === 'top1' || metric === 'top5') return `−${t[metric]} pt`;
  return `−${metric === 'imgPerSec' ? t.imgPerSecPct : t.speedupPct}%`;
}

/** Judges one metric: accuracy by absolute points, throughput-like figures by percent of the old value. */
export function compareMetric(metric: Metric, oldV: number | undefined, newV: number | undefined, t: Tolerances): MetricDiff {
  const allowed = allowedText(metric, t);
  const o = isNum(oldV) ? oldV : undefined;
  const n = isNum(newV) ? newV : undefined;
  if (o === undefined && n === undefined) return { metric, allowed, status: 'absent' };
  // A figure the baseline had and this run lost (a stage that produced nothing) fails closed.
  if (n === undefined) return { metric, old: o, allowed, status: 'gone' };
  if (o === undefined) return { metric, new: n, allowed, status: 'added' };
  const delta = n - o;
  const d: MetricDiff = { metric, old: o, new: n, delta, allowed, status: 'same' };
  let beyond: number;
  if (metric === 'top1' || metric === 'top5') beyond = Math.abs(delta) - t[metric];
  else {
    const pct = o !== 0 ? (100 * delta) / Math.abs(o) : delta === 0 ? 0 : Infinity * Math.sign(delta);
    d.deltaPct = pct;
    beyond = Math.abs(pct) - (metric === 'imgPerSec' ? t.imgPerSecPct : t.speedupPct);
  }
  if (beyond > EPS) d.status = delta < 0 ? 'regressed' : 'improved';
  return d;
}

/** Why two rows' figures cannot be compared (different data or weights), if they cannot. */
function incomparable(oldR: ReportRow, newR: ReportRow): string | undefined {
  if ((oldR.weights ?? '') !== (newR.weights ?? '')) return `weights ${oldR.weights ?? '?'} → ${newR.weights ?? '?'}`;
  if (!!oldR.demoData !== !!newR.demoData) return `dataset ${oldR.demoData ? 'demo' : 'real'} → ${newR.demoData ? 'demo' : 'real'}`;
  if (isNum(oldR.images) && isNum(newR.images) && oldR.images !== newR.images) return `evaluated images ${oldR.images} → ${newR.images}`;
  const fp = (r: ReportRow) => (r as { dataset?: { fingerprint?: unknown } }).dataset?.fingerprint;
  if (typeof fp(oldR) === 'string' && typeof fp(newR) === 'string' && fp(oldR) !== fp(newR)) return 'dataset content fingerprint changed';
  return undefined;
}

const ACCURACY: readonly ('top1' | 'top5')[] = ['top1', 'top5'];

export function diffReports(
  baseline: ReportRow[],
  current: ReportRow[],
  t: Tolerances = DEFAULT_TOLERANCES,
  against = 'baseline',
): DiffResult {
  const oldByKey = new Map(baseline.map((r) => [rowKey(r), r]));
  const newKeys = new Set(current.map(rowKey));
  const rows: RowDiff[] = [];
  for (const n of current) {
    const key = rowKey(n);
    const o = oldByKey.get(key);
    if (!o) {
      rows.push({ key, label: rowLabel(n), status: 'new', metrics: METRICS.map((m) => compareMetric(m, undefined, n[m], t)) });
      continue;
    }
    const why = incomparable(o, n);
    // Accuracy on other images or other weights says nothing about a regression; speed still does.
    const metrics = METRICS.map((m) => (why && (m === 'top1' || m === 'top5') ? { ...compareMetric(m, o[m], n[m], t), status: 'absent' as const } : compareMetric(m, o[m], n[m], t)));
    rows.push({ key, label: rowLabel(n), status: why ? 'incomparable' : 'compared', ...(why ? { reason: why } : {}), metrics });
  }
  for (const o of baseline) {
    const key = rowKey(o);
    if (!newKeys.has(key)) rows.push({ key, label: rowLabel(o), status: 'removed', metrics: METRICS.map((m) => compareMetric(m, o[m], undefined, t)) });
  }
  return { against, tolerances: t, rows, regressions: regressionsOf(rows) };
}

/** A removed row is a deliberate change to the zoo (listed, not failed); a lost figure in a kept row fails. */
function regressionsOf(rows: RowDiff[]): Regression[] {
  const out: Regression[] = [];
  for (const r of rows) {
    if (r.status === 'removed' || r.status === 'new') continue;
    for (const m of r.metrics) {
      if (m.status === 'regressed' || m.status === 'gone') out.push({ row: r.label, metric: m.metric, old: m.old, new: m.new, delta: m.delta, allowed: m.allowed });
    }
  }
  return out;
}

export interface ZooCheck {
  status: 'pass' | 'fail' | 'n/a';
  /** Why there is no pass/fail, or which figure failed. */
  reason: string;
}

/**
 * The zoo page publishes float figures for its pretrained checkpoints on the 50,000 val images: only a
 * row measured the same way can pass or fail against them.
 */
export function zooApplicability(r: ReportRow): string | undefined {
  if (r.precision === 'int8') return 'the zoo publishes float figures (see the int8 drop)';
  if (r.weights !== 'pretrained') return `weights are ${r.weights ?? 'unknown'}, not the pretrained checkpoint`;
  if (r.demoData) return 'measured on the demo images';
  if (!isNum(r.images) || r.images < FULL_VAL_IMAGES) return `measured on ${isNum(r.images) ? r.images : 'no'} images, not the ${FULL_VAL_IMAGES} of ImageNet val`;
  if (!isNum(r.reference.top1) && !isNum(r.reference.top5)) return 'the zoo page lists no accuracy for this row';
  return undefined;
}

/** Accuracy against the zoo's published top-1/top-5, through the same diff as run-to-run (tolerance in points). */
export function diffAgainstZoo(current: ReportRow[], tolerance = DEFAULT_ZOO_TOLERANCE): DiffResult & { notApplicable: { row: string; reason: string }[] } {
  const t: Tolerances = { top1: tolerance, top5: tolerance, imgPerSecPct: Infinity, speedupPct: Infinity };
  const applicable = current.filter((r) => zooApplicability(r) === undefined);
  const published = applicable.map((r) => ({ ...r, top1: r.reference.top1, top5: r.reference.top5, imgPerSec: undefined, speedup: undefined }));
  const d = diffReports(published, applicable, t, 'zoo');
  // Only falling short of the page is a failure; beating it by more than the tolerance is reported, not failed.
  return {
    ...d,
    notApplicable: current.filter((r) => zooApplicability(r) !== undefined).map((r) => ({ row: rowLabel(r), reason: zooApplicability(r)! })),
  };
}

export function zooCheck(r: ReportRow, tolerance = DEFAULT_ZOO_TOLERANCE): ZooCheck {
  const na = zooApplicability(r);
  if (na) return { status: 'n/a', reason: na };
  const fails = ACCURACY.filter((m) => {
    const ref = r.reference[m];
    return isNum(ref) && (!isNum(r[m]) || r[m]! < ref - tolerance - EPS);
  });
  return fails.length
    ? { status: 'fail', reason: fails.map((m) => `${m} ${isNum(r[m]) ? r[m]!.toFixed(2) : '—'} < zoo ${r.reference[m]!.toFixed(2)} − ${tolerance}`).join('; ') }
    : { status: 'pass', reason: `within ${tolerance} pt of the zoo's top-1/top-5` };
}

const num = (v: number | undefined, digits: number) => (isNum(v) ? v.toFixed(digits) : '—');
const DIGITS: Record<Metric, number> = { top1: 2, top5: 2, imgPerSec: 1, speedup: 2 };

function deltaText(m: MetricDiff): string {
  if (!isNum(m.delta)) return '—';
  const sign = m.delta > 0 ? '+' : m.delta < 0 ? '−' : '±';
  const abs = Math.abs(m.delta).toFixed(DIGITS[m.metric]);
  return isNum(m.deltaPct) ? `${sign}${abs} (${sign}${Math.abs(m.deltaPct).toFixed(1)}%)` : `${sign}${abs}`;
}

const STATUS_MARK: Record<MetricStatus, string> = { same: '', improved: 'improved', regressed: '**REGRESSED**', gone: '**GONE**', added: 'new', absent: '' };

function tolerancesText(t: Tolerances): string {
  const pct = (v: number) => (Number.isFinite(v) ? `±${v}%` : 'not compared');
  return `top1 ±${t.top1} pt, top5 ±${t.top5} pt, img/s ${pct(t.imgPerSecPct)}, speedup ${pct(t.speedupPct)}`;
}

/** Markdown table: only rows and metrics with something on either side, so an unchanged run stays short. */
export function renderDiffMarkdown(d: DiffResult, title = 'Report diff'): string {
  const t = d.tolerances;
  const lines = [
    `# ${title}`,
    '',
    `Against: ${d.against}. Tolerances: ${tolerancesText(t)}.`,
    '',
    d.regressions.length === 0 ? '**No regressions beyond tolerance.**' : `**${d.regressions.length} regression(s) beyond tolerance.**`,
    '',
    '| row | status | metric | old | new | delta | allowed | |',
    '|---|---|---|---:|---:|---:|---:|---|',
  ];
  for (const r of d.rows) {
    const shown = r.metrics.filter((m) => m.status !== 'absent');
    const status = r.status + (r.reason ? `: ${r.reason}` : '');
    if (shown.length === 0) lines.push(`| ${escapeCell(r.label)} | ${escapeCell(status)} | | | | | | |`);
    for (const m of shown) {
      lines.push(`| ${escapeCell(r.label)} | ${escapeCell(status)} | ${m.metric} | ${num(m.old, DIGITS[m.metric])} | ${num(m.new, DIGITS[m.metric])} | ${deltaText(m)} | ${m.allowed} | ${STATUS_MARK[m.status]} |`);
    }
  }
  lines.push('');
  return lines.join('\n');
}

export function formatRegressions(d: DiffResult): string {
  return d.regressions
    .map((r) => `  - ${r.row} ${r.metric}: ${num(r.old, DIGITS[r.metric])} → ${num(r.new, DIGITS[r.metric])}${isNum(r.delta) ? ` (${r.delta > 0 ? '+' : ''}${r.delta.toFixed(DIGITS[r.metric])})` : ' (no figure)'}, allowed ${r.allowed}`)
    .join('\n');
}

/** A variant name is data: keep it from breaking the Markdown table. */
function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');
}

import type { DiffResult } from './diff';
import { rowLabel } from './diff';
import type { ReportRow } from './report';

/**
 * The few lines the main command should end with: where the report is and what it says. Also written
 * as SUMMARY_FILE into the report folder, so the end-of-run hook can print it for a cached run too.
 */
export const SUMMARY_FILE = 'summary.txt';
export const SUMMARY_MARKER = '── modelzoo report ──';

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A row the pipeline did not finish: no accuracy or no throughput figure. */
export function missingFigures(r: ReportRow): string[] {
  const missing: string[] = [];
  if (!isNum(r.top1)) missing.push('top-1');
  if (!isNum(r.imgPerSec)) missing.push('img/s');
  return missing;
}

export interface SummaryInputs {
  rows: ReportRow[];
  /** Paths to show, as the user would type them (workspace-relative). */
  files: string[];
  diff?: DiffResult;
  zoo?: DiffResult;
}

export function renderSummary(s: SummaryInputs): string {
  const { rows } = s;
  const variants = new Set(rows.map((r) => r.project)).size;
  const byPrecision = new Map<string, ReportRow>();
  for (const r of rows) {
    if (!isNum(r.top1)) continue;
    const g = r.backend && r.backend !== 'onnxruntime' ? `${r.precision} (${r.backend})` : r.precision;
    const best = byPrecision.get(g);
    if (!best || r.top1 > best.top1!) byPrecision.set(g, r);
  }
  const best = [...byPrecision].map(([g, r]) => `${g} ${r.top1!.toFixed(2)} (${r.variant})`).join(', ') || 'none measured';
  const unstable = rows.filter((r) => r.unstable).map(rowLabel);
  const failed = rows.filter((r) => missingFigures(r).length > 0).map((r) => `${rowLabel(r)} (no ${missingFigures(r).join(', no ')})`);
  const demo = rows.some((r) => r.demoData) ? ' — accuracy on the DEMO images' : '';
  const lines = [
    SUMMARY_MARKER,
    `${rows.length} rows (${variants} variants)${demo}`,
    `best top-1: ${best}`,
    `unstable: ${unstable.length ? unstable.join(', ') : 'none'}`,
    `failed rows: ${failed.length ? failed.join(', ') : 'none'}`,
  ];
  const verdict = (d: DiffResult, what: string) => {
    const improved = d.rows.flatMap((r) => r.metrics).filter((m) => m.status === 'improved').length;
    return `${what}: ${d.regressions.length ? `${d.regressions.length} REGRESSION(S)` : 'no regressions'}${improved ? `, ${improved} improved` : ''} beyond tolerance`;
  };
  if (s.diff) lines.push(verdict(s.diff, `against ${s.diff.against}`));
  if (s.zoo) lines.push(verdict(s.zoo, "against the zoo's published figures"));
  lines.push(`report: ${s.files.join('\n        ')}`);
  return lines.join('\n') + '\n';
}

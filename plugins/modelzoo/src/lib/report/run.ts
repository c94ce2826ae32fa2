import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../common/atomic';
import { UserError } from '../common/errors';
import {
  DEFAULT_TOLERANCES,
  DEFAULT_ZOO_TOLERANCE,
  type DiffResult,
  type Tolerances,
  diffAgainstZoo,
  diffReports,
  formatRegressions,
  renderDiffMarkdown,
} from './diff';
import { renderHtml, type ReportDocument } from './html';
import { latencyRows } from './html-data';
import { type ReportOptions, type ReportRow, writeReport } from './report';
import { SUMMARY_FILE, renderSummary } from './summary';
import type { VariantOutputs } from './variants';

/** The report executor's options (schema.json): the table, plus the HTML's and the gates' settings. */
export interface ReportRunOptions extends ReportOptions {
  /** A previous report.json to compare with; default: $MODELZOO_REPORT_BASELINE. */
  baseline?: string;
  tolerances?: Partial<Tolerances>;
  /** Fail when a pretrained full-val float row falls short of the zoo's published top-1/top-5. */
  gateZoo?: boolean;
  zooTolerance?: number;
}

/** Baselines come from elsewhere (CI artefacts of main): bounded and checked before anything is written. */
const MAX_BASELINE_BYTES = 16 * 1024 * 1024;

export async function readBaseline(file: string, shown: string): Promise<ReportDocument> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch {
    throw new UserError(`report: option 'baseline': ${shown} does not exist; pass the report.json of the run to compare with (e.g. main's dist/report/report.json).`);
  }
  if (!stat.isFile()) throw new UserError(`report: option 'baseline': ${shown} is not a file.`);
  if (stat.size > MAX_BASELINE_BYTES) throw new UserError(`report: option 'baseline': ${shown} is ${stat.size} bytes, over the ${MAX_BASELINE_BYTES}-byte limit for a report.json.`);
  let doc: unknown;
  try {
    doc = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw new UserError(`report: option 'baseline': ${shown} is not valid JSON (${(err as Error).message}).`);
  }
  const rows = (doc as { rows?: unknown })?.rows;
  const valid =
    Array.isArray(rows) &&
    rows.every((r) => r && typeof r === 'object' && typeof (r as ReportRow).project === 'string' && typeof (r as ReportRow).precision === 'string');
  if (!valid) throw new UserError(`report: option 'baseline': ${shown} is not a report.json (expected {"rows": [{"project", "precision", ...}]}).`);
  return doc as ReportDocument;
}

export interface ReportRunResult {
  rows: ReportRow[];
  markdown: string;
  summary: string;
  diff?: DiffResult;
  zoo?: DiffResult;
}

/**
 * Writes report.md/json, index.html and (with a baseline or gateZoo) report-diff.md + diff.json, all in
 * one atomic swap; then fails when a gate found regressions, listing them. A failed task is not cached
 * by Nx, so the next run gates again.
 */
export async function runReport(
  variants: VariantOutputs[],
  o: ReportRunOptions,
  resolve: (p: string) => string,
  workspaceRoot: string,
): Promise<ReportRunResult> {
  const baselinePath = o.baseline ?? (process.env['MODELZOO_REPORT_BASELINE']?.trim() || undefined);
  const baseline = baselinePath ? await readBaseline(resolve(baselinePath), baselinePath) : undefined;
  const tol: Tolerances = { ...DEFAULT_TOLERANCES, ...o.tolerances };
  const zooTol = o.zooTolerance ?? DEFAULT_ZOO_TOLERANCE;
  const outDir = resolve(o.outputPath);
  let diff: DiffResult | undefined;
  let zoo: (DiffResult & { notApplicable: { row: string; reason: string }[] }) | undefined;
  const files = ['report.md', 'report.json', 'index.html'];
  const { rows, markdown } = await writeReport(variants, { tag: o.tag, title: o.title, outputPath: outDir }, { root: workspaceRoot }, async (dir, report) => {
    diff = baseline ? diffReports(baseline.rows, report.rows, tol, baselinePath) : undefined;
    zoo = o.gateZoo ? diffAgainstZoo(report.rows, zooTol) : undefined;
    const latency = latencyRows(report.rows);
    await writeFileAtomic(path.join(dir, 'index.html'), renderHtml({ report, latency, diff, zooTolerance: zooTol }));
    if (diff || zoo) {
      const md = [diff ? renderDiffMarkdown(diff, `Report diff against ${baselinePath}`) : '', zoo ? renderDiffMarkdown(zoo, "Accuracy against the zoo's published figures") : ''];
      await writeFileAtomic(path.join(dir, 'report-diff.md'), md.filter(Boolean).join('\n'));
      await writeJsonAtomic(path.join(dir, 'diff.json'), { baseline: diff ?? null, zoo: zoo ?? null });
      files.push('report-diff.md', 'diff.json');
    }
    const shown = files.map((f) => path.relative(workspaceRoot, path.join(outDir, f)) || f);
    await writeFileAtomic(path.join(dir, SUMMARY_FILE), renderSummary({ rows: report.rows, files: shown, diff, zoo }));
  });
  const summary = await fs.readFile(path.join(outDir, SUMMARY_FILE), 'utf8');
  const failures: string[] = [];
  if (diff && diff.regressions.length) failures.push(`${diff.regressions.length} regression(s) against the baseline ${baselinePath} beyond tolerance:\n${formatRegressions(diff)}`);
  if (zoo) {
    if (zoo.rows.length === 0) {
      const reasons = [...new Set(zoo.notApplicable.map((n) => n.reason))].join('; ');
      failures.push(`gateZoo: no row can be gated against the zoo's figures (${reasons}). Run the pretrained weights (-c pretrained) on the 50,000 ImageNet val images, or drop gateZoo.`);
    } else if (zoo.regressions.length) failures.push(`${zoo.regressions.length} row(s) below the zoo's published figures by more than ${zooTol} pt:\n${formatRegressions(zoo)}`);
  }
  if (failures.length) {
    throw new UserError(`${failures.join('\n')}\nThe report and its diff were written to ${path.relative(workspaceRoot, outDir) || outDir} (report-diff.md); widen 'tolerances' only if the change is intended.`);
  }
  return { rows, markdown, summary, diff, zoo };
}

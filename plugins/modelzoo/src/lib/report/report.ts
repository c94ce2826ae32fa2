import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { withAtomicDir, writeFileAtomic, writeJsonAtomic } from '../common/atomic';
import type { BenchModelResult, BenchResult, BuildManifest, EvalProvenance, EvalResult, ModelCard, StoredLatencyStats } from '../results';
import { collectProvenance, type ReportProvenance } from './provenance';
import type { VariantOutputs, ZooReference } from './variants';

export interface ReportOptions {
  tag: string;
  title: string;
  outputPath: string;
}

/** One batch of a row's benchmark (for latency-per-batch charts). */
export interface ReportBenchPoint {
  batch: number;
  imgPerSec: number;
  cv?: number;
  unstable?: boolean;
  latencyMs: StoredLatencyStats;
}

export interface ReportRow {
  project: string;
  model: string;
  variant: string;
  source?: string;
  weights?: string;
  /** sha256 of the weights: the checkpoint's, else (built-in random-init) the exported model's. */
  weightsSha256?: string;
  precision: string;
  /** Absent for onnxruntime rows (the default backend). */
  backend?: 'onnxruntime' | 'vastai';
  /** Figures came from a stand-in tool (test/stand-ins), not VastAI hardware. */
  standIn?: boolean;
  top1?: number;
  top5?: number;
  /** top-1 points lost vs the fp32 build of the same variant (int8 rows). */
  top1Drop?: number;
  images?: number;
  demoData?: boolean;
  /** What was evaluated (eval.json): name, evaluated image count, content fingerprint, demo or not. */
  dataset?: EvalProvenance['dataset'];
  /** The calibration subset was left out of the evaluation. */
  holdout?: boolean;
  /** int8 rows: how the model was calibrated, on how many images, and how many of those were evaluated. */
  calibration?: { method: string; images?: number; overlap?: number };
  mmacs?: number;
  mparams?: number;
  inputSize?: number;
  /** img/s at `batch`, from the variant's paired bench run. */
  imgPerSec?: number;
  /** The batch imgPerSec and speedup are stated at (the bench run's reportBatch). */
  batch?: number;
  /** Spread (CV) of imgPerSec over the run's reps. */
  imgPerSecCv?: number;
  /** img/s ÷ the float build's, at `batch`: the median of per-rep paired ratios of the same run (int8 rows). */
  speedup?: number;
  speedupCv?: number;
  imgPerSecUnstable?: boolean;
  speedupUnstable?: boolean;
  /** A figure of this row (img/s or speedup) spread beyond the run's CV threshold. */
  unstable?: boolean;
  /** Every benchmarked batch (throughput, spread, latency percentiles). */
  bench?: ReportBenchPoint[];
  reference: ZooReference;
}

export interface ReportJson {
  title: string;
  provenance: ReportProvenance;
  rows: ReportRow[];
}

async function readOptional<T>(dir: string | undefined, file: string): Promise<T | undefined> {
  if (!dir) return undefined;
  try {
    return JSON.parse(await fs.readFile(path.join(dir, file), 'utf8')) as T;
  } catch {
    return undefined;
  }
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The entry of a paired bench.json for one precision (older single-model files are not read). */
function benchEntry(b: BenchResult | undefined, precision: string): BenchModelResult | undefined {
  return Array.isArray(b?.models) ? b.models.find((m) => m.label === precision || m.precision === precision) : undefined;
}

function benchFigures(b: BenchResult | undefined, entry: BenchModelResult | undefined, fp: BenchModelResult | undefined) {
  if (!b || !entry) return {};
  const points: ReportBenchPoint[] = (entry.results ?? [])
    .filter((r) => isNum(r.throughput))
    .map((r) => ({ batch: r.batch, imgPerSec: r.throughput, ...(isNum(r.cv) ? { cv: r.cv } : {}), ...(r.unstable ? { unstable: true } : {}), latencyMs: r.latencyMs }));
  const at = points.find((p) => p.batch === b.reportBatch);
  const out: Pick<ReportRow, 'imgPerSec' | 'batch' | 'imgPerSecCv' | 'speedup' | 'speedupCv' | 'imgPerSecUnstable' | 'speedupUnstable' | 'unstable' | 'bench'> = { bench: points };
  if (at) {
    out.imgPerSec = at.imgPerSec;
    out.batch = at.batch;
    out.imgPerSecCv = at.cv;
    if (at.unstable) out.imgPerSecUnstable = out.unstable = true;
  }
  if (fp && fp !== entry) {
    const pair = (b.pairs ?? []).find((p) => p.batch === b.reportBatch && p.of === entry.label && p.over === fp.label);
    if (pair && isNum(pair.ratio)) {
      out.speedup = pair.ratio;
      out.speedupCv = pair.cv;
      if (pair.unstable) out.speedupUnstable = out.unstable = true;
    }
  }
  return out;
}

function weightsSha(card: ModelCard | undefined): string | undefined {
  const ck = (card?.details?.['checkpoint'] as { sha256?: unknown } | undefined)?.sha256;
  return typeof ck === 'string' ? ck : card?.sha256;
}

function calibrationOf(build: BuildManifest | undefined, ev: EvalResult | undefined): ReportRow['calibration'] | undefined {
  const d = (build?.details ?? {}) as Record<string, unknown>;
  const c = (d['calibration'] ?? {}) as { images?: unknown };
  const q = (d['quantization'] ?? {}) as Record<string, unknown>;
  const mode = d['calibrate_mode'] ?? q['calibrate_mode'] ?? q['quant_mode'];
  const pct = d['percentile'] ?? q['percentile'];
  const method = typeof mode === 'string' ? `${mode}${mode === 'percentile' && isNum(pct) ? ` ${pct}` : ''}` : (ev?.calibration ? 'class-balanced subset' : undefined);
  if (!method && !ev?.calibration) return undefined;
  const images = isNum(c.images) ? c.images : ev?.calibration?.source === 'build' ? ev.calibration.images : undefined;
  return { method: method ?? 'unknown', images, overlap: ev?.calibration?.source === 'build' ? ev.calibration.overlap : undefined };
}

export async function collectRows(variants: VariantOutputs[]): Promise<ReportRow[]> {
  const rows: ReportRow[] = [];
  for (const v of variants) {
    const card = await readOptional<ModelCard>(v.exportDir, 'model-card.json');
    // The float build each int8 row is compared with, per backend.
    const float: Record<string, { top1?: number; label?: string }> = {};
    for (const b of v.builds) {
      const backend = b.backend ?? 'onnxruntime';
      const ev = await readOptional<EvalResult>(b.evalDir, 'eval.json');
      const bench = await readOptional<BenchResult>(b.benchDir, 'bench.json');
      const build = await readOptional<BuildManifest>(b.buildDir, 'build.json');
      const precision = (backend !== 'onnxruntime' ? build?.precision : undefined) ?? b.precision;
      const entry = benchEntry(bench, precision);
      if (backend !== 'onnxruntime' && !ev && !entry) continue;
      const fpEntry = b.precision === 'int8' ? benchEntry(bench, float[backend]?.label ?? (backend === 'vastai' ? 'fp16' : 'fp32')) : undefined;
      const row: ReportRow = {
        project: v.project,
        model: v.model,
        variant: v.variant,
        source: card?.source,
        weights: card?.weights,
        weightsSha256: weightsSha(card),
        precision,
        top1: isNum(ev?.top1) ? ev.top1 : undefined,
        top5: isNum(ev?.top5) ? ev.top5 : undefined,
        images: ev?.images,
        demoData: ev?.demoData,
        dataset: ev?.dataset,
        holdout: ev?.holdout,
        mmacs: card ? card.macs / 1e6 : undefined,
        mparams: card ? card.params / 1e6 : undefined,
        inputSize: card && typeof card.input.shape[2] === 'number' ? card.input.shape[2] : undefined,
        ...benchFigures(bench, entry, fpEntry),
        reference: v.reference,
      };
      if (backend !== 'onnxruntime') {
        row.backend = backend;
        if (ev?.stand_in || bench?.stand_in || build?.stand_in) row.standIn = true;
      }
      if (b.precision !== 'int8') float[backend] = { top1: row.top1, label: entry?.label ?? precision };
      else {
        const fp = float[backend] ?? {};
        if (fp.top1 !== undefined && row.top1 !== undefined) row.top1Drop = fp.top1 - row.top1;
        row.calibration = calibrationOf(build, ev);
      }
      rows.push(row);
    }
  }
  return rows;
}

/** A number the stage did not produce (absent, null in JSON, NaN) is shown as '—'. */
export const MISSING = '—';
const fmt = (v: number | null | undefined, digits: number) => (isNum(v) ? v.toFixed(digits) : MISSING);
const precisionCell = (r: ReportRow) => (r.backend ? `${r.precision} (${r.backend}${r.standIn ? ' stand-in' : ''})` : r.precision);
const atBatch = (v: string, r: ReportRow, unstable?: boolean) => (v === MISSING ? v : `${v} @${r.batch}${unstable ? ' unstable' : ''}`);

export function renderMarkdown(title: string, rows: ReportRow[], provenance?: ReportProvenance): string {
  const demo = rows.some((r) => r.demoData);
  const random = rows.some((r) => r.weights === 'random-init');
  const standIn = rows.some((r) => r.standIn);
  const unstable = rows.some((r) => r.unstable);
  const lines = [
    `# ${title}`,
    '',
    '| model | source | weights | precision | top1 | top5 | int8 drop | zoo top1 | zoo top5 | MMACs | zoo flops(M) | Mparams | zoo Mparams | input size | img/s @batch | int8 speedup @batch |',
    '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.variant} | ${r.weights ?? MISSING} | ${precisionCell(r)} | ${fmt(r.top1, 2)} | ${fmt(r.top5, 2)} | ${fmt(r.top1Drop, 2)} | ${fmt(r.reference.top1, 2)} | ${fmt(r.reference.top5, 2)} | ${fmt(r.mmacs, 1)} | ${fmt(r.reference.flopsM, 1)} | ${fmt(r.mparams, 3)} | ${fmt(r.reference.paramsM, 3)} | ${r.inputSize ?? MISSING} | ${atBatch(fmt(r.imgPerSec, 1), r, r.imgPerSecUnstable)} | ${isNum(r.speedup) ? atBatch(r.speedup.toFixed(2) + '×', r, r.speedupUnstable) : MISSING} |`,
    ),
    '',
  ];
  if (demo) lines.push('**Accuracy was measured on the built-in DEMO images, not ImageNet val**: set MODELZOO_IMAGENET_VAL for real figures.', '');
  if (standIn) {
    lines.push(
      '**Rows marked `stand-in` came from the VastAI stand-ins in test/stand-ins (ONNX Runtime on this CPU), not VastAI hardware**: their accuracy checks the VastAI path, their img/s says nothing about the card.',
      '',
    );
  }
  if (random) lines.push('Rows with `random-init` weights use the builder\'s deterministic random weights: their accuracy is chance level by design.', '');
  if (unstable) lines.push('**`unstable`**: the figure\'s spread over the benchmark\'s reps (coefficient of variation) exceeded the run\'s threshold; rerun on a quieter machine before trusting it.', '');
  lines.push(
    `MMACs: Conv/Gemm multiply-accumulates counted from the ONNX graph (the zoo's flops(M) column also counts BN/activation ops); img/s @batch: the median over the interleaved reps at that batch on this machine; int8 speedup: the median of per-rep int8 ÷ float ratios of the same paired run at that batch; ${MISSING}: not measured.`,
    '',
    '## Provenance',
    '',
  );
  if (provenance) {
    const p = provenance;
    const quota = p.machine.cpuQuota?.cores ? `, cgroup CPU quota ${p.machine.cpuQuota.cores} cores` : '';
    lines.push(
      `Made ${p.date} from commit ${p.git.commit ?? 'unknown (not a git checkout)'}${p.git.dirty ? ' with uncommitted changes (dirty)' : p.git.dirty === false ? ' (clean)' : ''}, on ${p.machine.cpu}, ${p.machine.cores} cores${quota}, ${p.machine.platform}; Node.js ${p.versions.node}, Nx ${p.versions.nx ?? '?'}, ONNX Runtime ${p.versions.onnxruntime ?? '?'}.`,
      '',
    );
  }
  lines.push(
    '| model | source | precision | dataset | evaluated images | dataset fingerprint | holdout | weights sha256 | calibration | calibration images | of them evaluated |',
    '|---|---|---|---|---:|---|---|---|---|---:|---:|',
    ...rows.map((r) => {
      const d = r.dataset;
      const ds = d ? `${d.name}${d.demo ? ' (demo)' : ''}` : r.demoData ? 'demo' : MISSING;
      const c = r.calibration;
      return `| ${r.model} | ${r.variant} | ${precisionCell(r)} | ${ds} | ${d?.images ?? r.images ?? MISSING} | ${d ? d.fingerprint.slice(0, 12) : MISSING} | ${r.holdout === undefined ? MISSING : r.holdout ? 'yes' : 'no'} | ${r.weightsSha256 ? r.weightsSha256.slice(0, 12) : MISSING} | ${c?.method ?? (r.precision === 'int8' ? MISSING : '')} | ${c ? (c.images ?? MISSING) : ''} | ${c ? (c.overlap ?? MISSING) : ''} |`;
    }),
    '',
    'Calibration images among the evaluated ones: the zoo itself calibrates on 1000 ImageNet val images and evaluates on all 50,000 (1000 overlap); `holdout` evaluates fp32 and int8 on the images outside the calibration subset (0 overlap).',
    '',
  );
  return lines.join('\n');
}

/** `extra` writes further files (HTML, diff) into the same output directory before it is swapped in. */
export async function writeReport(
  variants: VariantOutputs[],
  o: ReportOptions,
  env: { root?: string } = {},
  extra?: (dir: string, report: ReportJson) => Promise<void>,
): Promise<{ rows: ReportRow[]; markdown: string; provenance: ReportProvenance }> {
  const rows = await collectRows(variants);
  // Date and commit are outputs of the report only: no other task hashes report.json.
  const provenance = await collectProvenance(env.root ?? process.cwd());
  const markdown = renderMarkdown(o.title, rows, provenance);
  const json: ReportJson = { title: o.title, provenance, rows };
  await withAtomicDir(o.outputPath, async (dir) => {
    await writeJsonAtomic(path.join(dir, 'report.json'), json);
    await writeFileAtomic(path.join(dir, 'report.md'), markdown);
    await extra?.(dir, json);
  });
  return { rows, markdown, provenance };
}

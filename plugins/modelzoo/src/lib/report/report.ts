import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { withAtomicDir, writeFileAtomic, writeJsonAtomic } from '../common/atomic';
import type { BenchResult, BuildManifest, EvalResult, ModelCard } from '../results';
import type { VariantOutputs, ZooReference } from './variants';

export interface ReportOptions {
  tag: string;
  title: string;
  outputPath: string;
}

export interface ReportRow {
  project: string;
  model: string;
  variant: string;
  source?: string;
  weights?: string;
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
  mmacs?: number;
  mparams?: number;
  inputSize?: number;
  imgPerSec?: number;
  /** img/s of this build ÷ the fp32 build's, at the same batch (int8 rows). */
  speedup?: number;
  reference: ZooReference;
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

/** Best throughput over the swept batch sizes, as the zoo reports "img/s". */
function bestThroughput(b: BenchResult | undefined): { imgPerSec: number; batch: number } | undefined {
  const rows = (b?.results ?? []).filter((r) => isNum(r.throughput));
  if (rows.length === 0) return undefined;
  const best = rows.reduce((a, r) => (r.throughput > a.throughput ? r : a));
  return { imgPerSec: best.throughput, batch: best.batch };
}

export async function collectRows(variants: VariantOutputs[]): Promise<ReportRow[]> {
  const rows: ReportRow[] = [];
  for (const v of variants) {
    const card = await readOptional<ModelCard>(v.exportDir, 'model-card.json');
    // The float build each int8 row is compared with, per backend.
    const float: Record<string, { top1?: number; bench?: BenchResult }> = {};
    for (const b of v.builds) {
      const backend = b.backend ?? 'onnxruntime';
      const ev = await readOptional<EvalResult>(b.evalDir, 'eval.json');
      const bench = await readOptional<BenchResult>(b.benchDir, 'bench.json');
      if (backend !== 'onnxruntime' && !ev && !bench) continue;
      const build = backend !== 'onnxruntime' ? await readOptional<BuildManifest>(b.buildDir, 'build.json') : undefined;
      const tp = bestThroughput(bench);
      const row: ReportRow = {
        project: v.project,
        model: v.model,
        variant: v.variant,
        source: card?.source,
        weights: card?.weights,
        precision: build?.precision ?? b.precision,
        top1: isNum(ev?.top1) ? ev.top1 : undefined,
        top5: isNum(ev?.top5) ? ev.top5 : undefined,
        images: ev?.images,
        demoData: ev?.demoData,
        mmacs: card ? card.macs / 1e6 : undefined,
        mparams: card ? card.params / 1e6 : undefined,
        inputSize: card && typeof card.input.shape[2] === 'number' ? card.input.shape[2] : undefined,
        imgPerSec: tp?.imgPerSec,
        reference: v.reference,
      };
      if (backend !== 'onnxruntime') {
        row.backend = backend;
        if (ev?.stand_in || bench?.stand_in || build?.stand_in) row.standIn = true;
      }
      if (b.precision !== 'int8') float[backend] = { top1: row.top1, bench };
      else {
        const fp = float[backend] ?? {};
        if (fp.top1 !== undefined && row.top1 !== undefined) row.top1Drop = fp.top1 - row.top1;
        const base = fp.bench?.results.find((r) => r.batch === tp?.batch);
        if (base && tp && isNum(base.throughput) && base.throughput > 0) row.speedup = tp.imgPerSec / base.throughput;
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

export function renderMarkdown(title: string, rows: ReportRow[]): string {
  const demo = rows.some((r) => r.demoData);
  const random = rows.some((r) => r.weights === 'random-init');
  const standIn = rows.some((r) => r.standIn);
  const lines = [
    `# ${title}`,
    '',
    '| model | source | weights | precision | top1 | top5 | int8 drop | zoo top1 | zoo top5 | MMACs | zoo flops(M) | Mparams | zoo Mparams | input size | img/s | int8 speedup |',
    '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.variant} | ${r.weights ?? MISSING} | ${precisionCell(r)} | ${fmt(r.top1, 2)} | ${fmt(r.top5, 2)} | ${fmt(r.top1Drop, 2)} | ${fmt(r.reference.top1, 2)} | ${fmt(r.reference.top5, 2)} | ${fmt(r.mmacs, 1)} | ${fmt(r.reference.flopsM, 1)} | ${fmt(r.mparams, 3)} | ${fmt(r.reference.paramsM, 3)} | ${r.inputSize ?? MISSING} | ${fmt(r.imgPerSec, 1)} | ${isNum(r.speedup) ? r.speedup.toFixed(2) + '×' : MISSING} |`,
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
  lines.push(`MMACs: Conv/Gemm multiply-accumulates counted from the ONNX graph (the zoo's flops(M) column also counts BN/activation ops); img/s: best over the benchmarked batch sizes on this machine; ${MISSING}: not measured.`, '');
  return lines.join('\n');
}

/** `extra` writes further files (HTML, diff) into the same output directory before it is swapped in. */
export async function writeReport(
  variants: VariantOutputs[],
  o: ReportOptions,
  extra?: (dir: string, report: { title: string; rows: ReportRow[] }) => Promise<void>,
): Promise<{ rows: ReportRow[]; markdown: string }> {
  const rows = await collectRows(variants);
  const markdown = renderMarkdown(o.title, rows);
  await withAtomicDir(o.outputPath, async (dir) => {
    const report = { title: o.title, rows };
    await writeJsonAtomic(path.join(dir, 'report.json'), report);
    await writeFileAtomic(path.join(dir, 'report.md'), markdown);
    await extra?.(dir, report);
  });
  return { rows, markdown };
}

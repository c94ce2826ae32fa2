import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { withAtomicDir, writeFileAtomic, writeJsonAtomic } from '../common/atomic';
import type { BenchResult, EvalResult, ModelCard } from '../results';
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

/** Best throughput over the swept batch sizes, as the zoo reports "img/s". */
function bestThroughput(b: BenchResult | undefined): { imgPerSec: number; batch: number } | undefined {
  if (!b || b.results.length === 0) return undefined;
  const best = b.results.reduce((a, r) => (r.throughput > a.throughput ? r : a));
  return { imgPerSec: best.throughput, batch: best.batch };
}

export async function collectRows(variants: VariantOutputs[]): Promise<ReportRow[]> {
  const rows: ReportRow[] = [];
  for (const v of variants) {
    const card = await readOptional<ModelCard>(v.exportDir, 'model-card.json');
    let fp32: { top1?: number; bench?: BenchResult } = {};
    for (const b of v.builds) {
      const ev = await readOptional<EvalResult>(b.evalDir, 'eval.json');
      const bench = await readOptional<BenchResult>(b.benchDir, 'bench.json');
      const tp = bestThroughput(bench);
      const row: ReportRow = {
        project: v.project,
        model: v.model,
        variant: v.variant,
        source: card?.source,
        weights: card?.weights,
        precision: b.precision,
        top1: ev?.top1,
        top5: ev?.top5,
        images: ev?.images,
        demoData: ev?.demoData,
        mmacs: card ? card.macs / 1e6 : undefined,
        mparams: card ? card.params / 1e6 : undefined,
        inputSize: card && typeof card.input.shape[2] === 'number' ? card.input.shape[2] : undefined,
        imgPerSec: tp?.imgPerSec,
        reference: v.reference,
      };
      if (b.precision === 'fp32') fp32 = { top1: ev?.top1, bench };
      else {
        if (fp32.top1 !== undefined && ev) row.top1Drop = fp32.top1 - ev.top1;
        const base = fp32.bench?.results.find((r) => r.batch === tp?.batch);
        if (base && tp) row.speedup = tp.imgPerSec / base.throughput;
      }
      rows.push(row);
    }
  }
  return rows;
}

const fmt = (v: number | undefined, digits: number) => (v === undefined ? '–' : v.toFixed(digits));

export function renderMarkdown(title: string, rows: ReportRow[]): string {
  const demo = rows.some((r) => r.demoData);
  const random = rows.some((r) => r.weights === 'random-init');
  const lines = [
    `# ${title}`,
    '',
    '| model | source | weights | precision | top1 | top5 | int8 drop | zoo top1 | zoo top5 | MMACs | zoo flops(M) | Mparams | zoo Mparams | input size | img/s | int8 speedup |',
    '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.variant} | ${r.weights ?? '–'} | ${r.precision} | ${fmt(r.top1, 2)} | ${fmt(r.top5, 2)} | ${fmt(r.top1Drop, 2)} | ${fmt(r.reference.top1, 2)} | ${fmt(r.reference.top5, 2)} | ${fmt(r.mmacs, 1)} | ${fmt(r.reference.flopsM, 1)} | ${fmt(r.mparams, 3)} | ${fmt(r.reference.paramsM, 3)} | ${r.inputSize ?? '–'} | ${fmt(r.imgPerSec, 1)} | ${r.speedup ? r.speedup.toFixed(2) + '×' : '–'} |`,
    ),
    '',
  ];
  if (demo) lines.push('**Accuracy was measured on the built-in DEMO images, not ImageNet val**: set MODELZOO_IMAGENET_VAL for real figures.', '');
  if (random) lines.push('Rows with `random-init` weights use the builder\'s deterministic random weights: their accuracy is chance level by design.', '');
  lines.push('MMACs: Conv/Gemm multiply-accumulates counted from the ONNX graph (the zoo\'s flops(M) column also counts BN/activation ops); img/s: best over the benchmarked batch sizes on this machine.', '');
  return lines.join('\n');
}

export async function writeReport(
  variants: VariantOutputs[],
  o: ReportOptions,
): Promise<{ rows: ReportRow[]; markdown: string }> {
  const rows = await collectRows(variants);
  const markdown = renderMarkdown(o.title, rows);
  await withAtomicDir(o.outputPath, async (dir) => {
    await writeJsonAtomic(path.join(dir, 'report.json'), { title: o.title, rows });
    await writeFileAtomic(path.join(dir, 'report.md'), markdown);
  });
  return { rows, markdown };
}

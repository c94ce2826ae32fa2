import * as fs from 'node:fs';
import * as path from 'node:path';
import { MOBILENETV2_SEED } from '../../plugins/modelzoo/src/lib/nx/seed-table';
import { variantProject } from '../../plugins/modelzoo/src/lib/nx/variant-project';
import { type VariantOutputs, variantsFromProjects } from '../../plugins/modelzoo/src/lib/report/variants';

/**
 * The result files a zoo run leaves (model card, eval.json per precision, the paired bench.json) for every seed
 * row, with made-up but plausible figures: enough for the report's HTML, diff and summary, without
 * running a model. `name` overrides the first row's variant label (to try hostile names).
 */
export interface FixtureOptions {
  weights?: string;
  images?: number;
  demoData?: boolean;
  /** top-1 offset from the zoo's figure (fp32 rows). */
  top1Offset?: number;
  throughputScale?: number;
  firstVariantName?: string;
}

function writeJson(file: string, v: unknown) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(v));
}

export function writeReportFixture(root: string, o: FixtureOptions = {}): { variants: VariantOutputs[]; projects: Record<string, any> } {
  const resolve = (p: string) => path.join(root, p);
  const projects: Record<string, any> = {};
  for (const spec of MOBILENETV2_SEED) {
    const p = variantProject(spec, `models/mobilenetv2/${spec.row}`) as any;
    if (spec === MOBILENETV2_SEED[0] && o.firstVariantName) p.targets['onnx-export'].options.variant = o.firstVariantName;
    projects[`mobilenetv2-${spec.row}`] = p;
  }
  const variants = variantsFromProjects(projects, 'variant', resolve);
  MOBILENETV2_SEED.forEach((spec, i) => {
    const base = resolve(`dist/models/mobilenetv2/${spec.row}`);
    const zoo = spec.zoo!;
    const macs = zoo.flopsM! * 0.92e6;
    writeJson(`${base}/export/model-card.json`, { source: 'builtin', weights: o.weights ?? 'pretrained', macs, params: zoo.paramsM! * 1e6, input: { shape: ['N', 3, 224, 224] } });
    const top1 = zoo.top1! + (o.top1Offset ?? -0.3) + (i % 3) * 0.1;
    const ev = (t1: number) => ({ top1: t1, top5: zoo.top5! - 0.2, images: o.images ?? 50000, demoData: o.demoData ?? false });
    writeJson(`${base}/eval/eval.json`, ev(top1));
    writeJson(`${base}/eval-int8/eval.json`, ev(top1 - 0.4 - (i % 4) * 0.3));
    const fp32 = (3.0e10 / macs) * (o.throughputScale ?? 1);
    const speedup = 1.5 + (i % 5) * 0.2;
    const tp: Record<number, [number, number]> = {};
    const ratio: Record<number, number> = {};
    for (const batch of [1, 8, 32]) {
      const t = fp32 * (batch === 1 ? 0.45 : batch === 8 ? 0.9 : 1);
      tp[batch] = [t, t * speedup];
      ratio[batch] = speedup;
    }
    const latency = (t: number, batch: number) => {
      const p50 = (1000 * batch) / t;
      return { min: p50 * 0.9, mean: p50 * 1.02, p50, p90: p50 * 1.1, p95: p50 * 1.15, p99: p50 * 1.3, max: p50 * 1.6 };
    };
    writeJson(`${base}/bench/bench.json`, pairedBench({ labels: ['fp32', 'int8'], tp, ratio, reportBatch: 32, latency }));
  });
  return { variants, projects };
}

/** A paired bench.json as vamp-bench writes it (format modelzoo-bench/2). */
export function pairedBench(o: {
  backend?: string;
  labels: [string, string];
  tp: Record<number, [number, number]>;
  ratio: Record<number, number>;
  reportBatch: number;
  cv?: number;
  standIn?: boolean;
  /** Latency percentiles of one model at one batch (default: a fixed set). */
  latency?: (throughput: number, batch: number) => Record<string, number>;
}) {
  const batches = Object.keys(o.tp).map(Number);
  const lat = { min: 1, mean: 2, p50: 2, p90: 3, p95: 3, p99: 4, max: 5 };
  return {
    format: 'modelzoo-bench/2',
    backend: o.backend ?? 'onnxruntime',
    ...(o.standIn ? { stand_in: true } : {}),
    reportBatch: o.reportBatch,
    models: o.labels.map((label, k) => ({
      label,
      precision: label,
      results: batches.map((b) => ({ batch: b, throughput: o.tp[b]![k], cv: o.cv ?? 0.02, unstable: (o.cv ?? 0.02) > 0.1, latencyMs: o.latency?.(o.tp[b]![k]!, b) ?? lat })),
    })),
    pairs: batches.map((b) => ({ batch: b, of: o.labels[1], over: o.labels[0], ratio: o.ratio[b], cv: 0.03, unstable: false, ratios: [o.ratio[b]] })),
  };
}

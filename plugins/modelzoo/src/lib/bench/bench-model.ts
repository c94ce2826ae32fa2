import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { readJson, withAtomicDir, writeFileAtomic, writeJsonAtomic } from '../common/atomic';
import { UserError } from '../common/errors';
import { readVerified } from '../common/verify';
import { BUILD_MANIFEST } from '../build/build-model';
import { BENCH_FORMAT, type BenchResult, type BuildManifest } from '../results';
import { ort } from '../runtime/session';
import { benchEnvironment, loadAverage } from './machine';
import { formatBenchTable, runBench } from './run-bench';

/** How long and how often to measure; shared by both backends (executors/vamp-bench/schema.json). */
export interface BenchSettings {
  batch: number | number[];
  threads: number;
  instances: number;
  warmup: number;
  /** Interleaved repetitions per (model, batch). */
  reps: number;
  /** Seconds per (model, batch). */
  duration: number;
  /** Fixed timed runs per rep instead of duration. */
  iterations?: number;
  /** Per-rep coefficient of variation above which a figure is marked unstable. */
  cvThreshold: number;
  /** The batch the report states img/s and the speedup at (default: the largest benchmarked). */
  reportBatch?: number;
}

export interface BenchModelOptions extends BenchSettings {
  /** vamc-build output directories, measured together; the first is the baseline of every ratio. */
  models: string[];
  outputPath: string;
  /** `project:target` that wrote each of `models`, named when one fails its sha256 check. */
  producers?: (string | undefined)[];
}

export const BENCH_FILE = 'bench.json';

export function benchBatches(s: Pick<BenchSettings, 'batch' | 'reportBatch'>, where = 'vamp-bench'): { batches: number[]; reportBatch: number } {
  const batches = Array.isArray(s.batch) ? s.batch : [s.batch];
  const reportBatch = s.reportBatch ?? Math.max(...batches);
  if (!batches.includes(reportBatch)) {
    throw new UserError(`${where}: option reportBatch ${reportBatch} is not one of the benchmarked batches [${batches.join(', ')}]; add it to 'batch' or drop 'reportBatch'`);
  }
  return { batches, reportBatch };
}

/** The labels of a paired run: each build's precision, made unique if two builds share one. */
export function uniqueLabels(precisions: string[]): string[] {
  return precisions.map((p, i) => (precisions.indexOf(p) === i ? p : `${p}#${i + 1}`));
}

/**
 * Reads a built model and checks it against build.json's sha256, so a file swapped or corrupted after
 * the build is never measured under the build's name.
 */
export async function readVerifiedModel(dir: string, build: BuildManifest, producer?: string): Promise<Uint8Array> {
  return readVerified(path.join(dir, build.model), build.sha256, 'vamp-bench: the built model', producer);
}

/** The ONNX Runtime version measured with. */
export function onnxRuntimeVersion(): string | null {
  return (ort.env.versions as { node?: string; common?: string } | undefined)?.node ?? null;
}

/** Writes bench.json (BenchResult) and bench.md (the table) into outputPath. */
export async function benchModel(o: BenchModelOptions): Promise<BenchResult> {
  const { batches, reportBatch } = benchBatches(o);
  if (o.models.length === 0) throw new UserError('vamp-bench: option models is empty; name at least one vamc-build output');
  const builds: BuildManifest[] = [];
  const bytes: Uint8Array[] = [];
  let shape: [number, number, number] | undefined;
  for (const dir of o.models) {
    const build = await readJson<BuildManifest>(path.join(dir, BUILD_MANIFEST), 'vamp-bench option models');
    const [, c, h, w] = build.inputShape;
    if (typeof c !== 'number' || typeof h !== 'number' || typeof w !== 'number') {
      throw new UserError(`vamp-bench: model input shape [${build.inputShape}] of ${dir} must have fixed C, H, W`);
    }
    if (shape && (shape[0] !== c || shape[1] !== h || shape[2] !== w)) {
      throw new UserError(`vamp-bench: ${dir} takes [${c}, ${h}, ${w}] but ${o.models[0]} takes [${shape}]; paired models must take the same input`);
    }
    shape = [c, h, w];
    builds.push(build);
    bytes.push(await readVerifiedModel(dir, build, o.producers?.[builds.length - 1]));
  }
  const labels = uniqueLabels(builds.map((b) => b.precision));
  const startedAt = new Date().toISOString();
  const before = loadAverage();
  const run = await runBench({
    models: builds.map((b, i) => ({ label: labels[i]!, model: bytes[i]!, inputName: 'image_u8', inputType: b.inputDtype })),
    imageShape: shape!,
    batches,
    threads: o.threads,
    instances: o.instances,
    warmup: o.warmup,
    reps: o.reps,
    durationSec: o.duration,
    iterations: o.iterations,
    cvThreshold: o.cvThreshold,
    onConfig: (label, r) => {
      if (!process.env['MODELZOO_QUIET']) {
        process.stderr.write(`[bench] ${label} batch ${r.batch}: ${r.throughput.toFixed(1)} img/s (CV ${((r.cv ?? 0) * 100).toFixed(1)}%), p50 ${r.latencyMs.p50.toFixed(2)} ms\n`);
      }
    },
  });
  const result: BenchResult = {
    format: BENCH_FORMAT,
    backend: 'onnxruntime',
    startedAt,
    finishedAt: new Date().toISOString(),
    load: { before, after: loadAverage() },
    machine: benchEnvironment(),
    runtime: { name: 'onnxruntime-node', version: onnxRuntimeVersion() },
    settings: {
      batches,
      threads: o.threads,
      instances: o.instances,
      warmup: o.warmup,
      reps: o.reps,
      durationSec: o.iterations ? null : o.duration,
      iterations: o.iterations ?? null,
      cvThreshold: o.cvThreshold,
    },
    reportBatch,
    models: builds.map((b, i) => ({
      label: labels[i]!,
      model: o.models[i]!,
      sha256: b.sha256,
      precision: b.precision,
      weights: b.weights,
      results: run.results[labels[i]!]!,
    })),
    pairs: run.pairs,
  };
  const table = renderBenchMarkdown(result);
  await withAtomicDir(o.outputPath, async (dir) => {
    await writeJsonAtomic(path.join(dir, BENCH_FILE), result);
    await writeFileAtomic(path.join(dir, 'bench.md'), table + '\n');
  });
  process.stdout.write(table + '\n');
  return result;
}

/** bench.md: every model's rows, then the paired ratios and the conditions they were measured under. */
export function renderBenchMarkdown(b: BenchResult): string {
  const rows = b.models.flatMap((m) => m.results.map((r) => ({ ...r, label: m.label, latencyMs: nullsToNaN(r.latencyMs), seconds: r.seconds ?? NaN })));
  const lines = [formatBenchTable(rows), ''];
  for (const p of b.pairs) {
    lines.push(`${p.of} ÷ ${p.over} at batch ${p.batch}: **${p.ratio.toFixed(2)}×** (median of ${p.ratios.length} paired reps, CV ${(p.cv * 100).toFixed(1)}%${p.unstable ? ', unstable' : ''})`);
  }
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' ');
  lines.push(
    '',
    `${b.stand_in ? 'stand-in (not VastAI hardware), ' : ''}${b.machine.cpu}, ${b.machine.cores} cores${b.machine.cpuQuota?.cores ? ` (cgroup quota ${b.machine.cpuQuota.cores} cores)` : ''}, ${b.runtime.name} ${b.runtime.version ?? '?'}; started ${b.startedAt}; load average ${load(b.load.before)} before, ${load(b.load.after)} after.`,
  );
  return lines.join('\n');
}

const nullsToNaN = <T extends Record<string, number | null>>(o: T) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v ?? NaN])) as { [K in keyof T]: number };

import type { BenchConfigResult, PairedRatio } from '../results';
import { createSession, ort } from '../runtime/session';
import { latencyStats, median } from './latency';
import { coefficientOfVariation, pairedRatio } from './stats';

export interface BenchModelInput {
  /** Label in results (e.g. the precision). */
  label: string;
  model: string | Uint8Array;
  inputName: string;
  inputType: 'uint8' | 'float32';
}

export interface BenchOptions {
  /** One or more models measured in one run, interleaved rep by rep; every ratio is against models[0]. */
  models: BenchModelInput[];
  /** [C, H, W] */
  imageShape: [number, number, number];
  batches: number[];
  threads: number;
  instances: number;
  warmup: number;
  /** Repetitions per (model, batch); a figure's spread is taken over them. */
  reps: number;
  /** Seconds per (model, batch) over all reps; each rep runs at least one iteration. */
  durationSec: number;
  /** Fixed timed runs per rep per instance instead of durationSec (deterministic test runs). */
  iterations?: number;
  /** A figure whose per-rep CV exceeds this is marked unstable. */
  cvThreshold: number;
  /** ONNX Runtime worker spinning (default: on for a single session, off when sessions alternate). */
  spinning?: boolean;
  onConfig?: (label: string, r: BenchConfigResult) => void;
}

export interface BenchRun {
  /** Per model label, one row per batch. */
  results: Record<string, BenchConfigResult[]>;
  /** Per batch, every other model ÷ models[0]. */
  pairs: PairedRatio[];
}

/**
 * Throughput and latency per (model, batch). All models' sessions are loaded together and measured in
 * alternating reps, forward order on even reps and reverse on odd ones (ABBA), so a slow phase of the
 * machine hits every model alike and each rep's ratio is a fair pair. Inside a rep the loop only
 * brackets session.run with timestamps, so the harness adds nothing measurable over a bare loop
 * (tools/bench-harness.ts checks that).
 */
export async function runBench(opts: BenchOptions): Promise<BenchRun> {
  if (opts.models.length === 0) throw new Error('bench: no model');
  if (!(opts.reps >= 1)) throw new Error(`bench: reps must be at least 1, got ${opts.reps}`);
  const spinning = opts.spinning ?? (opts.models.length === 1 && opts.instances === 1 ? undefined : false);
  const sessions: ort.InferenceSession[][] = [];
  try {
    for (const m of opts.models) {
      sessions.push(
        await Promise.all(
          Array.from({ length: opts.instances }, () => createSession(m.model, spinning === undefined ? { threads: opts.threads } : { threads: opts.threads, spinning })),
        ),
      );
    }
    const results: Record<string, BenchConfigResult[]> = Object.fromEntries(opts.models.map((m) => [m.label, []]));
    const pairs: PairedRatio[] = [];
    const sliceNs = BigInt(Math.max(1, Math.round((opts.durationSec / opts.reps) * 1e9)));
    for (const batch of opts.batches) {
      const feeds = opts.models.map((m) => ({ [m.inputName]: makeInput(m.inputType, batch, opts.imageShape) }));
      for (let m = 0; m < opts.models.length; m++) {
        for (const s of sessions[m]!) for (let i = 0; i < opts.warmup; i++) await s.run(feeds[m]!);
      }
      const perRep = opts.models.map(() => [] as number[]);
      const latencies = opts.models.map(() => [] as number[]);
      const runs = opts.models.map(() => 0);
      const seconds = opts.models.map(() => 0);
      for (let rep = 0; rep < opts.reps; rep++) {
        const order = opts.models.map((_, i) => i);
        if (rep % 2 === 1) order.reverse();
        for (const m of order) {
          const lat = latencies[m]!;
          const feed = feeds[m]!;
          let n = 0;
          const start = process.hrtime.bigint();
          const deadline = start + sliceNs;
          await Promise.all(
            sessions[m]!.map(async (s) => {
              for (let i = 0; opts.iterations ? i < opts.iterations : i === 0 || process.hrtime.bigint() < deadline; i++) {
                const t0 = process.hrtime.bigint();
                await s.run(feed);
                lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
                n++;
              }
            }),
          );
          const secs = Number(process.hrtime.bigint() - start) / 1e9;
          perRep[m]!.push((n * batch) / secs);
          runs[m]! += n;
          seconds[m]! += secs;
        }
      }
      opts.models.forEach((model, m) => {
        const cv = coefficientOfVariation(perRep[m]!);
        const r: BenchConfigResult = {
          batch,
          threads: opts.threads,
          instances: opts.instances,
          iterations: runs[m]!,
          seconds: seconds[m]!,
          throughput: median(perRep[m]!),
          latencyMs: latencyStats(latencies[m]!),
          reps: perRep[m]!,
          cv,
          unstable: cv > opts.cvThreshold,
        };
        results[model.label]!.push(r);
        opts.onConfig?.(model.label, r);
      });
      for (let m = 1; m < opts.models.length; m++) {
        const p = pairedRatio(perRep[0]!, perRep[m]!);
        pairs.push({ batch, of: opts.models[m]!.label, over: opts.models[0]!.label, ratio: p.median, cv: p.cv, unstable: p.cv > opts.cvThreshold, ratios: p.ratios });
      }
    }
    return { results, pairs };
  } finally {
    await Promise.all(sessions.flat().map((s) => s.release()));
  }
}

/** Deterministic image-like input: the figures must not depend on a random draw. */
export function makeInput(type: 'uint8' | 'float32', batch: number, shape: [number, number, number]): ort.Tensor {
  const n = batch * shape[0] * shape[1] * shape[2];
  if (type === 'uint8') {
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = (i * 2654435761) >>> 24;
    return new ort.Tensor('uint8', data, [batch, ...shape]);
  }
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = ((i * 2654435761) >>> 24) / 127.5 - 1;
  return new ort.Tensor('float32', data, [batch, ...shape]);
}

const pct = (v: number | undefined) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '—');

export function formatBenchTable(rows: (BenchConfigResult & { label?: string })[]): string {
  const head = '| model | batch | threads | instances | img/s | CV | p50 ms | p90 ms | p95 ms | p99 ms | mean ms |';
  const sep = '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const f = (v: number) => v.toFixed(2);
  const body = rows.map(
    (r) =>
      `| ${r.label ?? ''} | ${r.batch} | ${r.threads} | ${r.instances} | ${r.throughput.toFixed(1)}${r.unstable ? ' (unstable)' : ''} | ${pct(r.cv)} | ${f(r.latencyMs.p50)} | ${f(r.latencyMs.p90)} | ${f(r.latencyMs.p95)} | ${f(r.latencyMs.p99)} | ${f(r.latencyMs.mean)} |`,
  );
  return [head, sep, ...body].join('\n');
}

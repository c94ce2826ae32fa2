import type { BenchConfigResult } from '../results';
import { createSession, ort } from '../runtime/session';
import { latencyStats } from './latency';

export interface BenchOptions {
  model: string | Uint8Array;
  inputName: string;
  inputType: 'uint8' | 'float32';
  /** [C, H, W] */
  imageShape: [number, number, number];
  batches: number[];
  threads: number;
  instances: number;
  warmup: number;
  /** Timed runs per instance; ignored when durationSec is set. */
  iterations: number;
  durationSec?: number;
  onConfig?: (r: BenchConfigResult) => void;
}

/**
 * Throughput and latency per (batch, threads, instances). Each instance is its own session running
 * back to back; instances run concurrently. The loop only brackets session.run with timestamps so the
 * harness adds nothing measurable over a bare loop (tools/bench-harness.ts checks that).
 */
export async function runBench(opts: BenchOptions): Promise<BenchConfigResult[]> {
  const results: BenchConfigResult[] = [];
  for (const batch of opts.batches) {
    const sessions = await Promise.all(
      Array.from({ length: opts.instances }, () => createSession(opts.model, { threads: opts.threads })),
    );
    try {
      const feeds = { [opts.inputName]: makeInput(opts.inputType, batch, opts.imageShape) };
      for (const s of sessions) for (let i = 0; i < opts.warmup; i++) await s.run(feeds);
      const latencies: number[] = [];
      const start = process.hrtime.bigint();
      const deadline = opts.durationSec ? start + BigInt(Math.round(opts.durationSec * 1e9)) : undefined;
      let runs = 0;
      await Promise.all(
        sessions.map(async (s) => {
          for (let i = 0; deadline ? process.hrtime.bigint() < deadline : i < opts.iterations; i++) {
            const t0 = process.hrtime.bigint();
            await s.run(feeds);
            latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
            runs++;
          }
        }),
      );
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const r: BenchConfigResult = {
        batch,
        threads: opts.threads,
        instances: opts.instances,
        iterations: runs,
        seconds,
        throughput: (runs * batch) / seconds,
        latencyMs: latencyStats(latencies),
      };
      results.push(r);
      opts.onConfig?.(r);
    } finally {
      await Promise.all(sessions.map((s) => s.release()));
    }
  }
  return results;
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

export function formatBenchTable(rows: BenchConfigResult[]): string {
  const head = '| batch | threads | instances | img/s | p50 ms | p90 ms | p95 ms | p99 ms | mean ms |';
  const sep = '|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const f = (v: number) => v.toFixed(2);
  const body = rows.map(
    (r) =>
      `| ${r.batch} | ${r.threads} | ${r.instances} | ${r.throughput.toFixed(1)} | ${f(r.latencyMs.p50)} | ${f(r.latencyMs.p90)} | ${f(r.latencyMs.p95)} | ${f(r.latencyMs.p99)} | ${f(r.latencyMs.mean)} |`,
  );
  return [head, sep, ...body].join('\n');
}

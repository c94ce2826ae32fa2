/** The JSON each stage writes; the report and the vastai backend produce and read the same shapes. */
import type { GraphStats } from './onnx/stats';

export type WeightsLabel = 'random-init' | 'pretrained' | string;

/** model-card.json: the graph's own counts and shapes (GraphStats) and where the model came from. */
export interface ModelCard extends GraphStats {
  model: string;
  variant: string;
  source: string;
  weights: WeightsLabel;
  preprocess: string;
  sha256: string;
  file: string;
  /** Builder or exporter details (width, checkpoint path and hash, ...). */
  details: Record<string, unknown>;
}

export type Backend = 'onnxruntime' | 'vastai';

export interface BuildManifest {
  backend: Backend;
  /** fp16: a VastAI build of an fp32 model (the card runs fp16, not fp32). */
  precision: 'fp32' | 'int8' | 'fp16';
  model: string;
  sha256: string;
  /** The exported model this was built from. */
  from: { file: string; sha256: string };
  weights: WeightsLabel;
  inputDtype: 'uint8' | 'float32';
  inputShape: (number | string)[];
  preprocess: string;
  normalizationFolded: boolean;
  details: Record<string, unknown>;
  /** The build came from a stand-in tool (test/stand-ins), not from VastAI hardware. */
  stand_in?: boolean;
}

export interface LatencyStats {
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

export interface BenchConfigResult {
  batch: number;
  threads: number;
  instances: number;
  iterations: number;
  seconds: number;
  /** images per second over all instances: the median of the per-rep figures. */
  throughput: number;
  /** per-batch latency in milliseconds. */
  latencyMs: LatencyStats;
  /** img/s of every rep, in the order measured. */
  reps?: number[];
  /** Coefficient of variation of `reps`. */
  cv?: number;
  /** cv above the run's threshold: the figure is not to be trusted. */
  unstable?: boolean;
}

/** Latency as stored in bench.json: a figure the backend did not measure is null (vamp prints only some). */
export type StoredLatencyStats = { [K in keyof LatencyStats]: number | null };

/** One row of bench.json; the vastai backend adds its own figures under `vastai`. */
export interface StoredBenchConfigResult extends Omit<BenchConfigResult, 'latencyMs' | 'seconds'> {
  /** null when the backend did not report it. */
  seconds: number | null;
  latencyMs: StoredLatencyStats;
  vastai?: Record<string, unknown>;
}

/** `of` ÷ `over` at one batch: the median of the per-rep ratios of one interleaved run. */
export interface PairedRatio {
  batch: number;
  of: string;
  over: string;
  ratio: number;
  cv: number;
  unstable: boolean;
  ratios: number[];
}

/** One model of a (paired) bench run. */
export interface BenchModelResult {
  /** The precision, as the report names it (fp32, int8; vastai: fp16, int8). */
  label: string;
  /** The build directory. */
  model: string;
  /** sha256 of the model file measured, checked against build.json before the run. */
  sha256: string;
  precision: string;
  weights: WeightsLabel;
  stand_in?: boolean;
  results: StoredBenchConfigResult[];
}

export const BENCH_FORMAT = 'modelzoo-bench/2';

/** bench.json: every precision of a variant measured in one interleaved run, and where and how. */
export interface BenchResult {
  format: typeof BENCH_FORMAT;
  backend: Backend;
  /** ISO times. */
  startedAt: string;
  finishedAt: string;
  /** 1/5/15-minute load averages just before and just after the run. */
  load: { before: number[]; after: number[] };
  machine: {
    cpu: string;
    cores: number;
    platform: string;
    /** cgroup v2 cpu.max, and the cores it allows (null: no limit / no cgroup v2). */
    cpuQuota: { raw: string; cores: number | null } | null;
  };
  runtime: { name: string; version: string | null };
  settings: {
    batches: number[];
    threads: number;
    instances: number;
    warmup: number;
    reps: number;
    durationSec: number | null;
    iterations: number | null;
    cvThreshold: number;
  };
  /** The batch the report states img/s and the speedup at. */
  reportBatch: number;
  models: BenchModelResult[];
  /** Per batch, each later model ÷ models[0] (int8 ÷ fp32). */
  pairs: PairedRatio[];
  stand_in?: boolean;
}

/** eval.json's record of what was evaluated (provenance for the report). */
export interface EvalProvenance {
  dataset: {
    /** The image folder's name ('demo' for the built-in demo set). */
    name: string;
    /** The prepared copy (geometry) evaluated. */
    prepared: string;
    /** Images evaluated. */
    images: number;
    /** Images in the prepared dataset. */
    total: number;
    /** sha256 over the prepared tensors' shard hashes and the evaluated file/label list. */
    fingerprint: string;
    demo: boolean;
  };
  /** The calibration subset was left out of the evaluation. */
  holdout: boolean;
  /** build: the images this int8 model was calibrated on; dataset: the prepared calibration subset (fp32). */
  calibration: { source: 'build' | 'dataset'; images: number; overlap: number };
}

export interface EvalResult extends Partial<EvalProvenance> {
  backend: Backend;
  model: string;
  precision: string;
  weights: WeightsLabel;
  demoData: boolean;
  images: number;
  top1: number;
  top5: number;
  perClass: { cls: number; count: number; top1: number }[];
  seconds: number;
  throughput: number;
  reference?: { top1: number; top5: number; tolerance: number; passed: boolean };
  /** Figures came from a stand-in tool (test/stand-ins), not from VastAI hardware. */
  stand_in?: boolean;
  /** Backend details (vastai: the vamp command's inputs and the npz datalist it read). */
  details?: Record<string, unknown>;
}

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
  /** images per second over all instances. */
  throughput: number;
  /** per-batch latency in milliseconds. */
  latencyMs: LatencyStats;
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

export interface BenchResult {
  backend: Backend;
  model: string;
  precision: string;
  weights: WeightsLabel;
  machine: { cpu: string; cores: number; platform: string };
  results: StoredBenchConfigResult[];
  stand_in?: boolean;
}

export interface EvalResult {
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

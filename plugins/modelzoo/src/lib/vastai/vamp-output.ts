import type { BenchConfigResult, LatencyStats } from '../results';

/**
 * vamp's console report, parsed tolerantly: lines may be missing or reordered between versions, keys
 * carry a leading "- " or not, `forwad time (s)` is misspelled as printed, and a latency block lists
 * avg/min/max with or without p50..p99. Unrecognised `key: value` lines are kept, not fatal.
 */
export interface LatencyBlock {
  avg?: number;
  min?: number;
  max?: number;
  p50?: number;
  p90?: number;
  p95?: number;
  p99?: number;
}

export interface VampReport {
  instances?: number;
  devices?: number[];
  batch?: number;
  samples?: number;
  processes?: number;
  samplesPerProcess?: number;
  maxBatchSize?: number;
  forwardSeconds?: number;
  throughputQps?: number;
  aiUtilizePct?: number;
  temperatureC?: number;
  cardPowerW?: number;
  dieMemoryMB?: number;
  /** Latencies in microseconds, as printed. */
  e2eLatencyUs?: LatencyBlock;
  modelLatencyUs?: LatencyBlock;
  inputs: { shape: number[]; dtype: string }[];
  outputs: { shape: number[]; dtype: string }[];
  /** The report came from the stand-in (its marker line), not from a VastAI card. */
  standIn: boolean;
  other: Record<string, string>;
}

const STAND_IN_MARKER = 'stand-in: this is not VastAI hardware';
export { STAND_IN_MARKER };

const num = (s: string): number | undefined => {
  const m = /-?\d+(?:\.\d+)?(?:e[-+]?\d+)?/i.exec(s);
  return m ? Number(m[0]) : undefined;
};

export function parseVampOutput(text: string): VampReport {
  const r: VampReport = { inputs: [], outputs: [], standIn: false, other: {} };
  let block: { target: LatencyBlock; scale: number } | undefined;
  for (const raw of text.split(/\r?\n/)) {
    if (raw.includes(STAND_IN_MARKER)) {
      r.standIn = true;
      continue;
    }
    // Leading blanks, then a "- " bullet. (Not one /^\s*(?:-\s+)?/: a pattern that can match the empty
    // string matches at 0 with or without its ^, which leaves an equivalent mutant.)
    const unbulleted = raw.trimStart().replace(/^-\s+/, '');
    // Stryker disable next-line MethodExpression: without trim() only trailing whitespace stays, and no pattern below reads it (keys end at ':', values are trimmed, dtype is \S+)
    const line = unbulleted.replace(/^\*+\s*/, '').replace(/\s*\*+\s*$/, '').trim();
    // Stryker disable next-line ConditionalExpression: an empty line matches neither the io nor the key: value pattern, so it is skipped anyway
    if (!line) continue;
    const io = /^(input|output)\[(\d+)\]:\s*\[([\d,\s]*)\],\s*dtype:\s*(\S+)/.exec(line);
    if (io) {
      (io[1] === 'input' ? r.inputs : r.outputs)[Number(io[2])] = { shape: io[3]!.split(',').filter((s) => s.trim()).map(Number), dtype: io[4]! };
      block = undefined;
      continue;
    }
    const kv = /^([^:]+?)\s*:\s*(.*)$/.exec(line);
    if (!kv) continue;
    const key = kv[1]!.toLowerCase().replace(/\s+/g, ' ');
    // Stryker disable next-line MethodExpression: the line is trimmed and \s* before (.*) eats leading blanks, so kv[2] has no surrounding whitespace
    const value = kv[2]!.trim();
    const lat = /^(e2e|model) latency \((us|ms|s)\)$/.exec(key);
    if (lat) {
      const target: LatencyBlock = {};
      if (lat[1] === 'e2e') r.e2eLatencyUs = target;
      else r.modelLatencyUs = target;
      block = { target, scale: lat[2] === 'us' ? 1 : lat[2] === 'ms' ? 1e3 : 1e6 };
      continue;
    }
    const stat = /^(avg|min|max|p50|p90|p95|p99) latency$/.exec(key);
    if (stat && block) {
      const v = num(value);
      if (v !== undefined) block.target[stat[1] as keyof LatencyBlock] = v * block.scale;
      continue;
    }
    block = undefined;
    const v = num(value);
    switch (key) {
      case 'number of instances in each device': r.instances = v; break;
      case 'devices': r.devices = (value.match(/\d+/g) ?? []).map(Number); break;
      case 'batch size': r.batch = v; break;
      case 'samples': r.samples = v; break;
      case 'number of samples in each process': r.samplesPerProcess = v; break;
      case 'number of process': case 'number of processes': r.processes = v; break;
      case '[max_batch_size_]': case 'max_batch_size': r.maxBatchSize = v; break;
      case 'forwad time (s)': case 'forward time (s)': r.forwardSeconds = v; break;
      case 'throughput (qps)': r.throughputQps = v; break;
      case 'ai utilize (%)': r.aiUtilizePct = v; break;
      case 'temperature (°c)': case 'temperature (c)': r.temperatureC = v; break;
      case 'card power (w)': r.cardPowerW = v; break;
      case 'die memory used (mb)': r.dieMemoryMB = v; break;
      default: r.other[key] = value;
    }
  }
  return r;
}

/** vastai-specific figures kept beside the shared BenchConfigResult fields. */
export interface VampBenchConfigResult extends BenchConfigResult {
  vastai: {
    processes: number;
    devices: number[];
    modelLatencyMs?: Partial<LatencyStats>;
    aiUtilizePct?: number;
    temperatureC?: number;
    cardPowerW?: number;
    dieMemoryMB?: number;
    standIn: boolean;
  };
}

function toMs(b: LatencyBlock): Partial<LatencyStats> {
  // Stryker disable next-line ConditionalExpression: set() calls ms only with a defined v
  const ms = (v: number | undefined) => (v === undefined ? undefined : v / 1000);
  const out: Partial<LatencyStats> = {};
  const set = (k: keyof LatencyStats, v: number | undefined) => {
    if (v !== undefined) out[k] = ms(v)!;
  };
  set('min', b.min); set('mean', b.avg); set('p50', b.p50); set('p90', b.p90); set('p95', b.p95); set('p99', b.p99); set('max', b.max);
  return out;
}

/**
 * The shared bench shape. Percentiles vamp did not print stay NaN (null in JSON), never made up from
 * the average. Throughput is vamp's qps (images per second over all instances).
 */
export function vampReportToBench(r: VampReport, asked: { batch: number; instances: number; processes: number }): VampBenchConfigResult {
  if (r.throughputQps === undefined) throw new Error('vamp output has no "throughput (qps)" line; was the run complete?');
  const e2e = toMs(r.e2eLatencyUs ?? {});
  const latencyMs: LatencyStats = {
    min: e2e.min ?? NaN, mean: e2e.mean ?? NaN, p50: e2e.p50 ?? NaN, p90: e2e.p90 ?? NaN,
    p95: e2e.p95 ?? NaN, p99: e2e.p99 ?? NaN, max: e2e.max ?? NaN,
  };
  const batch = r.batch ?? asked.batch;
  const samples = r.samples ?? (r.samplesPerProcess !== undefined ? r.samplesPerProcess * (r.processes ?? asked.processes) : undefined);
  const out: VampBenchConfigResult = {
    batch,
    threads: r.processes ?? asked.processes,
    instances: r.instances ?? asked.instances,
    iterations: samples !== undefined ? Math.ceil(samples / batch) : 0,
    // Stryker disable next-line ConditionalExpression: undefined / qps is NaN, the same as the NaN branch
    seconds: r.forwardSeconds ?? (samples !== undefined ? samples / r.throughputQps : NaN),
    throughput: r.throughputQps,
    latencyMs,
    vastai: { processes: r.processes ?? asked.processes, devices: r.devices ?? [], standIn: r.standIn },
  };
  if (r.modelLatencyUs) out.vastai.modelLatencyMs = toMs(r.modelLatencyUs);
  for (const k of ['aiUtilizePct', 'temperatureC', 'cardPowerW', 'dieMemoryMB'] as const) if (r[k] !== undefined) out.vastai[k] = r[k];
  return out;
}

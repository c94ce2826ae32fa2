import { createHash } from 'node:crypto';
import { Progress } from '../common/progress';
import { DataType, type Model, encodeModel, int64Tensor, node, onnx, realInputs } from '../onnx/proto';
import { createSession, ort } from '../runtime/session';
import { TensorHistogram } from './histogram';
import { inferShapes } from './shapes';
import type { CalibrateMode } from './options';
import { cloneModel } from './prepare';

export interface CalibrationBatch {
  feeds: Record<string, ort.Tensor>;
}

/** A re-iterable calibration set: the sensitivity report needs a second pass over the same images. */
export interface CalibrationSource {
  /** Images the batches hold, for progress and ETA. */
  images?: number;
  /** The images' datalist file names, when they come from a dataset (build.json records them). */
  files?: string[];
  batches(): AsyncIterable<CalibrationBatch>;
}

export type CalibrationInput = CalibrationSource | AsyncIterable<CalibrationBatch> | (() => AsyncIterable<CalibrationBatch>);

export type ProgressCallback = (doneImages: number, totalImages: number | undefined) => void;

export function toSource(input: CalibrationInput): CalibrationSource & { reiterable: boolean } {
  if (typeof input === 'function') return { batches: input, reiterable: true };
  if ('batches' in input && typeof input.batches === 'function') return { ...input, batches: input.batches.bind(input), reiterable: true };
  const iterable = input as AsyncIterable<CalibrationBatch>;
  return { batches: () => iterable, reiterable: false };
}

export function defaultProgress(label: string): ProgressCallback {
  let p: Progress | undefined;
  return (done, total) => {
    if (total === undefined) return;
    p ??= new Progress(label, total);
    p.tick(done);
  };
}

/** The float graph with the given intermediate tensors as extra outputs, so one run yields them all. */
export function withOutputs(model: Model, tensors: string[]): Model {
  const out = cloneModel(model);
  const graph = out.graph!;
  // cloneModel decodes: protobuf gives every repeated field an array.
  const existing = new Set(graph.output!.map((o) => o.name));
  // No shape: an empty dim list would declare a scalar and break shape inference.
  for (const t of tensors) {
    if (!existing.has(t)) graph.output!.push(onnx.ValueInfoProto.create({ name: t, type: { tensorType: { elemType: DataType.FLOAT } } }));
  }
  return out;
}

/** Renames a single-tensor feed to the model's input, so dataset helpers need not know the name. */
export function feedsFor(model: Model, feeds: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
  const inputs = realInputs(model.graph!).map((i) => i.name ?? '');
  const keys = Object.keys(feeds);
  if (keys.length === 1 && inputs.length === 1 && keys[0] !== inputs[0]) return { [inputs[0]!]: feeds[keys[0]!]! };
  return feeds;
}

export function batchSizeOf(feeds: Record<string, ort.Tensor>): number {
  const first = Object.values(feeds)[0];
  if (!first) throw new Error('int8 calibration: a batch has no input tensors');
  return Number(first.dims[0] ?? 1);
}

export interface CalibrationResult {
  histograms: Map<string, TensorHistogram>;
  images: number;
  batches: number;
  /** sha256 over every calibration input tensor, in order: identifies the calibration set's content. */
  sha256: string;
  seconds: number;
}

/**
 * Values sampled per tensor per image (at least one per channel) for the methods that fit the histogram's
 * shape (kl_divergence, mse): ~400k per tensor over 200 images; at 1024 KL already picked a visibly worse
 * range on MobileNetV2 (one 7x7 tensor sampled once per channel per image). Folding samples into
 * histograms in JavaScript is the one per-value cost calibration adds to the forward pass, so each method
 * samples what it reads (samplesPerImage).
 */
export const SAMPLES_PER_IMAGE = 2048;

/**
 * percentile reads the histogram's 1e-5 tails only (clamped to the extremes), half as many; max reads no
 * histogram, only the exact extremes.
 */
export function samplesPerImage(mode: CalibrateMode): number {
  return mode === 'max' ? 0 : mode === 'percentile' ? SAMPLES_PER_IMAGE / 2 : SAMPLES_PER_IMAGE;
}

const sampleName = (t: string) => `${t}.calib_sample`;
const minName = (t: string) => `${t}.calib_negmax`;
const maxName = (t: string) => `${t}.calib_max`;

/** Per-tensor shapes from one image, so the sampling strides can be fixed attributes. */
export async function probeShapes(model: Model, tensors: string[], feeds: Record<string, ort.Tensor>): Promise<Map<string, number[]>> {
  const one: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) {
    const per = t.size / Number(t.dims[0] ?? 1);
    one[k] = new ort.Tensor(t.type as 'uint8', (t.data as Uint8Array).subarray(0, per), [1, ...t.dims.slice(1)]);
  }
  // Stryker disable next-line ObjectLiteral: the probed shapes are the same at any optimization level; 'basic' only keeps this one-image session cheap to build
  const session = await createSession(encodeModel(withOutputs(model, tensors)), { level: 'basic' });
  try {
    const out = await session.run(one, tensors);
    return new Map(tensors.map((t) => [t, [...out[t]!.dims]]));
  } finally {
    await session.release();
  }
}

/**
 * The float graph with, for every calibrated tensor, as extra outputs: a strided spatial sample of about
 * `perImageSamples` values per image (none for 0), its exact per-channel max (GlobalMaxPool; skipped
 * for `sampledExtremes`, whose max then comes from the sample) and, unless a folded ReLU makes it >= 0,
 * its exact min. The taps are MaxPool(kernel 1, stride s) and GlobalMaxPool, which ONNX Runtime runs in
 * its blocked NCHWc layout: any other consumer would force a full-size layout conversion of every tapped
 * tensor, and fetching whole tensors costs gigabytes of copies.
 */
export function samplingModel(
  model: Model,
  shapes: Map<string, number[]>,
  nonNegative: Set<string>,
  perImageSamples = SAMPLES_PER_IMAGE,
  /** Tensors whose extremes may come from the sample (no full-tensor reduction); needs perImageSamples > 0. */
  sampledExtremes: Set<string> = new Set(),
): Model {
  // A shallow copy: the taps only add nodes, outputs and one initializer, and deep-copying (encoding and
  // decoding) every weight would cost more than building the session.
  const src = model.graph!;
  const graph = onnx.GraphProto.create({
    ...src,
    node: [...(src.node ?? [])],
    initializer: [...(src.initializer ?? []), int64Tensor('calib.flat', [1], [-1])],
    output: [...(src.output ?? [])],
  });
  const out = onnx.ModelProto.create({ ...model, graph });
  const groups: onnx.INodeProto[][] = [];
  const outputs: string[] = [];
  for (const [t, dims] of shapes) {
    const nodes: onnx.INodeProto[] = [];
    groups.push(nodes);
    const p = `${t}.calib`;
    const perImage = dims.slice(1).reduce((a, d) => a * d, 1);
    if (dims.length === 4) {
      if (perImageSamples > 0) {
        const s = Math.max(1, Math.round(Math.sqrt(perImage / perImageSamples)));
        nodes.push(node('MaxPool', [t], [`${p}.strided`], { kernel_shape: [1, 1], strides: [s, s] }, `${p}.Sample`));
        nodes.push(node('Reshape', [`${p}.strided`, 'calib.flat'], [sampleName(t)], {}, `${p}.SampleFlat`));
        outputs.push(sampleName(t));
      }
      if (perImageSamples > 0 && sampledExtremes.has(t) && nonNegative.has(t)) continue;
      nodes.push(node('GlobalMaxPool', [t], [`${p}.chmax`], {}, `${p}.Max`));
      if (!nonNegative.has(t)) {
        nodes.push(node('Neg', [t], [`${p}.neg`], {}, `${p}.Neg`));
        nodes.push(node('GlobalMaxPool', [`${p}.neg`], [`${p}.chnegmax`], {}, `${p}.NegMax`));
        nodes.push(node('Reshape', [`${p}.chnegmax`], [minName(t)], {}, `${p}.NegMaxFlat`));
        nodes[nodes.length - 1]!.input!.push('calib.flat');
        outputs.push(minName(t));
      }
      nodes.push(node('Reshape', [`${p}.chmax`, 'calib.flat'], [maxName(t)], {}, `${p}.MaxFlat`));
      outputs.push(maxName(t));
    } else {
      // Small non-spatial tensors (features, logits): every value is the sample.
      nodes.push(node('Reshape', [t, 'calib.flat'], [sampleName(t)], {}, `${p}.SampleFlat`));
      nodes.push(node('ReduceMax', [t], [maxName(t)], { keepdims: 0 }, `${p}.Max`));
      nodes.push(node('Neg', [t], [`${p}.neg`], {}, `${p}.Neg`));
      nodes.push(node('ReduceMax', [`${p}.neg`], [minName(t)], { keepdims: 0 }, `${p}.NegMax`));
      outputs.push(minName(t), sampleName(t), maxName(t));
    }
  }
  // Taps in reverse order. ONNX Runtime orders execution by a depth-first search from the graph's leaf
  // nodes, last leaf first: with the earliest tensor's taps last, each tap runs as soon as its tensor
  // exists and the tensor is freed then. In graph order every tap would run after the whole network and
  // hold every tapped activation alive at once (~5x the forward pass's memory, and a third slower).
  graph.node = [...graph.node!, ...groups.reverse().flat()];
  // No shape: an empty dim list would declare a scalar and break shape inference.
  for (const name of outputs) {
    graph.output!.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: DataType.FLOAT } } }));
  }
  return out;
}

// Math.max, not a comparison: a NaN channel maximum (ONNX Runtime's pooling can return one) must reach
// observe()'s check instead of being skipped.
const maxOf = (a: Float32Array) => a.reduce((m, v) => Math.max(m, v), -Infinity);

/**
 * Streams the calibration set through ONNX Runtime once, accumulating per-tensor statistics batch by
 * batch; only two batches of samples are alive at a time. Stops after `maxImages` images. The work is
 * pipelined: while ONNX Runtime runs batch k, JavaScript reads and hashes batch k + 1 and folds batch
 * k - 1's samples into the histograms, so the per-batch overhead over a plain forward pass stays small.
 */
export async function collectStatistics(
  model: Model,
  tensors: string[],
  clipHighs: Map<string, number>,
  source: CalibrationSource,
  o: {
    maxImages: number;
    atoms: boolean;
    nonNegative: Set<string>;
    /** Per tensor per image; 0 collects only the exact extremes (all `max` needs). */
    samplesPerImage?: number;
    /**
     * Take the max of these non-negative tensors from the sample instead of reducing the whole tensor
     * (one full read each, ~15% of a forward pass over a network's ReLU6 outputs). For the methods that
     * read the histogram, on tensors a folded clip caps: the cap bounds the range anyway.
     */
    sampledExtremes?: Set<string>;
    progress?: ProgressCallback | undefined;
  },
): Promise<CalibrationResult> {
  const start = performance.now();
  let session: ort.InferenceSession | undefined;
  // Stryker disable next-line ArrayDeclaration: always reassigned before the first run (no run without a batch)
  let fetches: string[] = [];
  const histograms = new Map(tensors.map((t) => [t, new TensorHistogram(undefined, clipHighs.get(t))]));
  const hash = createHash('sha256');
  const total = source.images !== undefined ? Math.min(source.images, o.maxImages) : undefined;
  let images = 0; // images whose statistics are in the histograms
  let taken = 0; // images read from the source
  let batches = 0;
  const iterator = source.batches()[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, ort.Tensor> | undefined> => {
    if (taken >= o.maxImages) return undefined;
    const r = await iterator.next();
    if (r.done) return undefined;
    const feeds = feedsFor(model, r.value.feeds);
    for (const k of Object.keys(feeds).sort()) {
      const d = feeds[k]!.data as ArrayBufferView;
      hash.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    taken += batchSizeOf(feeds);
    return feeds;
  };
  const accumulate = (result: ort.InferenceSession.OnnxValueMapType, size: number) => {
    for (const t of tensors) {
      const v = result[sampleName(t)];
      const top = result[maxName(t)];
      // Stryker disable all: unreachable guard. samplingModel declares every tap output FLOAT and gives every
      // tensor a max or a sample, and ONNX Runtime refuses to load a graph whose outputs differ from their
      // declared type (mutation-quant-calibration-calibrate pins that load error for an int32 tensor).
      if ((!top && !v) || (top && top.type !== 'float32') || (v && v.type !== 'float32')) {
        throw new Error(`int8 calibration: tensor '${t}' is not float32`);
      }
      // Stryker restore all
      const h = histograms.get(t)!;
      const negMax = result[minName(t)];
      if (top) h.observe(negMax ? -maxOf(negMax.data as Float32Array) : 0, maxOf(top.data as Float32Array));
      // Without the reduction, add() takes the extremes from the sample itself.
      if (v) h.add(v.data as Float32Array, o.atoms, !!top);
    }
    images += size;
    batches++;
    o.progress?.(images, total);
  };
  try {
    let feeds = await next();
    if (feeds) {
      const shapes = await tensorShapes(model, tensors, feeds);
      const sampler = samplingModel(model, shapes, o.nonNegative, o.samplesPerImage, o.sampledExtremes);
      // Stryker disable next-line MethodExpression,StringLiteral: fetching the graph's own outputs as well changes no statistic (only the copy)
      fetches = sampler.graph!.output!.map((v) => v.name!).filter((n) => n.includes('.calib_'));
      session = await createSession(encodeModel(sampler));
    }
    let done: { result: ort.InferenceSession.OnnxValueMapType; size: number } | undefined;
    let started = 0; // batches handed to ONNX Runtime
    while (feeds) {
      const size = batchSizeOf(feeds);
      // Numbered now: by the time a failure is reported, the previous batch has been accumulated.
      const number = ++started;
      const running = session!.run(feeds, fetches).catch((err: Error) => {
        throw new Error(`int8 calibration: ONNX Runtime failed on batch ${number}: ${err.message}`);
      });
      running.catch(() => {}); // awaited below; this only keeps an early failure from counting as unhandled
      // Overlaps the run: the previous batch's histograms, then the next batch's read and hash.
      if (done) accumulate(done.result, done.size);
      let following: Record<string, ort.Tensor> | undefined;
      try {
        following = await next();
      } finally {
        done = { result: await running, size };
      }
      feeds = following;
    }
    if (done) accumulate(done.result, done.size);
  } finally {
    await iterator.return?.();
    await session?.release();
  }
  if (images === 0) throw new Error('int8 calibration: the calibration set is empty');
  return { histograms, images, batches, sha256: hash.digest('hex'), seconds: (performance.now() - start) / 1000 };
}

/** Shapes of the tapped tensors for this batch: inferred statically, or probed with ONNX Runtime. */
export async function tensorShapes(model: Model, tensors: string[], feeds: Record<string, ort.Tensor>): Promise<Map<string, number[]>> {
  const dims = new Map(Object.entries(feeds).map(([k, t]) => [k, [1, ...t.dims.slice(1).map(Number)]]));
  return inferShapes(model.graph!, dims, tensors) ?? (await probeShapes(model, tensors, feeds));
}

import {
  DataType,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  floatTensor,
  getIntAttr,
  node,
  tensorToFloat32,
  typedTensor,
} from '../onnx/proto';
import type { ActivationType } from './options';
import type { QuantPlan } from './plan';
import { cloneModel, initializerMap, removeUnusedInitializers } from './prepare';
import type { Range } from './ranges';

/** Affine parameters of one activation tensor: real = scale * (q - zeroPoint). */
export interface QParams {
  scale: number;
  zeroPoint: number;
  type: ActivationType;
  range: Range;
}

export function activationParams(range: Range, type: ActivationType): QParams {
  const lo = Math.min(0, range.lo);
  const hi = Math.max(0, range.hi);
  // A constant-zero tensor still needs a valid (non-zero) scale.
  const scale = Math.fround(hi - lo > 0 ? (hi - lo) / 255 : 1);
  const qmin = type === 'uint8' ? 0 : -128;
  const zeroPoint = Math.min(qmin + 255, Math.max(qmin, Math.round(qmin - lo / scale)));
  return { scale, zeroPoint, type, range: { lo, hi } };
}

/** Symmetric int8 weights: [-127, 127], one scale per output channel (or one for the tensor). */
export interface WeightQuant {
  data: Int8Array;
  scales: Float32Array;
  axis: number;
}

const INT32_MAX = 2147483647;

/** Smallest clip-free step count tried: max|w| / k for k in [WEIGHT_MIN_LEVELS, 127]. */
export const WEIGHT_MIN_LEVELS = 64;

/** A weight counts as on a grid when it is within this fraction of a step of a grid point. */
const GRID_TOLERANCE = 1e-3;

/** Channels up to this many weights (depthwise kernels, the stem) get the full least-squares search. */
export const WEIGHT_SEARCH_MAX = 64;

/**
 * The scale of one channel, always max|w| / k for some k in [64, 127], so max|w| stays exactly
 * representable and nothing is clipped:
 * 1. the finest k on whose grid every weight lies. Weights that already lie on a grid, as in
 *    quantization-aware-trained and re-exported int8 models (TFLite's per-tensor uint8 weights), are
 *    then represented exactly: any grid step of which max|w| is at most 127 steps has a multiple k in
 *    [64, 127], where the textbook max|w| / 127 would add up to half a step of noise to each weight.
 *    On the TF MobileNetV2 that noise, worst on the 9-weight depthwise kernels, was the largest error
 *    source. Off-grid weights fail each candidate within a weight or two, so this costs next to nothing;
 * 2. otherwise, for small channels (<= 64 weights: depthwise kernels, the stem), the k with the least
 *    sum of squared rounding errors, ties to the finer step: with few weights one step size can fit
 *    them much better than another;
 * 3. otherwise max|w| / 127: over many weights the rounding error averages to step^2 / 12 and the finest
 *    step wins.
 */
export function weightScale(values: Float32Array, maxAbs: number): number {
  if (!(maxAbs > 0)) return 1;
  for (let k = 127; k >= WEIGHT_MIN_LEVELS; k--) {
    const s = Math.fround(maxAbs / k);
    const inv = 1 / s;
    let i = 0;
    for (; i < values.length; i++) {
      const x = values[i]! * inv;
      // Stryker disable next-line EqualityOperator: a distance of exactly 1e-3 (as a double) from a product of a float32 weight and 1/scale is not reachable in practice
      if (Math.abs(x - Math.round(x)) > GRID_TOLERANCE) break;
    }
    if (i === values.length) return s;
  }
  if (values.length > WEIGHT_SEARCH_MAX) return Math.fround(maxAbs / 127);
  // Every candidate's error is finite, so k = 127 always replaces the initial scale.
  let best = { err: Infinity, scale: 0 };
  for (let k = 127; k >= WEIGHT_MIN_LEVELS; k--) {
    const s = Math.fround(maxAbs / k);
    const inv = 1 / s;
    let err = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      const d = v - s * Math.round(v * inv);
      err += d * d;
    }
    if (err < best.err) best = { err, scale: s };
  }
  return best.scale;
}

/**
 * Quantizes a weight along `axis` (the output channel), each channel's scale from weightScale. When a
 * bias is given, a channel's scale is raised where the bias would not fit int32 at scale
 * inputScale * weightScale (tiny-weight channels).
 */
export function quantizeWeight(
  w: Float32Array,
  dims: number[],
  axis: number,
  perChannel: boolean,
  bias?: { values: Float32Array; inputScale: number },
): WeightQuant {
  const channels = perChannel ? dims[axis]! : 1;
  const inner = dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  const channelOf = (i: number) => (perChannel ? Math.floor(i / inner) % dims[axis]! : 0);
  const maxAbs = new Float64Array(channels);
  const sizes = new Int32Array(channels);
  for (let i = 0; i < w.length; i++) {
    const c = channelOf(i);
    sizes[c]!++;
    const a = Math.abs(w[i]!);
    // Stryker disable next-line EqualityOperator: with >= an equal value is stored again, unchanged
    if (a > maxAbs[c]!) maxAbs[c] = a;
  }
  const byChannel = Array.from(sizes, (n) => new Float32Array(n));
  const fill = new Int32Array(channels);
  w.forEach((v, i) => {
    const c = channelOf(i);
    byChannel[c]![fill[c]!++] = v;
  });
  const scales = Float32Array.from({ length: channels }, (_, c) => {
    let s = weightScale(byChannel[c]!, maxAbs[c]!);
    if (bias) {
      let bMax = 0;
      for (let o = 0; o < bias.values.length; o++) if (!perChannel || o === c) bMax = Math.max(bMax, Math.abs(bias.values[o]!));
      const need = bMax / (bias.inputScale * (INT32_MAX - 1));
      // Stryker disable next-line EqualityOperator: at need == s both keep the same value
      if (need > s) s = need;
    }
    return s;
  });
  const data = Int8Array.from(w, (v, i) => {
    const q = Math.round(v / scales[channelOf(i)]!);
    // Every scale is at least fround(max|w| / 127), so |q| <= 127 and this guard never fires; it stays
    // so that no later change can wrap 128 to -128.
    // Stryker disable next-line ConditionalExpression,EqualityOperator,UnaryOperator: unreachable guard (see above)
    return q > 127 ? 127 : q < -127 ? -127 : q;
  });
  return { data, scales, axis };
}

export function quantizeBias(b: Float32Array, inputScale: number, weightScales: Float32Array): Int32Array {
  return Int32Array.from(b, (v, i) => {
    const s = inputScale * weightScales[weightScales.length === 1 ? 0 : i]!;
    return Math.max(-INT32_MAX, Math.min(INT32_MAX, Math.round(v / s)));
  });
}

function bytes(a: Int8Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A scalar zero point; an int8 value's byte is its two's complement, which is what Uint8Array stores. */
function zeroPointTensor(name: string, type: ActivationType, value: number): Tensor {
  return typedTensor(name, [], type === 'uint8' ? DataType.UINT8 : DataType.INT8, Uint8Array.of(value));
}

/**
 * The weight's output-channel axis for the op that consumes it: Conv [M, C/g, kH, kW] and Gemm with
 * transB [N, K] on 0; Gemm [K, N] and MatMul [K, N] (which has no transB attribute) on 1.
 */
function weightAxis(n: Node): number {
  return n.opType === 'Conv' || getIntAttr(n, 'transB', 0) ? 0 : 1;
}

/**
 * The QDQ model: Q->DQ after every planned activation tensor, int8 weights and int32 biases behind DQ
 * nodes, folded activations removed. Consumers and graph outputs keep reading the original tensor names
 * (now DQ outputs), so the rest of the graph is untouched.
 */
export function buildQdqModel(
  prepared: Model,
  plan: QuantPlan,
  params: Map<string, QParams>,
  perChannel: boolean,
): { model: Model; weights: Record<string, { scales: number[]; axis: number | null }> } {
  const model = cloneModel(prepared);
  const graph = model.graph as Graph;
  const inits = initializerMap(graph);
  const paramsOf = (tensor: string): QParams => {
    // Only called with planned tensors.
    const point = plan.points.find((p) => p.tensor === tensor)!;
    const p = params.get(point.alias ?? tensor);
    if (!p) throw new Error(`int8: no quantization parameters for tensor '${tensor}'`);
    return p;
  };
  const foldedOutputs = new Map<string, string>();
  for (const [act, info] of plan.folded) {
    const a = graph.node!.find((n) => n.name === act)!;
    foldedOutputs.set(info.producer, a.output![0]!);
  }
  graph.node = graph.node!.filter((n) => !plan.folded.has(n.name!));
  for (const n of graph.node) {
    const out = foldedOutputs.get(n.name!);
    if (out) n.output = [out];
  }

  const newNodes = new Map<Node, Node[]>(); // nodes to insert right after a node
  const head: Node[] = []; // Q/DQ of graph inputs
  const pointNames = new Set(plan.points.map((p) => p.tensor));
  for (const point of plan.points) {
    if (point.fixed) continue; // already a DequantizeLinear of the uint8 input
    const t = point.tensor;
    const p = paramsOf(t);
    const scaleName = `${t}.scale`;
    const zpName = `${t}.zero_point`;
    graph.initializer!.push(floatTensor(scaleName, [], Float32Array.of(p.scale)), zeroPointTensor(zpName, p.type, p.zeroPoint));
    const quant = `${t}.quantized`;
    if (!point.producer) {
      const dq = `${t}.dequantized`;
      head.push(
        node('QuantizeLinear', [t, scaleName, zpName], [quant], {}, `${t}.QuantizeLinear`),
        node('DequantizeLinear', [quant, scaleName, zpName], [dq], {}, `${t}.DequantizeLinear`),
      );
      for (const c of graph.node) c.input = c.input!.map((i) => (i === t ? dq : i));
      continue;
    }
    const producer = graph.node.find((n) => n.name === point.producer)!;
    const raw = `${t}.float`;
    producer.output = producer.output!.map((o) => (o === t ? raw : o));
    newNodes.set(producer, [
      ...(newNodes.get(producer) ?? []),
      node('QuantizeLinear', [raw, scaleName, zpName], [quant], {}, `${t}.QuantizeLinear`),
      node('DequantizeLinear', [quant, scaleName, zpName], [t], {}, `${t}.DequantizeLinear`),
    ]);
  }

  const weights: Record<string, { scales: number[]; axis: number | null }> = {};
  for (const n of graph.node) {
    if (!plan.quantized.has(n.name!) || !['Conv', 'Gemm', 'MatMul'].includes(n.opType!)) continue;
    const ins = n.input!;
    const w = inits.get(ins[1]!)!;
    const dims = w.dims!.map(Number);
    const axis = weightAxis(n);
    // The activation feeding this node: its DQ output carries the original name of a planned point.
    const xName = ins[0]!.endsWith('.dequantized') ? ins[0]!.slice(0, -'.dequantized'.length) : ins[0]!;
    if (!pointNames.has(xName)) throw new Error(`int8: input '${ins[0]}' of ${n.opType} '${n.name}' is not quantized`);
    const inputScale = paramsOf(xName).scale;
    const b = ins[2] ? inits.get(ins[2]) : undefined;
    const bias = b ? tensorToFloat32(b) : undefined;
    const q = quantizeWeight(tensorToFloat32(w), dims, axis, perChannel, bias ? { values: bias, inputScale } : undefined);
    const pre = `${n.name}.weight`;
    const chDims = perChannel ? [q.scales.length] : [];
    const axisAttr: Record<string, number> = perChannel ? { axis } : {};
    graph.initializer!.push(
      typedTensor(`${pre}.int8`, dims, DataType.INT8, bytes(q.data)),
      floatTensor(`${pre}.scale`, chDims, q.scales),
      typedTensor(`${pre}.zero_point`, chDims, DataType.INT8, new Uint8Array(q.scales.length)),
    );
    const dqNodes = [
      node('DequantizeLinear', [`${pre}.int8`, `${pre}.scale`, `${pre}.zero_point`], [`${pre}.dequantized`], axisAttr, `${pre}.DequantizeLinear`),
    ];
    weights[n.name!] = { scales: Array.from(q.scales), axis: perChannel ? axis : null };
    const newInputs = [ins[0]!, `${pre}.dequantized`];
    if (bias) {
      const bPre = `${n.name}.bias`;
      const qb = quantizeBias(bias, inputScale, q.scales);
      const bScales = q.scales.map((s) => inputScale * s);
      graph.initializer!.push(
        typedTensor(`${bPre}.int32`, [bias.length], DataType.INT32, bytes(qb)),
        floatTensor(`${bPre}.scale`, chDims, bScales),
        typedTensor(`${bPre}.zero_point`, chDims, DataType.INT32, new Uint8Array(4 * bScales.length)),
      );
      dqNodes.push(
        node('DequantizeLinear', [`${bPre}.int32`, `${bPre}.scale`, `${bPre}.zero_point`], [`${bPre}.dequantized`], perChannel ? { axis: 0 } : {}, `${bPre}.DequantizeLinear`),
      );
      newInputs.push(`${bPre}.dequantized`);
    }
    n.input = newInputs;
    head.push(...dqNodes);
  }

  keepExcludedFloat(graph, plan, paramsOf, inits, head);

  const ordered: Node[] = [...head];
  for (const n of graph.node) ordered.push(n, ...(newNodes.get(n) ?? []));
  graph.node = ordered;
  removeUnusedInitializers(graph);
  return { model, weights };
}

/**
 * ONNX Runtime's WeightBiasQuantization quantizes the float weights of any Conv/Gemm that reads a
 * per-tensor DQ and writes (through Clip/Relu) into a Q, per-tensor, which would undo exclude_layers.
 * An excluded node therefore reads its own DQ with the same parameters repeated per channel: the values
 * are identical, but the pattern no longer matches and the node stays float.
 */
function keepExcludedFloat(
  graph: Graph,
  plan: QuantPlan,
  paramsOf: (t: string) => QParams,
  inits: Map<string, Tensor>,
  head: Node[],
): void {
  const points = new Map(plan.points.map((p) => [p.tensor, p]));
  for (const n of graph.node!) {
    if (!plan.excluded.includes(n.name!) || (n.opType !== 'Conv' && n.opType !== 'Gemm')) continue;
    const x = n.input![0]!;
    const t = x.endsWith('.dequantized') ? x.slice(0, -'.dequantized'.length) : x;
    const w = inits.get(n.input![1]!);
    if (!points.has(t) || !w) continue;
    const dims = w.dims!.map(Number);
    const channels =
      n.opType === 'Conv' ? dims[1]! * getIntAttr(n, 'group', 1) : getIntAttr(n, 'transB', 0) ? dims[1]! : dims[0]!;
    const p = paramsOf(t);
    const pre = `${t}.for_${n.name}`;
    const zp = new Uint8Array(channels).fill(p.zeroPoint); // two's complement bytes for int8
    graph.initializer!.push(
      floatTensor(`${pre}.scale`, [channels], new Float32Array(channels).fill(p.scale)),
      typedTensor(`${pre}.zero_point`, [channels], p.type === 'uint8' ? DataType.UINT8 : DataType.INT8, zp),
    );
    // A fixed point (DequantizeLinear of the uint8 input) has no Q of its own: read the input itself.
    const quantized = points.get(t)!.fixed?.quantized ?? `${t}.quantized`;
    head.push(node('DequantizeLinear', [quantized, `${pre}.scale`, `${pre}.zero_point`], [`${pre}.dequantized`], { axis: 1 }, `${pre}.DequantizeLinear`));
    n.input = [`${pre}.dequantized`, ...n.input!.slice(1)];
  }
}

import { DataType, type Graph, type Node, getAttr, getIntAttr, tensorToFloat32 } from '../onnx/proto';
import { UserError } from '../common/errors';
import type { Int8Options } from './options';
import { type PreparedGraph, initializerMap } from './prepare';

/**
 * Which nodes run on integer kernels and which tensors get a Q/DQ pair. The shapes follow what ONNX
 * Runtime's QDQ fusions accept: Conv/Gemm/MatMul need Q/DQ on the activation in and out and constant
 * weights; Add and pooling need every input and the output quantized; pass-through ops (Flatten,
 * Reshape, MaxPool, ...) only fuse when the Q after them repeats the parameters of the DQ before them.
 */
export interface QPoint {
  tensor: string;
  /** Tensor whose quantization parameters this one repeats (pass-through outputs). */
  alias?: string;
  /** Node that writes it after activation folding; absent for a graph input. */
  producer?: string;
  /** Bounds of the Clip/ReLU folded into this tensor's producer. */
  clip?: { lo: number; hi: number };
  /**
   * Parameters the graph already fixes: the tensor is written by a DequantizeLinear of a graph input (the
   * uint8 image, see input-fold.ts). No Q/DQ is added and nothing is calibrated.
   */
  fixed?: { scale: number; zeroPoint: number; quantized: string };
}

export interface QuantPlan {
  /** Nodes run on integer kernels (by name). */
  quantized: Set<string>;
  /** Nodes kept float because the options said so. */
  excluded: string[];
  /** Activation nodes (Clip/Relu) removed because their producer's uint8 range clips instead. */
  folded: Map<string, { producer: string; lo: number; hi: number }>;
  /** Q/DQ points in graph order. */
  points: QPoint[];
}

const WEIGHTED = new Set(['Conv', 'Gemm', 'MatMul']);
const OWN_RANGE = new Set(['GlobalAveragePool', 'AveragePool']);
const PASS_THROUGH = new Set(['MaxPool', 'Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Transpose']);

// The prepared graph is a decoded (or created) protobuf message: repeated fields are always arrays and
// strings default to '', and prepareGraph names every node. A missing input (ins[k] undefined) finds
// nothing in the initializer map.

/** The ops whose weights/activations are quantized, with the reason a node of that op type is not. */
function quantizable(n: Node, inits: ReturnType<typeof initializerMap>): boolean {
  const ins = n.input!;
  switch (n.opType) {
    case 'Conv': {
      const w = inits.get(ins[1]!);
      return !!w && !inits.has(ins[0]!) && (!ins[2] || inits.has(ins[2]));
    }
    case 'Gemm': {
      const w = inits.get(ins[1]!);
      // A constant A input has no activation to quantize (QGemm needs a quantized A).
      if (!w || inits.has(ins[0]!) || w.dims!.length !== 2 || getIntAttr(n, 'transA', 0) !== 0) return false;
      const alpha = getAttr(n, 'alpha')?.f ?? 1;
      const beta = getAttr(n, 'beta')?.f ?? 1;
      if (alpha !== 1 || beta !== 1) return false;
      if (!ins[2]) return true;
      const c = inits.get(ins[2]);
      const outF = Number(w.dims![getIntAttr(n, 'transB', 0) ? 0 : 1]);
      return !!c && c.dims!.length === 1 && Number(c.dims![0]) === outF;
    }
    case 'MatMul': {
      const w = inits.get(ins[1]!);
      return !!w && w.dims!.length === 2 && !inits.has(ins[0]!);
    }
    case 'Add':
      return ins.length === 2 && !inits.has(ins[0]!) && !inits.has(ins[1]!);
    default:
      return OWN_RANGE.has(n.opType!);
  }
}

export function planQuantization(prepared: PreparedGraph, opts: Int8Options): QuantPlan {
  const graph = prepared.model.graph as Graph;
  const nodes = graph.node!;
  const inits = initializerMap(graph);
  const byName = new Map(nodes.map((n) => [n.name!, n]));
  const excluded = new Set<string>();
  for (const name of opts.exclude_layers) {
    if (!byName.has(name)) {
      const some = nodes.slice(0, 8).map((n) => n.name).join(', ');
      throw new UserError(
        `int8 option exclude_layers: the model has no node named '${name.slice(0, 100)}' (nodes are named like ${some}, ...): fix the name or remove it ` +
          `(quantization.sensitivity: true writes sensitivity.json, which lists every quantized node)`,
      );
    }
    excluded.add(name);
  }
  const convs = nodes.filter((n) => n.opType === 'Conv');
  for (const idx of opts.skip_conv_layers) {
    const conv = convs[idx];
    if (!conv) throw new UserError(`int8 option skip_conv_layers: index ${idx} is out of range (the model has ${convs.length} Conv nodes)`);
    excluded.add(conv.name!);
  }

  const quantized = new Set<string>();
  for (const n of nodes) if (!excluded.has(n.name!) && quantizable(n, inits)) quantized.add(n.name!);

  // Activations fold only into a quantized producer; an excluded activation node stays as it is.
  const folded: QuantPlan['folded'] = new Map();
  const effectiveOut = new Map<string, string>();
  for (const [act, info] of prepared.activations) {
    if (excluded.has(act) || !quantized.has(info.producer)) continue;
    folded.set(act, info);
    effectiveOut.set(info.producer, byName.get(act)!.output![0]!);
  }
  const clipOf = new Map<string, { lo: number; hi: number }>();
  for (const [act, info] of folded) clipOf.set(byName.get(act)!.output![0]!, { lo: info.lo, hi: info.hi });

  const producers = new Map<string, string>();
  for (const n of nodes) {
    if (folded.has(n.name!)) continue;
    // Every output (Split writes several); a folded activation's output replaces the first.
    const outs = [...n.output!];
    const folds = effectiveOut.get(n.name!);
    if (folds) outs[0] = folds;
    for (const out of outs) producers.set(out, n.name!);
  }
  const graphOutputs = new Set(graph.output!.map((o) => o.name!));
  const points = new Map<string, QPoint>();
  const addPoint = (tensor: string) => {
    if (!tensor || inits.has(tensor) || points.has(tensor)) return;
    const p: QPoint = { tensor };
    const producer = producers.get(tensor);
    if (producer) p.producer = producer;
    const clip = clipOf.get(tensor);
    if (clip) p.clip = clip;
    const fixed = producer ? fixedParams(byName.get(producer)!, inits, graph) : undefined;
    if (fixed) p.fixed = fixed;
    points.set(tensor, p);
  };
  for (const n of nodes) {
    if (!quantized.has(n.name!)) continue;
    const ins = n.input!;
    // Stryker disable next-line ConditionalExpression: the other inputs of a quantized Conv/Gemm/MatMul are initializers (quantizable requires it), which addPoint skips; pooling has one input
    if (n.opType === 'Add') ins.forEach(addPoint);
    else addPoint(ins[0]!);
    const out = effectiveOut.get(n.name!) ?? n.output![0]!;
    // QGemm may return float, so a classifier's logits stay unquantized; the other ops need a Q after.
    if (n.opType === 'Gemm' && graphOutputs.has(out)) continue;
    addPoint(out);
  }
  // Pass-through ops whose input is quantized run on the quantized tensor with the same parameters.
  for (const n of nodes) {
    if (excluded.has(n.name!) || !PASS_THROUGH.has(n.opType!)) continue;
    const src = points.get(n.input![0]!);
    const out = n.output![0];
    if (!src || !out || n.output!.filter(Boolean).length !== 1) continue;
    quantized.add(n.name!);
    points.set(out, { tensor: out, alias: src.alias ?? src.tensor, producer: n.name! });
  }
  // Graph order, so Q/DQ insertion and the manifest read top to bottom.
  const order = new Map<string, number>();
  const inputs = graph.input!;
  inputs.forEach((i, k) => order.set(i.name!, k - inputs.length));
  nodes.forEach((n, k) => n.output!.forEach((o) => order.set(o, k)));
  for (const [act, info] of folded) order.set(byName.get(act)!.output![0]!, order.get(byName.get(info.producer)!.output![0]!) ?? 0);
  const sorted = [...points.values()].sort((a, b) => (order.get(a.tensor) ?? 0) - (order.get(b.tensor) ?? 0));
  return { quantized, excluded: [...excluded], folded, points: sorted };
}

/** Tensors whose statistics calibration must collect (aliases reuse their source's; fixed ones need none). */
export function calibratedTensors(plan: QuantPlan): string[] {
  return plan.points.filter((p) => !p.alias && !p.fixed).map((p) => p.tensor);
}

/** uint8 per-tensor parameters of a DequantizeLinear that reads a graph input. */
function fixedParams(n: Node, inits: ReturnType<typeof initializerMap>, graph: Graph): QPoint['fixed'] {
  if (n.opType !== 'DequantizeLinear') return undefined;
  const [x, s, z] = n.input!;
  if (!graph.input!.some((i) => i.name === x) || inits.has(x!)) return undefined;
  const scale = inits.get(s!);
  const zp = inits.get(z!);
  if (!scale || !zp || scale.dims!.length !== 0 || zp.dims!.length !== 0 || zp.dataType !== DataType.UINT8) return undefined;
  // ONNX stores a uint8 scalar in raw_data or in int32_data (decoded tensors carry an empty raw_data).
  const zeroPoint = zp.rawData!.length ? zp.rawData![0]! : (zp.int32Data![0] ?? 0);
  return { scale: tensorToFloat32(scale)[0]!, zeroPoint, quantized: x! };
}

export { WEIGHTED };

import { type Graph, type Node, getAttr, getIntAttr, getIntsAttr } from '../onnx/proto';
import { initializerMap } from './prepare';

/**
 * Static shapes of a float graph's tensors for given input dims, for the ops of image classifiers
 * (Conv, pooling, elementwise, Gemm, ...). Calibration needs every tapped tensor's shape before it builds
 * its sampling graph; inferring them here saves a whole extra ONNX Runtime session (graph with every
 * tensor as an output, plus one run). Returns undefined as soon as a needed tensor's shape is unknown
 * (an op not handled, a data-dependent shape); the caller then asks ONNX Runtime.
 */
export function inferShapes(graph: Graph, inputDims: Map<string, number[]>, wanted: string[]): Map<string, number[]> | undefined {
  const shapes = new Map<string, number[]>(inputDims);
  const inits = initializerMap(graph);
  for (const [name, t] of inits) shapes.set(name, (t.dims ?? []).map(Number));
  // Stryker disable next-line ArrayDeclaration: a fallback element that is not a node has no output and is skipped
  for (const n of graph.node ?? []) {
    const out = n.output?.[0];
    // Every op handled reads at least one input: a node without any gets no shape.
    if (!out || !n.input?.length) continue;
    const ins = n.input.map((i) => (i ? shapes.get(i) : undefined));
    const s = outputShape(n, ins, (name) => inits.has(name));
    if (s && s.every((d) => Number.isInteger(d) && d >= 0)) shapes.set(out, s);
  }
  const result = new Map<string, number[]>();
  for (const t of wanted) {
    const s = shapes.get(t);
    if (!s || inits.has(t)) return undefined;
    result.set(t, s);
  }
  return result;
}

function broadcast(shapes: (number[] | undefined)[]): number[] | undefined {
  if (shapes.some((s) => !s)) return undefined;
  const rank = Math.max(...shapes.map((s) => s!.length));
  const out: number[] = [];
  for (let k = 0; k < rank; k++) {
    let d = 1;
    for (const s of shapes) {
      const v = s![s!.length - rank + k] ?? 1;
      if (v === 1) continue;
      if (d !== 1 && d !== v) return undefined;
      d = v;
    }
    out.push(d);
  }
  return out;
}

/** Output spatial sizes of Conv / MaxPool / AveragePool (NOTSET, VALID and SAME auto_pad). */
function spatial(n: Node, x: number[], kernel: number[], ceil: boolean): number[] | undefined {
  const rank = kernel.length;
  const strides = getIntsAttr(n, 'strides', new Array(rank).fill(1));
  const dil = getIntsAttr(n, 'dilations', new Array(rank).fill(1));
  const pads = getIntsAttr(n, 'pads', new Array(2 * rank).fill(0));
  const autoPad = getAttr(n, 'auto_pad')?.s;
  const mode = autoPad ? new TextDecoder().decode(autoPad) : 'NOTSET';
  const out: number[] = [];
  for (let k = 0; k < rank; k++) {
    const size = x[2 + k]!;
    const s = strides[k]!;
    const eff = dil[k]! * (kernel[k]! - 1) + 1;
    if (mode === 'SAME_UPPER' || mode === 'SAME_LOWER') out.push(Math.ceil(size / s));
    else if (mode === 'VALID') out.push(Math.floor((size - eff) / s) + 1);
    else if (mode === 'NOTSET') {
      const span = size + pads[k]! + pads[k + rank]! - eff;
      out.push((ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1);
    } else return undefined;
  }
  return out;
}

function outputShape(n: Node, ins: (number[] | undefined)[], isConst: (name: string) => boolean): number[] | undefined {
  const x = ins[0];
  switch (n.opType) {
    case 'Cast':
    case 'Clip':
    case 'Relu':
    case 'LeakyRelu':
    case 'Sigmoid':
    case 'HardSigmoid':
    case 'HardSwish':
    case 'Tanh':
    case 'Neg':
    case 'Identity':
    case 'BatchNormalization':
    case 'QuantizeLinear':
    case 'DequantizeLinear':
      return x;
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'Max':
    case 'Min':
      return broadcast(ins);
    case 'Gather': {
      // The channel flip of a folded BGR normalization: a constant 1-D index along one axis.
      const idx = ins[1];
      if (!x || !idx || idx.length !== 1 || !isConst(n.input![1]!)) return undefined;
      const axis = getIntAttr(n, 'axis', 0);
      const a = axis < 0 ? axis + x.length : axis;
      return x.map((d, k) => (k === a ? idx[0]! : d));
    }
    case 'Conv': {
      const w = ins[1];
      if (!x || !w || x.length !== w.length) return undefined;
      const sp = spatial(n, x, getIntsAttr(n, 'kernel_shape', w.slice(2)), false);
      return sp && [x[0]!, w[0]!, ...sp];
    }
    case 'MaxPool':
    case 'AveragePool': {
      // Stryker disable next-line ArrayDeclaration: inferShapes skips nodes without an output before asking for their shape
      if (!x || (n.output ?? []).filter(Boolean).length !== 1) return undefined;
      // kernel_shape is required, one entry per spatial axis.
      const kernel = getIntsAttr(n, 'kernel_shape', []);
      if (kernel.length !== x.length - 2) return undefined;
      const sp = spatial(n, x, kernel, getIntAttr(n, 'ceil_mode', 0) === 1);
      return sp && [x[0]!, x[1]!, ...sp];
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
      return x && [x[0]!, x[1]!, ...x.slice(2).map(() => 1)];
    case 'Flatten': {
      if (!x) return undefined;
      const axis = getIntAttr(n, 'axis', 1);
      const a = axis < 0 ? axis + x.length : axis;
      // The axis lies in [-r, r].
      if (a < 0 || a > x.length) return undefined;
      return [x.slice(0, a).reduce((p, d) => p * d, 1), x.slice(a).reduce((p, d) => p * d, 1)];
    }
    case 'Gemm': {
      const w = ins[1];
      if (!x || !w || x.length !== 2 || w.length !== 2) return undefined;
      const m = getIntAttr(n, 'transA', 0) ? x[1]! : x[0]!;
      return [m, getIntAttr(n, 'transB', 0) ? w[0]! : w[1]!];
    }
    case 'MatMul': {
      const w = ins[1];
      if (!x || !w || w.length !== 2 || x.length < 2) return undefined;
      return [...x.slice(0, -1), w[1]!];
    }
    case 'Concat': {
      if (ins.some((s) => !s)) return undefined;
      const axis = getIntAttr(n, 'axis', 0);
      const a = axis < 0 ? axis + x!.length : axis;
      return x!.map((d, k) => (k === a ? ins.reduce((p, s) => p + s![k]!, 0) : d));
    }
    case 'Transpose': {
      if (!x) return undefined;
      const perm = getIntsAttr(n, 'perm', x.map((_, k) => x.length - 1 - k));
      return perm.map((p) => x[p]!);
    }
    // Stryker disable next-line ConditionalExpression: an emptied default falls out of the switch and returns undefined as well
    default:
      return undefined;
  }
}

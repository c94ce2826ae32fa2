// Tiny hand-built ONNX graphs for the quant-prepare mutation tests (prepare.ts, shapes.ts, input-fold.ts).
import * as ort from 'onnxruntime-node';
import {
  DataType,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  encodeModel,
  floatTensor,
  makeModel,
  onnx,
  tensorToFloat32,
  typedTensor,
  valueInfo,
} from '../../plugins/modelzoo/src/lib/onnx/proto';

export { DataType };

/** A FLOAT initializer. */
export const f32 = (name: string, dims: number[], values: number[]): Tensor => floatTensor(name, dims, Float32Array.from(values));

/** A DOUBLE initializer (a non-FLOAT constant). */
export const f64 = (name: string, dims: number[], values: number[]): Tensor => {
  const a = Float64Array.from(values);
  return typedTensor(name, dims, DataType.DOUBLE, new Uint8Array(a.buffer));
};

/** Deterministic values in [-1, 1) with no two equal (a small LCG). */
export function values(n: number, seed = 1): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround(s / 2 ** 31 - 1);
  });
}

export interface GraphSpec {
  nodes: Node[];
  inits?: Tensor[];
  /** Graph inputs: [name, elemType, dims]. */
  inputs?: [string, number, (number | string)[]][];
  /** Graph outputs: names (FLOAT, shape left out) or [name, dims]. */
  outputs?: (string | [string, (number | string)[]])[];
  opset?: number;
}

export function graphOf(spec: GraphSpec): Graph {
  return onnx.GraphProto.create({
    name: 'g',
    node: spec.nodes,
    initializer: spec.inits ?? [],
    input: (spec.inputs ?? []).map(([n, t, d]) => valueInfo(n, t, d)),
    output: (spec.outputs ?? []).map((o) => (typeof o === 'string' ? onnx.ValueInfoProto.create({ name: o, type: { tensorType: { elemType: DataType.FLOAT } } }) : valueInfo(o[0], DataType.FLOAT, o[1]))),
  });
}

export const modelOf = (spec: GraphSpec): Model => makeModel(graphOf(spec), spec.opset ?? 13);

export const nodeNames = (m: Model): string[] => (m.graph!.node ?? []).map((n) => n.name ?? '');
export const opTypes = (m: Model): string[] => (m.graph!.node ?? []).map((n) => n.opType ?? '');
export const initNames = (m: Model): string[] => (m.graph!.initializer ?? []).map((t) => t.name ?? '');
export const findNode = (m: Model, name: string): Node => {
  const n = (m.graph!.node ?? []).find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name} in [${nodeNames(m)}]`);
  return n;
};
export const initOf = (m: Model, name: string): Tensor => {
  const t = (m.graph!.initializer ?? []).find((x) => x.name === name);
  if (!t) throw new Error(`no initializer ${name} in [${initNames(m)}]`);
  return t;
};
export const initValues = (m: Model, name: string): number[] => Array.from(tensorToFloat32(initOf(m, name)));
export const initDims = (m: Model, name: string): number[] => (initOf(m, name).dims ?? []).map(Number);

/** Runs a model with ONNX Runtime (graph optimizations off, so the graph runs as written). */
export async function runOrt(m: Model, feeds: Record<string, ort.Tensor>): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(encodeModel(m), { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1, logSeverityLevel: 3 });
  try {
    const out = await s.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await s.release();
  }
}

export { ort };

/** Asserts |a_i - b_i| <= tol * max(1, |b_i|) element-wise; returns the largest difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

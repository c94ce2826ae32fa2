import {
  DataType,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  floatTensor,
  getAttr,
  getIntAttr,
  modelOpset,
  node,
  onnx,
  tensorToFloat32,
} from '../onnx/proto';

/**
 * The float graph the quantizer works on: BatchNormalization folded into the Conv before it (so the int8
 * weights are the ones that run), and every Clip/Relu that directly follows a Conv/Gemm/Add recorded as
 * foldable: the uint8 output range then does the clipping and the activation disappears from the graph.
 */
export interface PreparedGraph {
  model: Model;
  /** Activation node name -> the compute node it follows and the clip bounds it applies. */
  activations: Map<string, { producer: string; lo: number; hi: number }>;
}

export const MIN_QDQ_OPSET = 13;

export function cloneModel(model: Model): onnx.ModelProto {
  return onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
}

export function prepareGraph(model: Model): PreparedGraph {
  const opset = modelOpset(model);
  if (opset < MIN_QDQ_OPSET) {
    throw new Error(`int8: the model's ONNX opset is ${opset}; per-channel QDQ needs opset >= ${MIN_QDQ_OPSET} (export it again)`);
  }
  const out = cloneModel(model);
  const graph = out.graph;
  if (!graph) throw new Error('int8: ONNX model has no graph');
  // Stryker disable ArrayDeclaration: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
  graph.node = graph.node ?? [];
  graph.initializer = graph.initializer ?? [];
  // Stryker restore ArrayDeclaration
  nameNodes(graph);
  foldBatchNorms(graph);
  classifierConvToGemm(graph);
  removeOutputIdentities(graph);
  removeUnusedInitializers(graph);
  return { model: out, activations: findFoldableActivations(graph) };
}

/** Every node gets a unique name: exclude_layers, the manifest and the sensitivity report refer to them. */
function nameNodes(graph: Graph): void {
  const used = new Set<string>();
  graph.node!.forEach((n, i) => {
    let name = n.name || `${n.opType}_${i}`;
    while (used.has(name)) name = `${name}_${i}`;
    n.name = name;
    used.add(name);
  });
}

export function consumersOf(graph: Graph): Map<string, Node[]> {
  const m = new Map<string, Node[]>();
  // Stryker disable next-line ArrayDeclaration: a fallback element that is not a node has no inputs, so the map is the same
  for (const n of graph.node ?? []) {
    for (const i of n.input ?? []) {
      if (!i) continue;
      const list = m.get(i) ?? [];
      list.push(n);
      m.set(i, list);
    }
  }
  return m;
}

export function initializerMap(graph: Graph): Map<string, Tensor> {
  return new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
}

function isGraphOutput(graph: Graph, name: string): boolean {
  // Stryker disable next-line ArrayDeclaration: only called on prepareGraph's clone: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
  return (graph.output ?? []).some((o) => o.name === name);
}

function foldBatchNorms(graph: Graph): void {
  const inits = initializerMap(graph);
  const consumers = consumersOf(graph);
  const producers = new Map<string, Node>();
  // Stryker disable next-line ArrayDeclaration: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
  for (const n of graph.node!) for (const o of n.output ?? []) producers.set(o, n);
  const drop = new Set<Node>();
  for (const bn of graph.node!) {
    if (bn.opType !== 'BatchNormalization') continue;
    // Stryker disable next-line OptionalChaining,StringLiteral: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
    const x = bn.input?.[0] ?? '';
    const conv = producers.get(x);
    if (!conv || conv.opType !== 'Conv') continue;
    // Stryker disable next-line ArrayDeclaration: x is this BatchNormalization's own input, so consumers always lists it
    if ((consumers.get(x) ?? []).length !== 1 || isGraphOutput(graph, x)) continue;
    // Stryker disable next-line ArrayDeclaration: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
    if ((bn.output ?? []).filter(Boolean).length !== 1) continue;
    // Stryker disable next-line ArrayDeclaration: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
    const params = (bn.input ?? []).slice(1, 5).map((n) => inits.get(n));
    // Stryker disable next-line OptionalChaining,StringLiteral: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
    const w = inits.get(conv.input?.[1] ?? '');
    // Stryker disable next-line OptionalChaining: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
    const b = conv.input?.[2] ? inits.get(conv.input[2]) : undefined;
    // Stryker disable next-line OptionalChaining: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
    if (!w || params.some((p) => !p) || (conv.input?.[2] && !b)) continue;
    const [gamma, beta, mean, variance] = params.map((p) => tensorToFloat32(p!));
    const eps = getAttr(bn, 'epsilon')?.f ?? 1e-5;
    const weight = tensorToFloat32(w);
    const bias = b ? tensorToFloat32(b) : new Float32Array(gamma!.length);
    const outC = gamma!.length;
    const per = weight.length / outC;
    const newW = new Float32Array(weight.length);
    const newB = new Float32Array(outC);
    // Stryker disable next-line EqualityOperator: `o <= outC` adds a row at o = outC, past the end of newW and newB (writes ignored); `o >= outC` (no row) is killed
    for (let o = 0; o < outC; o++) {
      const k = gamma![o]! / Math.sqrt(variance![o]! + eps);
      // Stryker disable next-line EqualityOperator: `j <= per` also writes entry (o + 1) * per, which row o + 1 writes again next (past the end for the last row); `j >= per` (no entry) is killed
      for (let j = 0; j < per; j++) newW[o * per + j] = weight[o * per + j]! * k;
      newB[o] = (bias[o]! - mean![o]!) * k + beta![o]!;
    }
    const wName = `${conv.name}.weight_bn_folded`;
    const bName = `${conv.name}.bias_bn_folded`;
    // Stryker disable next-line ArrayDeclaration: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
    const wDims = (w.dims ?? []).map(Number);
    graph.initializer!.push(floatTensor(wName, wDims, newW), floatTensor(bName, [outC], newB));
    conv.input = [conv.input![0]!, wName, bName];
    conv.output = [bn.output![0]!];
    drop.add(bn);
  }
  graph.node = graph.node!.filter((n) => !drop.has(n));
}

export function removeUnusedInitializers(graph: Graph): void {
  const used = new Set<string>();
  // Stryker disable next-line ArrayDeclaration: a fallback element that is not a node adds nothing; one named 'Stryker was here' is no initializer's name
  for (const n of graph.node ?? []) for (const i of n.input ?? []) used.add(i);
  // The `?? ''` fallbacks below only run for a tensor without a name. Both callers (prepareGraph,
  // buildQdqModel) pass decoded messages, where protobuf's default makes a missing name '', and ONNX
  // requires every tensor to be named.
  // Stryker disable next-line StringLiteral: fallback for unnamed tensors only, never run on decoded messages (see above); on plain ones it only changes which unnamed tensors match
  for (const o of graph.output ?? []) used.add(o.name ?? '');
  const removed = new Set<string>();
  // Stryker disable next-line ArrayDeclaration: a fallback element has no name, is filed as '' and dropped, as the empty list would be
  graph.initializer = (graph.initializer ?? []).filter((t) => {
    // Stryker disable next-line StringLiteral: fallback for unnamed tensors only, never run on decoded messages (see above); on plain ones it only changes which unnamed tensors match
    if (used.has(t.name ?? '')) return true;
    // Stryker disable next-line StringLiteral: fallback for unnamed tensors only, never run on decoded messages (see above); on plain ones it only changes which unnamed tensors match
    removed.add(t.name ?? '');
    return false;
  });
  // Older exporters list initializers as graph inputs too; those go with their initializer.
  // Stryker disable next-line StringLiteral: fallback for unnamed tensors only, never run on decoded messages (see above); on plain ones it only changes which unnamed tensors match
  graph.input = (graph.input ?? []).filter((i) => !removed.has(i.name ?? ''));
}

/**
 * A classifier written as a 1x1 Conv on a GlobalAveragePool output followed by Flatten (TF/Keras exports)
 * becomes Flatten -> Gemm. The values are identical, but ONNX Runtime then runs it as QGemm with a float
 * output, so the logits are never rounded to 8 bits: a Conv always writes a quantized tensor, and one
 * uint8 scale over every class's logit (max calibration: the largest logit seen) rounds close scores
 * together and flips the top-1 between near-ties. The float tail (Q, DQ, Flatten) goes away too.
 */
function classifierConvToGemm(graph: Graph): void {
  const inits = initializerMap(graph);
  const consumers = consumersOf(graph);
  const producers = new Map<string, Node>();
  // Stryker disable next-line ArrayDeclaration: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
  for (const n of graph.node!) for (const o of n.output ?? []) producers.set(o, n);
  const replace = new Map<Node, Node[]>();
  const drop = new Set<Node>();
  for (const conv of graph.node!) {
    if (conv.opType !== 'Conv') continue;
    // Stryker disable next-line ArrayDeclaration: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
    const [x, wName, bName] = conv.input ?? [];
    // Stryker disable next-line StringLiteral: no initializer is named '' or 'Stryker was here!': w is undefined either way
    const w = inits.get(wName ?? '');
    // Stryker disable next-line ArrayDeclaration: the fallback only runs when w is undefined, and then `!w` below skips the node
    const dims = (w?.dims ?? []).map(Number);
    if (!w || dims.length !== 4 || dims[2] !== 1 || dims[3] !== 1) continue;
    // Stryker disable next-line ArrayDeclaration: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
    if (bName && (!inits.has(bName) || (inits.get(bName)!.dims ?? []).map(Number).join() !== String(dims[0]))) continue;
    // Stryker disable next-line StringLiteral: a Conv here has a weight, so it has a first input and x is never undefined
    const source = producers.get(x ?? '');
    if (getIntAttr(conv, 'group', 1) !== 1 || source?.opType !== 'GlobalAveragePool') continue;
    if ((getAttr(conv, 'pads')?.ints ?? []).some((p) => Number(p) !== 0)) continue;
    if ((getAttr(conv, 'dilations')?.ints ?? []).some((d) => Number(d) !== 1)) continue;
    // Stryker disable next-line OptionalChaining,StringLiteral: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
    const y = conv.output?.[0] ?? '';
    // Stryker disable next-line ArrayDeclaration: a fallback element is no Flatten node, so the check below skips the Conv as for no users
    const users = consumers.get(y) ?? [];
    const flat = users[0];
    if (users.length !== 1 || flat!.opType !== 'Flatten' || getIntAttr(flat!, 'axis', 1) !== 1 || isGraphOutput(graph, y)) continue;
    const w2 = `${conv.name}.weight_2d`;
    graph.initializer!.push(floatTensor(w2, [dims[0]!, dims[1]!], tensorToFloat32(w)));
    const flatIn = `${conv.name}.input_flat`;
    replace.set(conv, [
      node('Flatten', [x!], [flatIn], { axis: 1 }, `${conv.name}.flatten`),
      node('Gemm', [flatIn, w2, ...(bName ? [bName] : [])], [flat!.output![0]!], { transB: 1 }, conv.name!),
    ]);
    drop.add(flat!);
  }
  graph.node = graph.node!.filter((n) => !drop.has(n)).flatMap((n) => replace.get(n) ?? [n]);
}

/**
 * Identity nodes that only copy a tensor into a graph output are removed (the producer writes the output
 * name), so the quantizer sees which compute node writes the logits.
 */
function removeOutputIdentities(graph: Graph): void {
  const consumers = consumersOf(graph);
  const drop = new Set<Node>();
  for (const id of graph.node!) {
    if (id.opType !== 'Identity') continue;
    // Stryker disable next-line OptionalChaining,StringLiteral: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
    const x = id.input?.[0] ?? '';
    // Stryker disable next-line OptionalChaining,StringLiteral: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
    const y = id.output?.[0] ?? '';
    // Stryker disable next-line ArrayDeclaration: x is this Identity's own input, so consumers always lists it
    if (!isGraphOutput(graph, y) || isGraphOutput(graph, x) || (consumers.get(x) ?? []).length !== 1) continue;
    // Stryker disable next-line ArrayDeclaration: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
    const producer = graph.node!.find((n) => (n.output ?? []).includes(x));
    if (!producer) continue;
    producer.output = producer.output!.map((o) => (o === x ? y : o));
    drop.add(id);
  }
  graph.node = graph.node!.filter((n) => !drop.has(n));
}

const FOLD_INTO = new Set(['Conv', 'Gemm', 'Add']);

/** Clip bounds of a Clip node: constant inputs (opset >= 11); absent bounds are unbounded. */
function clipBounds(n: Node, inits: Map<string, Tensor>): { lo: number; hi: number } | undefined {
  if (n.opType === 'Relu') return { lo: 0, hi: Infinity };
  if (n.opType !== 'Clip') return undefined;
  const bound = (name: string | undefined, fallback: number): number | undefined => {
    if (!name) return fallback;
    const t = inits.get(name);
    if (!t || t.dataType !== DataType.FLOAT) return undefined;
    return tensorToFloat32(t)[0];
  };
  // Stryker disable next-line OptionalChaining: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
  const lo = bound(n.input?.[1], -Infinity);
  // Stryker disable next-line OptionalChaining: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
  const hi = bound(n.input?.[2], Infinity);
  if (lo === undefined || hi === undefined) return undefined;
  return { lo, hi };
}

function findFoldableActivations(graph: Graph): PreparedGraph['activations'] {
  const inits = initializerMap(graph);
  const consumers = consumersOf(graph);
  const producers = new Map<string, Node>();
  // Stryker disable next-line ArrayDeclaration: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
  for (const n of graph.node!) for (const o of n.output ?? []) producers.set(o, n);
  const out: PreparedGraph['activations'] = new Map();
  for (const act of graph.node!) {
    const bounds = clipBounds(act, inits);
    // Only ranges that contain 0 fold: the uint8 range is then [max(lo, 0-ish), hi] and exact at zero.
    if (!bounds || bounds.lo > 0 || bounds.hi <= 0) continue;
    // Stryker disable next-line OptionalChaining,StringLiteral: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
    const x = act.input?.[0] ?? '';
    const producer = producers.get(x);
    // Stryker disable next-line StringLiteral: cloneModel decodes the model and protobuf decode gives every repeated field an array and every string a '' default, so the fallback never runs
    if (!producer || !FOLD_INTO.has(producer.opType ?? '')) continue;
    // Stryker disable next-line ArrayDeclaration: x is this activation's own input, so consumers always lists it
    if ((consumers.get(x) ?? []).length !== 1 || isGraphOutput(graph, x)) continue;
    out.set(act.name!, { producer: producer.name!, ...bounds });
  }
  return out;
}

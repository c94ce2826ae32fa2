import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Model, type Node, encodeModel, node, onnx } from '../../plugins/modelzoo/src/lib/onnx/proto';
import {
  MIN_QDQ_OPSET,
  cloneModel,
  consumersOf,
  initializerMap,
  prepareGraph,
  removeUnusedInitializers,
} from '../../plugins/modelzoo/src/lib/quant/prepare';
import {
  DataType,
  type GraphSpec,
  f32,
  f64,
  findNode,
  graphOf,
  initDims,
  initNames,
  initValues,
  maxAbsDiff,
  modelOf,
  nodeNames,
  opTypes,
  ort,
  runOrt,
  values,
} from '../helpers/mutation-quant-prepare-graph';

const FLOAT = DataType.FLOAT;

// ---------------------------------------------------------------------------------------------------------
// prepareGraph: opset gate, clone, node names

test('prepareGraph refuses opset < 13 naming the opset; opset 13 is accepted', () => {
  assert.equal(MIN_QDQ_OPSET, 13);
  const spec: GraphSpec = { nodes: [node('Relu', ['x'], ['y'], {}, 'r')], inputs: [['x', FLOAT, [1]]], outputs: ['y'] };
  assert.throws(
    () => prepareGraph(modelOf({ ...spec, opset: 12 })),
    (e: Error) => e.message === "int8: the model's ONNX opset is 12; per-channel QDQ needs opset >= 13 (export it again)",
  );
  assert.deepEqual(nodeNames(prepareGraph(modelOf({ ...spec, opset: 13 })).model), ['r']);
  const noGraph = onnx.ModelProto.create({ irVersion: 7, opsetImport: [{ domain: '', version: 13 }] });
  assert.throws(() => prepareGraph(noGraph), (e: Error) => e.message === 'int8: ONNX model has no graph');
});

test('prepareGraph works on a copy: the caller model is left as it was', () => {
  const m = convBnModel({});
  const bytes = Buffer.from(encodeModel(m));
  const p = prepareGraph(m);
  assert.notEqual(p.model, m);
  assert.ok(Buffer.from(encodeModel(m)).equals(bytes));
  assert.deepEqual(opTypes(p.model), ['Conv', 'Relu']);
  // cloneModel: an equal, separate message.
  const c = cloneModel(m);
  assert.ok(Buffer.from(encodeModel(c)).equals(bytes));
  c.graph!.node![0]!.name = 'changed';
  assert.equal(m.graph!.node![0]!.name, 'conv');
});

test('every node gets a unique name: op_index for unnamed ones, _index appended until unused', () => {
  const relu = (i: string, o: string, name: string) => node('Relu', [i], [o], {}, name);
  const m = modelOf({
    nodes: [relu('x', 'a', 'x1'), relu('a', 'b', 'x1'), relu('b', 'c', ''), relu('c', 'd', 'Relu_2'), relu('d', 'e', 'x1_4'), relu('e', 'f', 'x1'), relu('f', 'g', '')],
    inputs: [['x', FLOAT, [1]]],
    outputs: ['g'],
  });
  // node 5 'x1': x1 used, x1_5 free. node 4 'x1_4' is free. node 3 'Relu_2' clashes with node 2's generated name.
  assert.deepEqual(nodeNames(prepareGraph(m).model), ['x1', 'x1_1', 'Relu_2', 'Relu_2_3', 'x1_4', 'x1_5', 'Relu_6']);
  const twice = modelOf({ nodes: [relu('x', 'a', 'n'), relu('a', 'b', 'n_2'), relu('b', 'c', 'n')], inputs: [['x', FLOAT, [1]]], outputs: ['c'] });
  // 'n' -> 'n_2' (taken) -> 'n_2_2'.
  assert.deepEqual(nodeNames(prepareGraph(twice).model), ['n', 'n_2', 'n_2_2']);
});

test('consumersOf lists every node reading a tensor, in graph order, skipping empty optional inputs', () => {
  const g = graphOf({
    nodes: [node('Clip', ['x', '', 'hi'], ['y'], {}, 'c'), node('Add', ['x', 'y'], ['z'], {}, 'a'), node('Mul', ['x', 'x'], ['w'], {}, 'm')],
  });
  const m = consumersOf(g);
  assert.deepEqual([...m.keys()].sort(), ['hi', 'x', 'y']);
  assert.deepEqual(m.get('x')!.map((n) => n.name), ['c', 'a', 'm', 'm']);
  assert.deepEqual(m.get('y')!.map((n) => n.name), ['a']);
  assert.equal(consumersOf(onnx.GraphProto.create({})).size, 0);
  const inits = initializerMap(graphOf({ nodes: [], inits: [f32('w', [1], [2]), f32('v', [2], [3, 4])] }));
  assert.deepEqual([...inits.keys()], ['w', 'v']);
  assert.deepEqual(inits.get('v')!.dims, [2]);
});

// ---------------------------------------------------------------------------------------------------------
// BatchNormalization folding

interface ConvBn {
  bias?: boolean;
  eps?: number;
  /** extra nodes appended (after the Relu on the BN output). */
  extra?: Node[];
  outputs?: string[];
  bnOutputs?: string[];
  bnInputs?: string[];
  convInputs?: string[];
  inputs?: GraphSpec['inputs'];
}

const O = 2;
const C = 3;
const W = values(O * C * 2 * 1, 7).map((v) => v * 2);
const B = [0.25, -0.75];
const GAMMA = [1.5, -0.5];
const BETA = [0.125, 2];
const MEAN = [0.5, -1.25];
const VAR = [3, 0.75];

function convBnModel(o: ConvBn): Model {
  const convInputs = o.convInputs ?? ['x', 'W', ...(o.bias === false ? [] : ['B'])];
  return modelOf({
    nodes: [
      node('Conv', convInputs, ['c'], { pads: [0, 0, 1, 0] }, 'conv'),
      node('BatchNormalization', o.bnInputs ?? ['c', 'gamma', 'beta', 'mean', 'var'], o.bnOutputs ?? ['bn'], o.eps === undefined ? {} : { epsilon: o.eps }, 'bn', ['epsilon']),
      node('Relu', ['bn'], ['y'], {}, 'relu'),
      ...(o.extra ?? []),
    ],
    inits: [f32('W', [O, C, 2, 1], W), f32('B', [O], B), f32('gamma', [O], GAMMA), f32('beta', [O], BETA), f32('mean', [O], MEAN), f32('var', [O], VAR)],
    inputs: o.inputs ?? [['x', FLOAT, [1, C, 3, 2]]],
    outputs: o.outputs ?? ['y'],
  });
}

/** The folded weights and bias computed in float64 from the formula y = gamma (conv - mean) / sqrt(var + eps) + beta. */
function bnOracle(eps: number, bias: boolean): { w: number[]; b: number[] } {
  const per = W.length / O;
  const w: number[] = [];
  const b: number[] = [];
  for (let o = 0; o < O; o++) {
    const s = Math.sqrt(VAR[o]! + eps);
    for (let j = 0; j < per; j++) w.push((GAMMA[o]! * W[o * per + j]!) / s);
    b.push((GAMMA[o]! * ((bias ? B[o]! : 0) - MEAN[o]!)) / s + BETA[o]!);
  }
  return { w, b };
}

const close = (got: number[], want: number[], what: string) => {
  assert.equal(got.length, want.length, what);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) <= 2e-7 * Math.max(1, Math.abs(want[i]!)), `${what}[${i}]: ${g} != ${want[i]}`));
};

test('BatchNormalization after a Conv folds into new weights and bias (epsilon from the node)', () => {
  const p = prepareGraph(convBnModel({ eps: 0.5 }));
  assert.deepEqual(opTypes(p.model), ['Conv', 'Relu']);
  const conv = findNode(p.model, 'conv');
  assert.deepEqual(conv.input, ['x', 'conv.weight_bn_folded', 'conv.bias_bn_folded']);
  assert.deepEqual(conv.output, ['bn']);
  assert.deepEqual(findNode(p.model, 'relu').input, ['bn']);
  // The old weight, bias and BN parameters are no longer used and are removed.
  assert.deepEqual(initNames(p.model), ['conv.weight_bn_folded', 'conv.bias_bn_folded']);
  assert.deepEqual(initDims(p.model, 'conv.weight_bn_folded'), [O, C, 2, 1]);
  assert.deepEqual(initDims(p.model, 'conv.bias_bn_folded'), [O]);
  const want = bnOracle(0.5, true);
  close(initValues(p.model, 'conv.weight_bn_folded'), want.w, 'weight');
  close(initValues(p.model, 'conv.bias_bn_folded'), want.b, 'bias');
});

test('BatchNormalization fold: a Conv without bias gets one; epsilon defaults to 1e-5', () => {
  const p = prepareGraph(convBnModel({ bias: false }));
  assert.deepEqual(findNode(p.model, 'conv').input, ['x', 'conv.weight_bn_folded', 'conv.bias_bn_folded']);
  const want = bnOracle(Math.fround(1e-5), false);
  close(initValues(p.model, 'conv.weight_bn_folded'), want.w, 'weight');
  close(initValues(p.model, 'conv.bias_bn_folded'), want.b, 'bias');
  // Variance 0: only epsilon keeps the scale finite, so its default shows directly.
  const zeroVar = convBnModel({ bias: false });
  zeroVar.graph!.initializer!.find((t) => t.name === 'var')!.rawData = new Uint8Array(new Float32Array([0, 0]).buffer);
  const z = prepareGraph(zeroVar);
  const k = GAMMA.map((g) => g / Math.sqrt(Math.fround(1e-5)));
  close(initValues(z.model, 'conv.bias_bn_folded'), MEAN.map((m, o) => -m * k[o]! + BETA[o]!), 'bias (var 0)');
});

test('a BatchNormalization with only its first output used folds; with training outputs it stays', () => {
  const p = prepareGraph(convBnModel({ eps: 0.5, bnOutputs: ['bn', '', ''] }));
  assert.deepEqual(opTypes(p.model), ['Conv', 'Relu']);
  const kept = prepareGraph(convBnModel({ eps: 0.5, bnOutputs: ['bn', 'rm', 'rv'] }));
  assert.deepEqual(opTypes(kept.model), ['Conv', 'BatchNormalization', 'Relu']);
  assert.deepEqual(findNode(kept.model, 'conv').input, ['x', 'W', 'B']);
});

test('BatchNormalization stays where the fold would change the graph or lacks constants', () => {
  const unchanged = (m: Model, why: string) => {
    const p = prepareGraph(m);
    assert.ok(opTypes(p.model).includes('BatchNormalization'), why);
    assert.ok(!initNames(p.model).includes('conv.weight_bn_folded'), why);
  };
  // The Conv output also feeds another node, or is itself a graph output.
  unchanged(convBnModel({ extra: [node('Relu', ['c'], ['y2'], {}, 'side')], outputs: ['y', 'y2'] }), 'Conv output has two consumers');
  unchanged(convBnModel({ outputs: ['y', 'c'] }), 'Conv output is a graph output');
  // A BN parameter, the weight, or a named bias that is not an initializer.
  unchanged(convBnModel({ bnInputs: ['c', 'gamma', 'beta', 'm_in', 'var'], inputs: [['x', FLOAT, [1, C, 3, 2]], ['m_in', FLOAT, [O]]] }), 'mean is an input');
  unchanged(convBnModel({ bnInputs: ['c', 'gamma', 'beta', 'mean', 'v_in'], inputs: [['x', FLOAT, [1, C, 3, 2]], ['v_in', FLOAT, [O]]] }), 'var is an input');
  unchanged(convBnModel({ convInputs: ['x', 'w_in', 'B'], inputs: [['x', FLOAT, [1, C, 3, 2]], ['w_in', FLOAT, [O, C, 2, 1]]] }), 'weight is an input');
  unchanged(convBnModel({ convInputs: ['x', 'W', 'b_in'], inputs: [['x', FLOAT, [1, C, 3, 2]], ['b_in', FLOAT, [O]]] }), 'bias is an input');
  // A BN after something other than a Conv.
  const afterRelu = modelOf({
    nodes: [node('Relu', ['x'], ['r'], {}, 'pre'), node('BatchNormalization', ['r', 'gamma', 'beta', 'mean', 'var'], ['y'], {}, 'bn')],
    inits: [f32('gamma', [C], [1, 2, 3]), f32('beta', [C], [0, 0, 0]), f32('mean', [C], [0, 0, 0]), f32('var', [C], [1, 1, 1])],
    inputs: [['x', FLOAT, [1, C, 2, 2]]],
    outputs: ['y'],
  });
  assert.deepEqual(opTypes(prepareGraph(afterRelu).model), ['Relu', 'BatchNormalization']);
  // A BN reading a graph input directly.
  const onInput = modelOf({
    nodes: [node('BatchNormalization', ['x', 'gamma', 'beta', 'mean', 'var'], ['y'], {}, 'bn')],
    inits: [f32('gamma', [C], [1, 2, 3]), f32('beta', [C], [0, 0, 0]), f32('mean', [C], [0, 0, 0]), f32('var', [C], [1, 1, 1])],
    inputs: [['x', FLOAT, [1, C, 2, 2]]],
    outputs: ['y'],
  });
  assert.deepEqual(opTypes(prepareGraph(onInput).model), ['BatchNormalization']);
});

test('two Conv+BN pairs fold independently, each into weights named after its Conv', () => {
  const bn = (i: string, o: string, name: string) => node('BatchNormalization', [i, 'gamma', 'beta', 'mean', 'var'], [o], { epsilon: 0.5 }, name, ['epsilon']);
  const m = modelOf({
    nodes: [
      node('Conv', ['x', 'W'], ['c1'], {}, 'first'),
      bn('c1', 'b1', 'bn1'),
      node('Conv', ['x', 'W', 'B'], ['c2'], {}, 'second'),
      bn('c2', 'b2', 'bn2'),
      node('Add', ['b1', 'b2'], ['y'], {}, 'add'),
    ],
    inits: [f32('W', [O, C, 2, 1], W), f32('B', [O], B), f32('gamma', [O], GAMMA), f32('beta', [O], BETA), f32('mean', [O], MEAN), f32('var', [O], VAR)],
    inputs: [['x', FLOAT, [1, C, 3, 2]]],
    outputs: ['y'],
  });
  const p = prepareGraph(m);
  assert.deepEqual(nodeNames(p.model), ['first', 'second', 'add']);
  assert.deepEqual(initNames(p.model), ['first.weight_bn_folded', 'first.bias_bn_folded', 'second.weight_bn_folded', 'second.bias_bn_folded']);
  close(initValues(p.model, 'first.bias_bn_folded'), bnOracle(0.5, false).b, 'first bias');
  close(initValues(p.model, 'second.bias_bn_folded'), bnOracle(0.5, true).b, 'second bias');
  assert.deepEqual(findNode(p.model, 'add').input, ['b1', 'b2']);
});

// ---------------------------------------------------------------------------------------------------------
// 1x1-Conv classifier -> Flatten + Gemm

interface Head {
  wDims?: number[];
  bias?: string | null;
  biasDims?: number[];
  convAttrs?: Record<string, number | number[]>;
  pool?: string;
  flatAxis?: number;
  extra?: Node[];
  outputs?: string[];
  inputs?: GraphSpec['inputs'];
}

const K = 3;
const HW = values(K * 2, 11);
const HB = [0.5, -1, 2];

function headModel(h: Head): Model {
  const bias = h.bias === undefined ? 'hb' : h.bias;
  return modelOf({
    nodes: [
      node(h.pool ?? 'GlobalAveragePool', ['x'], ['p'], {}, 'pool'),
      node('Conv', ['p', 'hw', ...(bias ? [bias] : [])], ['c'], h.convAttrs ?? {}, 'head'),
      node('Flatten', ['c'], ['logits'], h.flatAxis === undefined ? {} : { axis: h.flatAxis }, 'flat'),
      ...(h.extra ?? []),
    ],
    inits: [f32('hw', h.wDims ?? [K, 2, 1, 1], HW), f32('hb', h.biasDims ?? [K], HB)],
    inputs: h.inputs ?? [['x', FLOAT, [1, 2, 3, 3]]],
    outputs: h.outputs ?? ['logits'],
  });
}

test('a 1x1 Conv classifier after GlobalAveragePool + Flatten becomes Flatten -> Gemm(transB) with 2-D weights', () => {
  const p = prepareGraph(headModel({}));
  assert.deepEqual(opTypes(p.model), ['GlobalAveragePool', 'Flatten', 'Gemm']);
  assert.deepEqual(nodeNames(p.model), ['pool', 'head.flatten', 'head']);
  const [, flat, gemm] = p.model.graph!.node!;
  assert.deepEqual(flat!.input, ['p']);
  assert.deepEqual(flat!.output, ['head.input_flat']);
  assert.equal(Number(flat!.attribute!.find((a) => a.name === 'axis')!.i), 1);
  assert.deepEqual(gemm!.input, ['head.input_flat', 'head.weight_2d', 'hb']);
  assert.deepEqual(gemm!.output, ['logits']);
  assert.equal(Number(gemm!.attribute!.find((a) => a.name === 'transB')!.i), 1);
  assert.deepEqual(initNames(p.model), ['hb', 'head.weight_2d']);
  assert.deepEqual(initDims(p.model, 'head.weight_2d'), [K, 2]);
  assert.deepEqual(initValues(p.model, 'head.weight_2d'), HW);
});

test('classifier rewrite without a bias; explicit zero pads, unit dilations, group 1 and axis 1 are fine', () => {
  const p = prepareGraph(headModel({ bias: null, convAttrs: { pads: [0, 0, 0, 0], dilations: [1, 1], group: 1, strides: [1, 1] }, flatAxis: 1 }));
  assert.deepEqual(opTypes(p.model), ['GlobalAveragePool', 'Flatten', 'Gemm']);
  assert.deepEqual(p.model.graph!.node![2]!.input, ['head.input_flat', 'head.weight_2d']);
});

test('the classifier Conv stays a Conv whenever the rewrite would not be the same function', () => {
  const stays = (h: Head, why: string) => {
    const p = prepareGraph(headModel(h));
    assert.ok(opTypes(p.model).includes('Conv'), why);
    assert.ok(!opTypes(p.model).includes('Gemm'), why);
    assert.ok(!initNames(p.model).includes('head.weight_2d'), why);
  };
  stays({ wDims: [K, 2, 1, 1, 1] }, 'weight rank 5');
  stays({ wDims: [K, 2, 2] }, 'weight rank 3');
  stays({ wDims: [K, 1, 2, 1] }, 'kernel height 2');
  stays({ wDims: [K, 1, 1, 2] }, 'kernel width 2');
  stays({ biasDims: [1, K] }, 'bias not [K]');
  stays({ wDims: [1, 6, 1, 1], biasDims: [K] }, 'bias length differs from the output channels');
  stays({ bias: 'b_in', inputs: [['x', FLOAT, [1, 2, 3, 3]], ['b_in', FLOAT, [K]]] }, 'bias is an input');
  stays({ convAttrs: { group: 2 } }, 'grouped');
  stays({ pool: 'GlobalMaxPool' }, 'not after GlobalAveragePool');
  stays({ convAttrs: { pads: [0, 0, 0, 1] } }, 'padded');
  stays({ convAttrs: { dilations: [1, 2] } }, 'dilated');
  stays({ flatAxis: 0 }, 'Flatten axis 0');
  stays({ extra: [node('Relu', ['c'], ['side'], {}, 'side')], outputs: ['logits', 'side'] }, 'a second consumer');
  stays({ outputs: ['logits', 'c'] }, 'Conv output is a graph output');
  // A Conv reading a graph input (no producer) and a weight that is a graph input.
  const noPool = modelOf({
    nodes: [node('Conv', ['x', 'hw'], ['c'], {}, 'head'), node('Flatten', ['c'], ['logits'], {}, 'flat')],
    inits: [f32('hw', [K, 2, 1, 1], HW)],
    inputs: [['x', FLOAT, [1, 2, 1, 1]]],
    outputs: ['logits'],
  });
  assert.deepEqual(opTypes(prepareGraph(noPool).model), ['Conv', 'Flatten']);
  const notFlatten = modelOf({
    nodes: [node('GlobalAveragePool', ['x'], ['p'], {}, 'pool'), node('Conv', ['p', 'hw'], ['c'], {}, 'head'), node('Relu', ['c'], ['logits'], {}, 'relu')],
    inits: [f32('hw', [K, 2, 1, 1], HW)],
    inputs: [['x', FLOAT, [1, 2, 3, 3]]],
    outputs: ['logits'],
  });
  assert.deepEqual(opTypes(prepareGraph(notFlatten).model), ['GlobalAveragePool', 'Conv', 'Relu']);
  const wInput = modelOf({
    nodes: [node('GlobalAveragePool', ['x'], ['p'], {}, 'pool'), node('Conv', ['p', 'wi'], ['c'], {}, 'head'), node('Flatten', ['c'], ['logits'], {}, 'flat')],
    inputs: [['x', FLOAT, [1, 2, 3, 3]], ['wi', FLOAT, [K, 2, 1, 1]]],
    outputs: ['logits'],
  });
  assert.deepEqual(opTypes(prepareGraph(wInput).model), ['GlobalAveragePool', 'Conv', 'Flatten']);
});

// ---------------------------------------------------------------------------------------------------------
// Identity into a graph output, unused initializers

test('an Identity copying a tensor into a graph output goes: its producer writes the output name', () => {
  const m = modelOf({
    nodes: [node('Split', ['x'], ['s0', 's1'], { axis: 0 }, 'split'), node('Relu', ['s0'], ['r'], {}, 'relu'), node('Identity', ['s1'], ['out'], {}, 'id')],
    inputs: [['x', FLOAT, [2]]],
    outputs: ['r', 'out'],
  });
  const p = prepareGraph(m);
  assert.deepEqual(nodeNames(p.model), ['split', 'relu']);
  assert.deepEqual(findNode(p.model, 'split').output, ['s0', 'out']);
});

test('Identity nodes stay when removing them would change the graph', () => {
  const keeps = (nodes: Node[], outputs: string[], why: string) => {
    const p = prepareGraph(modelOf({ nodes, inputs: [['x', FLOAT, [2]]], outputs }));
    assert.ok(opTypes(p.model).includes('Identity'), why);
  };
  const relu = node('Relu', ['x'], ['r'], {}, 'relu');
  keeps([relu, node('Identity', ['r'], ['i'], {}, 'id'), node('Neg', ['i'], ['out'], {}, 'neg')], ['out'], 'Identity output is not a graph output');
  keeps([relu, node('Identity', ['r'], ['out'], {}, 'id')], ['out', 'r'], 'its input is a graph output too');
  keeps([relu, node('Identity', ['r'], ['out'], {}, 'id'), node('Neg', ['r'], ['n'], {}, 'neg')], ['out', 'n'], 'its input has a second consumer');
  keeps([node('Identity', ['x'], ['out'], {}, 'id')], ['out'], 'its input is a graph input');
  // Two Identities to two outputs from two producers: both go.
  const both = prepareGraph(
    modelOf({
      nodes: [relu, node('Neg', ['x'], ['n'], {}, 'neg'), node('Identity', ['r'], ['o1'], {}, 'i1'), node('Identity', ['n'], ['o2'], {}, 'i2')],
      inputs: [['x', FLOAT, [2]]],
      outputs: ['o1', 'o2'],
    }),
  );
  assert.deepEqual(nodeNames(both.model), ['relu', 'neg']);
  assert.deepEqual(findNode(both.model, 'relu').output, ['o1']);
  assert.deepEqual(findNode(both.model, 'neg').output, ['o2']);
});

test('removeUnusedInitializers keeps initializers read by nodes or named as outputs, and drops their graph inputs', () => {
  const g = graphOf({
    nodes: [node('Add', ['x', 'used'], ['y'], {}, 'add')],
    inits: [f32('used', [1], [1]), f32('unused', [1], [2]), f32('out_const', [1], [3]), f32('listed', [1], [4])],
    inputs: [['x', FLOAT, [1]], ['listed', FLOAT, [1]], ['used', FLOAT, [1]], ['free', FLOAT, [1]]],
    outputs: ['y', 'out_const'],
  });
  removeUnusedInitializers(g);
  assert.deepEqual(g.initializer!.map((t) => t.name), ['used', 'out_const']);
  // 'listed' was an initializer listed as an input (older exporters): it goes; 'free' is a real input and stays.
  assert.deepEqual(g.input!.map((i) => i.name), ['x', 'used', 'free']);
  const empty = onnx.GraphProto.create({});
  removeUnusedInitializers(empty);
  assert.deepEqual(empty.initializer, []);
  assert.deepEqual(empty.input, []);
});

// ---------------------------------------------------------------------------------------------------------
// Foldable activations

function actModel(producer: Node, act: Node, inits: ReturnType<typeof f32>[] = [], extra: Node[] = [], outputs = ['y']): Model {
  return modelOf({
    nodes: [producer, act, ...extra],
    inits: [f32('W', [2, 2, 1, 1], [1, 2, 3, 4]), f32('G', [2, 2], [1, 2, 3, 4]), ...inits],
    inputs: [['x', FLOAT, [1, 2, 1, 1]], ['x2', FLOAT, [2, 2]], ['lo_in', FLOAT, []]],
    outputs,
  });
}
const conv = node('Conv', ['x', 'W'], ['c'], {}, 'conv');

test('Relu and constant Clip after Conv/Gemm/Add are recorded with their bounds and producer', () => {
  const relu = prepareGraph(actModel(conv, node('Relu', ['c'], ['y'], {}, 'act')));
  assert.deepEqual([...relu.activations], [['act', { producer: 'conv', lo: 0, hi: Infinity }]]);
  const gemm = node('Gemm', ['x2', 'G'], ['c'], {}, 'gemm');
  const clip6 = prepareGraph(actModel(gemm, node('Clip', ['c', 'lo', 'hi'], ['y'], {}, 'act'), [f32('lo', [], [0]), f32('hi', [], [6])]));
  assert.deepEqual([...clip6.activations], [['act', { producer: 'gemm', lo: 0, hi: 6 }]]);
  const add = node('Add', ['x', 'x'], ['c'], {}, 'add');
  const open = prepareGraph(actModel(add, node('Clip', ['c'], ['y'], {}, 'act')));
  assert.deepEqual([...open.activations], [['act', { producer: 'add', lo: -Infinity, hi: Infinity }]]);
  const onlyHi = prepareGraph(actModel(conv, node('Clip', ['c', '', 'hi'], ['y'], {}, 'act'), [f32('hi', [], [0.25])]));
  assert.deepEqual([...onlyHi.activations], [['act', { producer: 'conv', lo: -Infinity, hi: 0.25 }]]);
  const onlyLo = prepareGraph(actModel(conv, node('Clip', ['c', 'lo'], ['y'], {}, 'act'), [f32('lo', [], [-0.5])]));
  assert.deepEqual([...onlyLo.activations], [['act', { producer: 'conv', lo: -0.5, hi: Infinity }]]);
});

test('the activation names are the prepared (unique) node names', () => {
  const m = modelOf({
    nodes: [node('Conv', ['x', 'W'], ['c'], {}, ''), node('Relu', ['c'], ['y'], {}, '')],
    inits: [f32('W', [2, 2, 1, 1], [1, 2, 3, 4])],
    inputs: [['x', FLOAT, [1, 2, 1, 1]]],
    outputs: ['y'],
  });
  assert.deepEqual([...prepareGraph(m).activations], [['Relu_1', { producer: 'Conv_0', lo: 0, hi: Infinity }]]);
});

test('a Clip folds only when its range contains 0 (lo <= 0 < hi)', () => {
  const clip = (lo: number, hi: number) =>
    prepareGraph(actModel(conv, node('Clip', ['c', 'lo', 'hi'], ['y'], {}, 'act'), [f32('lo', [], [lo]), f32('hi', [], [hi])])).activations;
  assert.deepEqual(clip(0, 1).get('act'), { producer: 'conv', lo: 0, hi: 1 });
  assert.deepEqual(clip(-1, 0.5).get('act'), { producer: 'conv', lo: -1, hi: 0.5 });
  assert.equal(clip(0.5, 1).size, 0, 'lo > 0');
  assert.equal(clip(-1, 0).size, 0, 'hi = 0');
  assert.equal(clip(-2, -1).size, 0, 'hi < 0');
});

test('activations that are not folded: non-constant or non-float bounds, other producers, shared or output inputs', () => {
  const none = (m: Model, why: string) => assert.equal(prepareGraph(m).activations.size, 0, why);
  none(actModel(conv, node('Clip', ['c', 'lo_in'], ['y'], {}, 'act')), 'lo is a graph input');
  none(actModel(conv, node('Clip', ['c', '', 'hi_in'], ['y'], {}, 'act')), 'hi is unknown');
  const dbl = modelOf({
    nodes: [conv, node('Clip', ['c', 'lo', 'hi'], ['y'], {}, 'act')],
    inits: [f32('W', [2, 2, 1, 1], [1, 2, 3, 4]), f64('lo', [], [0]), f32('hi', [], [6])],
    inputs: [['x', FLOAT, [1, 2, 1, 1]]],
    outputs: ['y'],
  });
  none(dbl, 'a DOUBLE bound');
  none(actModel(node('MaxPool', ['x'], ['c'], { kernel_shape: [1, 1] }, 'pool'), node('Relu', ['c'], ['y'], {}, 'act')), 'after MaxPool');
  none(actModel(node('Mul', ['x', 'x'], ['c'], {}, 'mul'), node('Relu', ['c'], ['y'], {}, 'act')), 'after Mul');
  none(actModel(conv, node('Sigmoid', ['c'], ['y'], {}, 'act')), 'Sigmoid');
  none(actModel(conv, node('Relu', ['c'], ['y'], {}, 'act'), [], [node('Neg', ['c'], ['n'], {}, 'neg')], ['y', 'n']), 'Conv output read twice');
  none(actModel(conv, node('Relu', ['c'], ['y'], {}, 'act'), [], [], ['y', 'c']), 'Conv output is a graph output');
  none(modelOf({ nodes: [node('Relu', ['x'], ['y'], {}, 'act')], inputs: [['x', FLOAT, [1]]], outputs: ['y'] }), 'no producer');
});

// ---------------------------------------------------------------------------------------------------------
// The whole pass on ONNX Runtime: the prepared graph computes the same function

test('ONNX Runtime: Conv+BN+Relu -> pool -> 1x1 Conv head -> Flatten -> Identity gives the same logits after prepareGraph', async () => {
  const m = modelOf({
    nodes: [
      node('Conv', ['x', 'W', 'B'], ['c'], { pads: [0, 0, 1, 0] }, 'conv'),
      node('BatchNormalization', ['c', 'gamma', 'beta', 'mean', 'var'], ['bn'], { epsilon: 0.5 }, 'bn', ['epsilon']),
      node('Relu', ['bn'], ['r'], {}, 'relu'),
      node('GlobalAveragePool', ['r'], ['p'], {}, 'pool'),
      node('Conv', ['p', 'hw', 'hb'], ['h'], {}, 'head'),
      node('Flatten', ['h'], ['f'], {}, 'flat'),
      node('Identity', ['f'], ['logits'], {}, 'id'),
    ],
    inits: [
      f32('W', [O, C, 2, 1], W),
      f32('B', [O], B),
      f32('gamma', [O], GAMMA),
      f32('beta', [O], BETA),
      f32('mean', [O], MEAN),
      f32('var', [O], VAR),
      f32('hw', [K, O, 1, 1], HW),
      f32('hb', [K], HB),
    ],
    inputs: [['x', FLOAT, [1, C, 3, 2]]],
    outputs: [['logits', [1, K]]],
  });
  const p = prepareGraph(m);
  assert.deepEqual(opTypes(p.model), ['Conv', 'Relu', 'GlobalAveragePool', 'Flatten', 'Gemm']);
  assert.deepEqual(p.model.graph!.node![4]!.output, ['logits']);
  assert.deepEqual([...p.activations.keys()], ['relu']);
  const x = new ort.Tensor('float32', Float32Array.from(values(C * 3 * 2, 3).map((v) => v * 4)), [1, C, 3, 2]);
  const want = (await runOrt(m, { x })).logits!;
  const got = (await runOrt(p.model, { x })).logits!;
  assert.ok(maxAbsDiff(got, want) < 1e-5, `${got} vs ${want}`);
  // The Relu really clips something here (the fold is not trivially exact).
  assert.ok(want.some((v) => v !== 0));
});

// ---------------------------------------------------------------------------------------------------------
// Only the patterns named: a BN after another op with a constant operand, a 1x1 ConvTranspose head

test('a BatchNormalization after Mul(x, constant) is not folded into the constant as if it were Conv weights', () => {
  const m = modelOf({
    nodes: [node('Mul', ['x', 'k'], ['c'], {}, 'mul'), node('BatchNormalization', ['c', 'gamma', 'beta', 'mean', 'var'], ['y'], { epsilon: 0.5 }, 'bn', ['epsilon'])],
    inits: [f32('k', [O, 1, 1], [2, 3]), f32('gamma', [O], GAMMA), f32('beta', [O], BETA), f32('mean', [O], MEAN), f32('var', [O], VAR)],
    inputs: [['x', FLOAT, [1, O, 2, 2]]],
    outputs: ['y'],
  });
  const p = prepareGraph(m);
  assert.deepEqual(opTypes(p.model), ['Mul', 'BatchNormalization']);
  assert.deepEqual(initNames(p.model), ['k', 'gamma', 'beta', 'mean', 'var']);
});

test('a 1x1 ConvTranspose between GlobalAveragePool and Flatten is not rewritten as a Gemm', () => {
  const m = modelOf({
    nodes: [node('GlobalAveragePool', ['x'], ['p'], {}, 'pool'), node('ConvTranspose', ['p', 'hw'], ['c'], {}, 'head'), node('Flatten', ['c'], ['logits'], {}, 'flat')],
    inits: [f32('hw', [2, K, 1, 1], HW)],
    inputs: [['x', FLOAT, [1, 2, 3, 3]]],
    outputs: ['logits'],
  });
  assert.deepEqual(opTypes(prepareGraph(m).model), ['GlobalAveragePool', 'ConvTranspose', 'Flatten']);
});

// The exported helpers take the I-interfaces: plain objects whose absent repeated fields mean empty.
test('consumersOf, initializerMap and removeUnusedInitializers accept plain messages with absent fields', () => {
  const plain = { node: [{ opType: 'Constant', output: ['k'] }, { opType: 'Relu', input: ['k'], output: ['y'] }] };
  assert.deepEqual([...consumersOf(plain).keys()], ['k']);
  assert.equal(consumersOf({}).size, 0);
  assert.equal(initializerMap({}).size, 0);
  // An initializer without a name is filed under ''.
  assert.deepEqual([...initializerMap({ initializer: [{ dims: [1] }] }).keys()], ['']);
  const g: Parameters<typeof removeUnusedInitializers>[0] = { node: [{ opType: 'Relu', input: ['x'], output: ['y'] }], initializer: [{ dims: [1], dataType: 1 }] };
  removeUnusedInitializers(g);
  assert.deepEqual(g.initializer, [], 'an unnamed, unread initializer goes (no output names it)');
  assert.deepEqual(g.input, [], 'absent inputs stay empty');
  const e: Parameters<typeof removeUnusedInitializers>[0] = {};
  removeUnusedInitializers(e);
  assert.deepEqual([e.initializer, e.input], [[], []]);
});

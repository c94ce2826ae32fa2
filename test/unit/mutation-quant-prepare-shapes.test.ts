import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type AttrValue, type Node, type Tensor, encodeModel, int64Tensor, node } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { inferShapes } from '../../plugins/modelzoo/src/lib/quant/shapes';
import { DataType, f32, graphOf, modelOf, ort } from '../helpers/mutation-quant-prepare-graph';

/** A zero-filled FLOAT initializer of the given dims (only its shape matters here). */
const w = (name: string, dims: number[]) => f32(name, dims, new Array(dims.reduce((a, d) => a * d, 1)).fill(0));

/** The shape inferred for `y` of one node reading input `x` (and the given initializers). */
function one(op: string, xDims: number[], attrs: Record<string, AttrValue> = {}, inits: Tensor[] = [], extraInputs: string[] = [], outputs = ['y']): number[] | undefined {
  const g = graphOf({ nodes: [node(op, ['x', ...extraInputs], outputs, attrs, 'n')], inits });
  return inferShapes(g, new Map([['x', xDims]]), ['y'])?.get('y');
}

/** The same with `x` missing from the input map (its shape unknown). */
function unknownX(op: string, attrs: Record<string, AttrValue> = {}, inits: Tensor[] = [], extraInputs: string[] = []): number[] | undefined {
  const g = graphOf({ nodes: [node(op, ['x', ...extraInputs], ['y'], attrs, 'n')], inits });
  return inferShapes(g, new Map(), ['y'])?.get('y');
}

const conv = (xDims: number[], wDims: number[], attrs: Record<string, AttrValue> = {}) => one('Conv', xDims, attrs, [w('W', wDims)], ['W']);
const pool = (op: string, xDims: number[], attrs: Record<string, AttrValue>) => one(op, xDims, attrs);

test('shape-preserving ops return their input shape', () => {
  const ops = ['Cast', 'Clip', 'Relu', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Neg', 'Identity', 'BatchNormalization', 'QuantizeLinear', 'DequantizeLinear'];
  for (const op of ops) assert.deepEqual(one(op, [2, 3, 5, 7]), [2, 3, 5, 7], op);
  // A chain: every intermediate tensor is found.
  const nodes = ops.map((op, i) => node(op, [i === 0 ? 'x' : `t${i - 1}`], [`t${i}`], {}, `n${i}`));
  const wanted = ops.map((_, i) => `t${i}`);
  const got = inferShapes(graphOf({ nodes }), new Map([['x', [1, 4]]]), wanted)!;
  assert.deepEqual([...got.keys()], wanted);
  for (const t of wanted) assert.deepEqual(got.get(t), [1, 4]);
  assert.equal(unknownX('Relu'), undefined, 'input shape unknown');
  assert.deepEqual(one('Relu', []), [], 'a scalar');
});

test('QuantizeLinear / DequantizeLinear keep the input shape, per-axis scales included', () => {
  for (const op of ['QuantizeLinear', 'DequantizeLinear']) {
    const g = graphOf({ nodes: [node(op, ['x', 's', 'z'], ['y'], { axis: 1 }, 'n')], inits: [w('s', [3]), w('z', [3])] });
    assert.deepEqual(inferShapes(g, new Map([['x', [1, 3, 4, 4]]]), ['y'])!.get('y'), [1, 3, 4, 4], op);
  }
});

test('plain messages: an initializer without dims is a scalar; a node without outputs is skipped', () => {
  const g = { node: [{ opType: 'Relu', input: ['x'] }, { opType: 'Mul', input: ['x', 'k'], output: ['y'] }], initializer: [{ name: 'k', dataType: 1, floatData: [2] }] };
  assert.deepEqual(inferShapes(g, new Map([['x', [2, 3]]]), ['y'])!.get('y'), [2, 3]);
});

test('elementwise ops broadcast numpy-style', () => {
  for (const op of ['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min']) {
    assert.deepEqual(one(op, [1, 3, 4, 4], {}, [w('k', [3, 1, 1])], ['k']), [1, 3, 4, 4], op);
  }
  const b = (x: number[], k: number[]) => one('Add', x, {}, [w('k', k)], ['k']);
  assert.deepEqual(b([2, 1, 4], [1, 3, 1]), [2, 3, 4]);
  assert.deepEqual(b([1, 3, 1], [2, 1, 4]), [2, 3, 4]);
  assert.deepEqual(b([5], [2, 3, 1]), [2, 3, 5], 'lower rank aligned at the end');
  assert.deepEqual(b([2, 3, 1], [5]), [2, 3, 5]);
  assert.deepEqual(b([4], []), [4], 'scalar');
  assert.deepEqual(b([3, 4], [3, 4]), [3, 4]);
  assert.deepEqual(b([1, 1], [1]), [1, 1]);
  assert.deepEqual(b([0, 2], [1, 2]), [0, 2], 'an empty axis');
  assert.equal(b([3], [4]), undefined, 'incompatible');
  assert.equal(b([2, 3], [3, 3]), undefined, 'incompatible leading axis');
  // Three inputs (Max/Min are variadic).
  const g = graphOf({ nodes: [node('Max', ['x', 'a', 'b'], ['y'], {}, 'n')], inits: [w('a', [3, 1]), w('b', [1, 1, 4])] });
  assert.deepEqual(inferShapes(g, new Map([['x', [2, 1, 1]]]), ['y'])!.get('y'), [2, 3, 4]);
  const g2 = graphOf({ nodes: [node('Max', ['x', 'a', 'b'], ['y'], {}, 'n')], inits: [w('a', [3, 1]), w('b', [1, 2, 1])] });
  assert.equal(inferShapes(g2, new Map([['x', [1, 1, 1]]]), ['y']), undefined, '3 vs 2 on one axis');
  // An input of unknown shape.
  assert.equal(one('Add', [2, 2], {}, [], ['unknown']), undefined);
});

test('Gather with a constant 1-D index replaces one axis by the index length', () => {
  const idx = (n: number) => int64Tensor('i', [n], Array.from({ length: n }, (_, k) => k));
  assert.deepEqual(one('Gather', [1, 3, 8, 6], { axis: 1 }, [idx(3)], ['i']), [1, 3, 8, 6]);
  assert.deepEqual(one('Gather', [1, 3, 8, 6], { axis: 1 }, [idx(2)], ['i']), [1, 2, 8, 6]);
  assert.deepEqual(one('Gather', [1, 3, 8, 6], { axis: -1 }, [idx(2)], ['i']), [1, 3, 8, 2]);
  assert.deepEqual(one('Gather', [1, 3, 8, 6], { axis: -4 }, [idx(2)], ['i']), [2, 3, 8, 6]);
  assert.deepEqual(one('Gather', [5, 4], {}, [idx(2)], ['i']), [2, 4], 'axis defaults to 0');
  const i2 = int64Tensor('i', [1, 2], [0, 1]);
  assert.equal(one('Gather', [5, 4], {}, [i2], ['i']), undefined, '2-D index');
  // An index that is a graph input (shape known, values not constant).
  const g = graphOf({ nodes: [node('Gather', ['x', 'i'], ['y'], { axis: 0 }, 'n')] });
  assert.equal(inferShapes(g, new Map([['x', [5, 4]], ['i', [2]]]), ['y']), undefined);
  assert.equal(one('Gather', [5, 4], {}, [], ['nothing']), undefined, 'index shape unknown');
  assert.equal(one('Gather', [5, 4], {}, [], []), undefined, 'no index input');
  assert.equal(unknownX('Gather', {}, [idx(2)], ['i']), undefined, 'data shape unknown');
});

test('Conv output: batch, output channels, and the NOTSET spatial formula with strides, dilations and pads', () => {
  assert.deepEqual(conv([1, 3, 9, 9], [4, 3, 3, 3]), [1, 4, 7, 7]);
  assert.deepEqual(conv([2, 3, 9, 9], [4, 3, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }), [2, 4, 5, 5]);
  // Per-axis values: begin pads at [0, rank), end pads at [rank, 2 rank).
  assert.deepEqual(conv([1, 3, 10, 12], [4, 3, 3, 2], { strides: [3, 2], pads: [0, 1, 2, 3], dilations: [2, 3] }), [1, 4, 3, 7]);
  // floor, not ceil: (10 + 0 - 3) / 2 = 3.5 -> 3, + 1.
  assert.deepEqual(conv([1, 3, 10, 10], [4, 3, 3, 3], { strides: [2, 2] }), [1, 4, 4, 4]);
  // kernel_shape overrides the weight's spatial dims.
  assert.deepEqual(conv([1, 3, 9, 9], [4, 3, 3, 3], { kernel_shape: [5, 1] }), [1, 4, 5, 9]);
  // 1-D and 3-D convolutions.
  assert.deepEqual(conv([1, 2, 11], [5, 2, 4], { strides: [2] }), [1, 5, 4]);
  assert.deepEqual(conv([1, 2, 5, 6, 7], [3, 2, 1, 2, 3]), [1, 3, 5, 5, 5]);
  // A kernel exactly the input size gives 1; one larger gives 0 (kept), two larger a negative size (unknown).
  assert.deepEqual(conv([1, 3, 4, 4], [2, 3, 4, 4]), [1, 2, 1, 1]);
  assert.deepEqual(conv([1, 3, 4, 4], [2, 3, 5, 5]), [1, 2, 0, 0]);
  assert.equal(conv([1, 3, 4, 4], [2, 3, 6, 6]), undefined);
  // Rank mismatch, unknown weight.
  assert.equal(conv([1, 3, 9], [4, 3, 3, 3]), undefined);
  assert.equal(conv([1, 3, 9, 9, 9], [4, 3, 3, 3]), undefined, 'input rank 5, weight rank 4');
  assert.equal(one('Conv', [1, 3, 9, 9], {}, [], ['W']), undefined);
  assert.equal(one('Conv', [1, 3, 9, 9]), undefined);
  assert.equal(unknownX('Conv', {}, [w('W', [4, 3, 3, 3])], ['W']), undefined);
});

test('Conv auto_pad: SAME_* gives ceil(size / stride), VALID floor((size - eff) / stride) + 1, others unknown', () => {
  for (const mode of ['SAME_UPPER', 'SAME_LOWER']) {
    assert.deepEqual(conv([1, 3, 9, 8], [4, 3, 3, 3], { auto_pad: mode, strides: [2, 3] }), [1, 4, 5, 3], mode);
  }
  assert.deepEqual(conv([1, 3, 9, 8], [4, 3, 3, 3], { auto_pad: 'VALID', strides: [2, 3], pads: [5, 5, 5, 5] }), [1, 4, 4, 2]);
  assert.deepEqual(conv([1, 3, 9, 8], [4, 3, 3, 3], { auto_pad: 'VALID', dilations: [2, 1] }), [1, 4, 5, 6]);
  assert.deepEqual(conv([1, 3, 9, 8], [4, 3, 3, 3], { auto_pad: 'NOTSET', pads: [1, 0, 1, 0] }), [1, 4, 9, 6]);
  assert.equal(conv([1, 3, 9, 8], [4, 3, 3, 3], { auto_pad: 'SAME' }), undefined);
});

test('MaxPool and AveragePool: floor or ceil_mode, channels kept; a second (indices) output is unknown', () => {
  for (const op of ['MaxPool', 'AveragePool']) {
    assert.deepEqual(pool(op, [2, 5, 8, 9], { kernel_shape: [3, 3], strides: [2, 2] }), [2, 5, 3, 4], op);
    assert.deepEqual(pool(op, [2, 5, 8, 9], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }), [2, 5, 4, 4], op);
    assert.deepEqual(pool(op, [2, 5, 8, 9], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 0 }), [2, 5, 3, 4], op);
    assert.deepEqual(pool(op, [1, 2, 7, 7], { kernel_shape: [2, 3], pads: [1, 0, 0, 1] }), [1, 2, 7, 6], op);
  }
  assert.equal(one('MaxPool', [1, 2, 8, 8], { kernel_shape: [2, 2] }, [], [], ['y', 'idx']), undefined);
  assert.deepEqual(one('MaxPool', [1, 2, 8, 8], { kernel_shape: [2, 2] }, [], [], ['y', '']), [1, 2, 7, 7]);
  assert.equal(unknownX('AveragePool', { kernel_shape: [2, 2] }), undefined);
  assert.equal(unknownX('MaxPool', { kernel_shape: [2, 2] }), undefined);
});

test('global pooling keeps N and C and sets every spatial axis to 1', () => {
  for (const op of ['GlobalAveragePool', 'GlobalMaxPool']) {
    assert.deepEqual(one(op, [2, 3, 7, 5]), [2, 3, 1, 1], op);
    assert.deepEqual(one(op, [2, 3, 7]), [2, 3, 1], op);
    assert.deepEqual(one(op, [2, 3, 4, 5, 6]), [2, 3, 1, 1, 1], op);
  }
  assert.equal(unknownX('GlobalAveragePool'), undefined);
  assert.equal(unknownX('GlobalMaxPool'), undefined);
});

test('Flatten: product of the axes before and from `axis` (default 1, negative counts from the end)', () => {
  assert.deepEqual(one('Flatten', [2, 3, 4, 5]), [2, 60]);
  assert.deepEqual(one('Flatten', [2, 3, 4, 5], { axis: 0 }), [1, 120]);
  assert.deepEqual(one('Flatten', [2, 3, 4, 5], { axis: 2 }), [6, 20]);
  assert.deepEqual(one('Flatten', [2, 3, 4, 5], { axis: -1 }), [24, 5]);
  assert.deepEqual(one('Flatten', [2, 3, 4, 5], { axis: 4 }), [120, 1]);
  assert.equal(unknownX('Flatten'), undefined);
});

test('Gemm: [M, N] from transA / transB; MatMul: batch axes of A, columns of B', () => {
  const gemm = (x: number[], b: number[], attrs: Record<string, AttrValue> = {}) => one('Gemm', x, attrs, [w('B', b)], ['B']);
  assert.deepEqual(gemm([2, 5], [5, 7]), [2, 7]);
  assert.deepEqual(gemm([2, 5], [7, 5], { transB: 1 }), [2, 7]);
  assert.deepEqual(gemm([5, 2], [5, 7], { transA: 1 }), [2, 7]);
  assert.deepEqual(gemm([5, 2], [7, 5], { transA: 1, transB: 1 }), [2, 7]);
  assert.deepEqual(gemm([2, 5], [5, 7], { transA: 0, transB: 0 }), [2, 7]);
  assert.equal(gemm([1, 2, 5], [5, 7]), undefined, 'A rank 3');
  assert.equal(gemm([2, 5], [1, 5, 7]), undefined, 'B rank 3');
  assert.equal(one('Gemm', [2, 5], {}, [], ['nothing']), undefined);
  assert.equal(unknownX('Gemm', {}, [w('B', [5, 7])], ['B']), undefined);
  assert.equal(unknownX('MatMul', {}, [w('B', [5, 7])], ['B']), undefined);
  const mm = (x: number[], b: number[]) => one('MatMul', x, {}, [w('B', b)], ['B']);
  assert.deepEqual(mm([2, 3, 5], [5, 4]), [2, 3, 4]);
  assert.deepEqual(mm([3, 5], [5, 4]), [3, 4]);
  assert.equal(mm([5], [5, 4]), undefined, 'A rank 1');
  assert.equal(mm([2, 3, 5], [2, 5, 4]), undefined, 'B rank 3');
  assert.equal(mm([2, 3, 5], [5]), undefined, 'B rank 1');
  assert.equal(one('MatMul', [3, 5], {}, [], ['nothing']), undefined);
});

test('Concat sums the axis (default 0, negative from the end); Transpose permutes (default: reversed)', () => {
  const cat = (attrs: Record<string, AttrValue>, x: number[], others: number[][]) =>
    one('Concat', x, attrs, others.map((d, i) => w(`c${i}`, d)), others.map((_, i) => `c${i}`));
  assert.deepEqual(cat({ axis: 1 }, [1, 2, 4, 4], [[1, 3, 4, 4]]), [1, 5, 4, 4]);
  assert.deepEqual(cat({ axis: 1 }, [1, 2, 4, 4], [[1, 3, 4, 4], [1, 7, 4, 4]]), [1, 12, 4, 4]);
  assert.deepEqual(cat({ axis: -1 }, [1, 2, 4, 4], [[1, 2, 4, 6]]), [1, 2, 4, 10]);
  assert.deepEqual(cat({}, [2, 3], [[5, 3]]), [7, 3]);
  assert.equal(one('Concat', [2, 3], { axis: 0 }, [], ['nothing']), undefined);
  assert.deepEqual(one('Transpose', [2, 3, 4, 5], { perm: [0, 2, 3, 1] }), [2, 4, 5, 3]);
  assert.deepEqual(one('Transpose', [2, 3, 4]), [4, 3, 2]);
  assert.equal(unknownX('Transpose'), undefined);
  assert.equal(unknownX('Transpose', { perm: [0] }), undefined);
  assert.equal(unknownX('Concat', { axis: 0 }), undefined);
});

test('inferShapes: ops it does not know, initializers and unknown tensors make the whole answer undefined', () => {
  assert.equal(one('GlobalLpPool', [1, 3, 4, 4]), undefined);
  assert.equal(one('Resize', [1, 3, 4, 4]), undefined);
  const g = graphOf({
    nodes: [node('Relu', ['x'], ['a'], {}, 'r'), node('Conv', ['a', 'W'], ['b'], {}, 'c'), node('Unknown', ['b'], ['u'], {}, 'k'), node('Relu', ['u'], ['v'], {}, 'r2')],
    inits: [w('W', [4, 3, 1, 1])],
  });
  const inputs = new Map([['x', [1, 3, 2, 2]]]);
  const got = inferShapes(g, inputs, ['b', 'a', 'x'])!;
  assert.deepEqual([...got], [['b', [1, 4, 2, 2]], ['a', [1, 3, 2, 2]], ['x', [1, 3, 2, 2]]]);
  assert.equal(inferShapes(g, inputs, ['a', 'u']), undefined, 'u comes from an unknown op');
  assert.equal(inferShapes(g, inputs, ['a', 'v']), undefined, 'v reads u');
  assert.equal(inferShapes(g, inputs, ['W']), undefined, 'an initializer is not a tapped tensor');
  assert.equal(inferShapes(g, inputs, ['nowhere']), undefined);
  assert.deepEqual([...inferShapes(g, inputs, [])!], []);
  // The caller's map is not changed.
  assert.deepEqual([...inputs.keys()], ['x']);
});

test('inferShapes keeps only non-negative integer dims, and skips nodes without an output name', () => {
  // A non-integer input dim propagates nowhere.
  const g = graphOf({ nodes: [node('Relu', ['x'], ['y'], {}, 'r')] });
  assert.equal(inferShapes(g, new Map([['x', [1, 2.5]]]), ['y']), undefined);
  assert.deepEqual(inferShapes(g, new Map([['x', [1, 0]]]), ['y'])!.get('y'), [1, 0]);
  assert.equal(inferShapes(g, new Map([['x', [1, -1]]]), ['y']), undefined);
  // A node whose output name is empty is not recorded under ''.
  const empty = graphOf({ nodes: [node('Relu', ['x'], [''], {}, 'r')] });
  assert.equal(inferShapes(empty, new Map([['x', [3]]]), ['']), undefined);
  // An empty (optional) input name is not looked up: a tensor called '' does not stand in for it.
  const opt = graphOf({ nodes: [node('Relu', [''], ['y'], {}, 'r')] });
  assert.equal(inferShapes(opt, new Map([['', [3]]]), ['y']), undefined);
});

test('initializer shapes feed the ops that read them; Conv dims come from the weight initializer', () => {
  const g = graphOf({
    nodes: [node('Conv', ['x', 'W', 'B'], ['c'], { pads: [1, 1, 1, 1] }, 'c'), node('Add', ['c', 'k'], ['y'], {}, 'a')],
    inits: [w('W', [6, 3, 3, 3]), w('B', [6]), w('k', [1, 6, 1, 1])],
  });
  assert.deepEqual(inferShapes(g, new Map([['x', [1, 3, 5, 5]]]), ['y'])!.get('y'), [1, 6, 5, 5]);
});

test('ONNX Runtime agrees with the inferred shapes on a small graph with every kind of op', async () => {
  const nodes: Node[] = [
    node('Cast', ['u8'], ['x'], { to: DataType.FLOAT }, 'cast'),
    node('Conv', ['x', 'W1'], ['c1'], { strides: [2, 2], pads: [1, 0, 1, 2], dilations: [1, 2] }, 'conv1'),
    node('Conv', ['c1', 'W2'], ['c2'], { auto_pad: 'SAME_UPPER', strides: [2, 2] }, 'conv2'),
    node('MaxPool', ['c2'], ['mp'], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }, 'mp'),
    node('AveragePool', ['c1'], ['ap'], { kernel_shape: [3, 2], auto_pad: 'VALID' }, 'ap'),
    node('Concat', ['c1', 'c1'], ['cat'], { axis: -3 }, 'cat'),
    node('Transpose', ['cat'], ['tr'], { perm: [0, 2, 3, 1] }, 'tr'),
    node('GlobalAveragePool', ['c2'], ['gp'], {}, 'gp'),
    node('Flatten', ['gp'], ['fl'], {}, 'fl'),
    node('Gemm', ['fl', 'G'], ['gm'], { transB: 1 }, 'gm'),
    node('MatMul', ['tr', 'M'], ['mm'], {}, 'mm'),
    node('Mul', ['mm', 'k'], ['mu'], {}, 'mu'),
  ];
  const inits = [w('W1', [4, 3, 3, 2]), w('W2', [5, 4, 3, 3]), w('G', [7, 5]), w('M', [8, 6]), w('k', [6])];
  const tapped = ['c1', 'c2', 'mp', 'ap', 'cat', 'tr', 'gp', 'fl', 'gm', 'mm', 'mu'];
  const m = modelOf({ nodes, inits, inputs: [['u8', DataType.UINT8, [1, 3, 13, 11]]], outputs: tapped });
  const inferred = inferShapes(m.graph!, new Map([['u8', [1, 3, 13, 11]]]), tapped)!;
  assert.ok(inferred);
  const out = await runOrtShapes(m, new ort.Tensor('uint8', new Uint8Array(3 * 13 * 11), [1, 3, 13, 11]));
  for (const t of tapped) assert.deepEqual(inferred.get(t), out[t], t);
});

async function runOrtShapes(m: ReturnType<typeof modelOf>, u8: ort.Tensor): Promise<Record<string, number[]>> {
  const s = await ort.InferenceSession.create(encodeModel(m), {
    graphOptimizationLevel: 'disabled',
    intraOpNumThreads: 1,
    logSeverityLevel: 3,
  });
  try {
    const out = await s.run({ u8 });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v.dims]]));
  } finally {
    await s.release();
  }
}

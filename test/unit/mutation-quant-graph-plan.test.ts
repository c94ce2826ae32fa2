import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, type Node, type Tensor, floatTensor, makeModel, node, onnx, typedTensor, valueInfo } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { UserError } from '../../plugins/modelzoo/src/lib/common/errors';
import { WEIGHTED, calibratedTensors } from '../../plugins/modelzoo/src/lib/quant/plan';
import { convNet, graphModel, plan, pointsOf } from '../helpers/mutation-quant-graph-models';

// planQuantization (quant/plan.ts) on tiny hand-built graphs: which nodes run on integer kernels, which
// tensors get a Q/DQ pair (with producer, folded clip, alias, fixed parameters) and in what order.

const sorted = (s: Set<string>) => [...s].sort();
const f = (name: string, dims: number[], n = dims.reduce((a, d) => a * d, 1)) =>
  floatTensor(name, dims, Float32Array.from({ length: n }, (_, i) => (i % 5) - 2));

test('convNet: Conv/Add/pool/Gemm quantized, ReLU and Clip folded, Flatten passes the pooled parameters through', () => {
  const { plan: p } = plan(convNet());
  assert.deepEqual(sorted(p.quantized), ['add', 'c1', 'c2', 'fc', 'flat', 'gap']);
  assert.deepEqual(p.excluded, []);
  assert.deepEqual([...p.folded], [
    ['r1', { producer: 'c1', lo: 0, hi: Infinity }],
    ['clip6', { producer: 'c2', lo: 0, hi: 6 }],
  ]);
  // Graph order; the classifier's logits (a graph output written by Gemm) stay float.
  assert.deepEqual(pointsOf(p), [
    { tensor: 'x' },
    { tensor: 'y1r', producer: 'c1', clip: { lo: 0, hi: Infinity } },
    { tensor: 'y2c', producer: 'c2', clip: { lo: 0, hi: 6 } },
    { tensor: 's', producer: 'add' },
    { tensor: 'p', producer: 'gap' },
    { tensor: 'f', alias: 'p', producer: 'flat' },
  ]);
  assert.deepEqual(calibratedTensors(p), ['x', 'y1r', 'y2c', 's', 'p']);
  assert.deepEqual([...WEIGHTED].sort(), ['Conv', 'Gemm', 'MatMul']);
});

test('exclude_layers: an excluded Conv stays float and its activation is not folded', () => {
  const { plan: p } = plan(convNet(), { exclude_layers: ['c2'] });
  assert.deepEqual(sorted(p.quantized), ['add', 'c1', 'fc', 'flat', 'gap']);
  assert.deepEqual(p.excluded, ['c2']);
  assert.deepEqual([...p.folded.keys()], ['r1']);
  // The Add's input y2c is now written by the Clip itself (no folded clip range).
  assert.deepEqual(pointsOf(p), [
    { tensor: 'x' },
    { tensor: 'y1r', producer: 'c1', clip: { lo: 0, hi: Infinity } },
    { tensor: 'y2c', producer: 'clip6' },
    { tensor: 's', producer: 'add' },
    { tensor: 'p', producer: 'gap' },
    { tensor: 'f', alias: 'p', producer: 'flat' },
  ]);
});

test('exclude_layers: an excluded activation stays; its producer then writes its own output', () => {
  const { plan: p } = plan(convNet(), { exclude_layers: ['r1'] });
  assert.deepEqual(p.excluded, ['r1']);
  assert.deepEqual([...p.folded.keys()], ['clip6']);
  assert.deepEqual(pointsOf(p).slice(0, 4), [
    { tensor: 'x' },
    { tensor: 'y1', producer: 'c1' },
    { tensor: 'y1r', producer: 'r1' },
    { tensor: 'y2c', producer: 'c2', clip: { lo: 0, hi: 6 } },
  ]);
});

test('exclude_layers: excluded pooling and pass-through nodes stay float', () => {
  const { plan: p } = plan(convNet(), { exclude_layers: ['gap', 'flat'] });
  assert.deepEqual(sorted(p.quantized), ['add', 'c1', 'c2', 'fc']);
  assert.deepEqual(p.excluded, ['gap', 'flat']);
  // The Gemm still quantizes its input f, now written by the float Flatten.
  assert.deepEqual(pointsOf(p).slice(3), [
    { tensor: 's', producer: 'add' },
    { tensor: 'f', producer: 'flat' },
  ]);
});

test('exclude_layers: an unknown name is a UserError naming it, a few real names and the sensitivity report', () => {
  const err = (names: string[]) => {
    try {
      plan(convNet(), { exclude_layers: names });
    } catch (e) {
      assert.ok(e instanceof UserError);
      return (e as Error).message;
    }
    assert.fail('no error');
  };
  assert.equal(
    err(['c1', 'conv9']),
    "int8 option exclude_layers: the model has no node named 'conv9' (nodes are named like c1, r1, c2, clip6, add, gap, flat, fc, ...): " +
      'fix the name or remove it (quantization.sensitivity: true writes sensitivity.json, which lists every quantized node)',
  );
  // A long name is cut to 100 characters.
  const long = `n${'x'.repeat(150)}`;
  assert.match(err([long]), new RegExp(`no node named '${long.slice(0, 100)}' \\(nodes`));
  // Only the first 8 node names are listed.
  const nine = graphModel(
    Array.from({ length: 9 }, (_, i) => node('Relu', [i ? `t${i - 1}` : 'x'], [i === 8 ? 'y' : `t${i}`], {}, `n${i}`)),
    [],
  );
  assert.throws(() => plan(nine, { exclude_layers: ['zz'] }), (e: Error) => e.message.includes('named like n0, n1, n2, n3, n4, n5, n6, n7, ...)'));
});

test('skip_conv_layers: by index among the Conv nodes; out of range is a UserError with the count', () => {
  assert.deepEqual(plan(convNet(), { skip_conv_layers: [1] }).plan.excluded, ['c2']);
  const both = plan(convNet(), { exclude_layers: ['gap'], skip_conv_layers: [0] }).plan;
  assert.deepEqual(both.excluded, ['gap', 'c1']);
  assert.deepEqual(sorted(both.quantized), ['add', 'c2', 'fc']);
  // The same node named twice is excluded once.
  assert.deepEqual(plan(convNet(), { exclude_layers: ['c2'], skip_conv_layers: [1] }).plan.excluded, ['c2']);
  for (const idx of [2, 7]) {
    assert.throws(
      () => plan(convNet(), { skip_conv_layers: [idx] }),
      (e: Error) =>
        e instanceof UserError && e.message === `int8 option skip_conv_layers: index ${idx} is out of range (the model has 2 Conv nodes)`,
    );
  }
});

test('Gemm: quantized only with a constant 2-D B, alpha = beta = 1, no transA, and a constant [N] bias', () => {
  const g = (name: string, ins: string[], attrs: Record<string, number> = {}, floats: string[] = []) =>
    node('Gemm', ins, [`o_${name}`], attrs, name, floats);
  const nodes: Node[] = [
    node('Relu', ['x'], ['bn'], {}, 'rb'),
    g('plain', ['x', 'w34']),
    g('bias', ['x', 'w34', 'b4']),
    g('tb', ['x', 'w43', 'b4'], { transB: 1 }),
    g('tb_wrong', ['x', 'w34', 'b4'], { transB: 1 }),
    g('nb_wrong', ['x', 'w43', 'b4']),
    g('b2d', ['x', 'w34', 'b14']),
    g('bnode', ['x', 'w34', 'bn']),
    g('bmissing', ['x', 'w34', 'nothing']),
    g('w3d', ['x', 'w134']),
    g('wnode', ['x', 'bn']),
    g('transA', ['x', 'w34'], { transA: 1 }),
    g('transA0', ['x', 'w34'], { transA: 0 }),
    g('alpha', ['x', 'w34'], { alpha: 0.5 }),
    g('alpha1', ['x', 'w34'], { alpha: 1 }, ['alpha']),
    g('beta', ['x', 'w34', 'b4'], { beta: 2 }, ['beta']),
    g('beta1', ['x', 'w34', 'b4'], { beta: 1 }, ['beta']),
    g('constA', ['a13', 'w34']),
    g('inner', ['x', 'w34']),
  ];
  const outs = nodes.filter((n) => n.name !== 'inner' && n.name !== 'rb').map((n) => [n.output![0]!, [1, 4]] as [string, number[]]);
  const m = graphModel(
    nodes,
    [f('w34', [3, 4]), f('w43', [4, 3]), f('b4', [4]), f('b14', [1, 4]), f('w134', [1, 3, 4]), f('a13', [1, 3])],
    [['x', [1, 3]]],
    outs,
  );
  const { plan: p } = plan(m);
  assert.deepEqual(sorted(p.quantized), ['alpha1', 'beta1', 'bias', 'inner', 'plain', 'tb', 'transA0'].sort());
  // Logits written to a graph output stay float; an inner Gemm's output gets a Q/DQ.
  assert.deepEqual(pointsOf(p), [{ tensor: 'x' }, { tensor: 'o_inner', producer: 'inner' }]);
});

test('Conv, MatMul, Add and pooling: constant weights and activation inputs only', () => {
  const nodes: Node[] = [
    node('Relu', ['x'], ['bn'], {}, 'rb'),
    node('Conv', ['x', 'wc'], ['o1'], {}, 'c_ok'),
    node('Conv', ['x', 'wc', 'bc'], ['o2'], {}, 'c_bias'),
    node('Conv', ['x', 'wc', 'bn'], ['o3'], {}, 'c_bnode'),
    node('Conv', ['x', 'bn'], ['o4'], {}, 'c_wnode'),
    node('Conv', ['wc', 'wc'], ['o5'], {}, 'c_constx'),
    node('MatMul', ['x', 'w34'], ['o6'], {}, 'm_ok'),
    node('MatMul', ['x', 'w134'], ['o7'], {}, 'm_3d'),
    node('MatMul', ['x', 'bn'], ['o8'], {}, 'm_wnode'),
    node('MatMul', ['a13', 'w34'], ['o9'], {}, 'm_consta'),
    node('Add', ['x', 'bn'], ['o10'], {}, 'a_ok'),
    node('Add', ['x', 'bc'], ['o11'], {}, 'a_init1'),
    node('Add', ['bc', 'x'], ['o12'], {}, 'a_init0'),
    node('Add', ['x', 'bn', 'bn'], ['o13'], {}, 'a_three'),
    node('Add', ['x'], ['o14'], {}, 'a_one'),
    node('GlobalAveragePool', ['x'], ['o15'], {}, 'gap'),
    node('AveragePool', ['x'], ['o16'], {}, 'ap'),
    node('Mul', ['x', 'bn'], ['o17'], {}, 'mul'),
    node('Sigmoid', ['x'], ['o18'], {}, 'sig'),
  ];
  const m = graphModel(nodes, [f('wc', [2, 2, 1, 1]), f('bc', [2]), f('w34', [3, 4]), f('w134', [1, 3, 4]), f('a13', [1, 3])], [['x', [1, 2, 1, 1]]], []);
  const { plan: p } = plan(m);
  assert.deepEqual(sorted(p.quantized), ['a_ok', 'ap', 'c_bias', 'c_ok', 'gap', 'm_ok']);
  // Add quantizes both inputs; every other op its first input; each writes a quantized output.
  assert.deepEqual(
    p.points.map((q) => q.tensor),
    ['x', 'bn', 'o1', 'o2', 'o6', 'o10', 'o15', 'o16'],
  );
  assert.equal(p.points.find((q) => q.tensor === 'bn')!.producer, 'rb');
});

test('an Add with an empty input name plans no point for it', () => {
  const m = graphModel([node('Add', ['x', ''], ['y'], {}, 'a')], []);
  assert.deepEqual(pointsOf(plan(m).plan), [{ tensor: 'x' }, { tensor: 'y', producer: 'a' }]);
});

test('pass-through ops: quantized when their input is, with the root tensor parameters (alias of alias)', () => {
  const nodes: Node[] = [
    node('Conv', ['x', 'wc'], ['y1'], {}, 'c1'),
    node('MaxPool', ['y1'], ['m'], { kernel_shape: [1, 1] }, 'mp'),
    node('Flatten', ['m'], ['fl'], {}, 'flat'),
    node('Reshape', ['fl', 'shape'], ['r'], {}, 'rs'),
    node('MaxPool', ['y1'], ['m2', 'idx'], { kernel_shape: [1, 1] }, 'mp2'),
    node('MaxPool', ['y1'], ['m3', ''], { kernel_shape: [1, 1] }, 'mp3'),
    node('Relu', ['x'], ['bn'], {}, 'rx'),
    node('Transpose', ['bn'], ['t'], {}, 'tr'),
    node('Squeeze', ['y1'], ['sq_o'], {}, 'sq'),
    node('Unsqueeze', ['y1', 'axes'], ['u'], {}, 'us'),
    node('Transpose', ['u'], ['t2'], {}, 'tr2'),
    node('Identity', ['y1'], ['id_o'], {}, 'ident'),
    node('Squeeze', ['y1'], ['sq2'], {}, 'sq2'),
    node('MaxPool', ['y1'], ['', 'idx2'], { kernel_shape: [1, 1] }, 'mp_noy'),
    node('Squeeze', [], ['nothing'], {}, 'sq_empty'),
  ];
  const m = graphModel(
    nodes,
    [f('wc', [2, 2, 1, 1]), typedTensor('shape', [2], DataType.INT64, new Uint8Array(16)), typedTensor('axes', [1], DataType.INT64, new Uint8Array(8))],
    [['x', [1, 2, 1, 1]]],
    [['r', [1, 2]], ['m2', [1]], ['idx', [1]], ['m3', [1]], ['t', [1]], ['sq_o', [1]], ['t2', [1]], ['id_o', [1]], ['nothing', [1]], ['sq2', [1]], ['idx2', [1]]],
  );
  const { plan: p } = plan(m, { exclude_layers: ['sq'] });
  assert.deepEqual(sorted(p.quantized), ['c1', 'flat', 'mp', 'mp3', 'rs', 'sq2', 'tr2', 'us'].sort());
  assert.deepEqual(pointsOf(p), [
    { tensor: 'x' },
    { tensor: 'y1', producer: 'c1' },
    { tensor: 'm', alias: 'y1', producer: 'mp' },
    { tensor: 'fl', alias: 'y1', producer: 'flat' },
    { tensor: 'r', alias: 'y1', producer: 'rs' },
    { tensor: 'm3', alias: 'y1', producer: 'mp3' },
    { tensor: 'u', alias: 'y1', producer: 'us' },
    { tensor: 't2', alias: 'y1', producer: 'tr2' },
    { tensor: 'sq2', alias: 'y1', producer: 'sq2' },
  ]);
  assert.deepEqual(calibratedTensors(p), ['x', 'y1']);
});

/** img (uint8 graph input) -> dq (DequantizeLinear img, s, z) -> xf -> c (Conv) -> y. */
function fixedModel(opts: { s?: Tensor | null; z?: Tensor | null; dqInput?: string; extra?: Tensor[]; inputs?: string[]; producer?: string } = {}) {
  const s = opts.s === undefined ? floatTensor('s', [], Float32Array.of(0.5)) : opts.s;
  const z = opts.z === undefined ? typedTensor('z', [], DataType.UINT8, Uint8Array.of(128)) : opts.z;
  const dq =
    opts.producer === 'Relu'
      ? node('Relu', [opts.dqInput ?? 'img'], ['xf'], {}, 'dq')
      : node('DequantizeLinear', [opts.dqInput ?? 'img', 's', ...(z ? ['z'] : [])], ['xf'], {}, 'dq');
  return makeModel(
    {
      name: 'g',
      node: [dq, node('Conv', ['xf', 'w'], ['y'], {}, 'c')],
      initializer: [...(s ? [s] : []), ...(z ? [z] : []), floatTensor('w', [1, 1, 1, 1], Float32Array.of(1)), ...(opts.extra ?? [])],
      input: (opts.inputs ?? ['img']).map((n) => valueInfo(n, DataType.UINT8, [1, 1, 2, 2])),
      output: [valueInfo('y', DataType.FLOAT, [1, 1, 2, 2])],
    },
    13,
  );
}

test('fixed points: a DequantizeLinear of a uint8 graph input with scalar scale and uint8 zero point', () => {
  const xf = (m: ReturnType<typeof fixedModel>) => ({ ...plan(m).plan.points.find((q) => q.tensor === 'xf')! });
  assert.deepEqual(xf(fixedModel()), { tensor: 'xf', producer: 'dq', fixed: { scale: 0.5, zeroPoint: 128, quantized: 'img' } });
  const { plan: p } = plan(fixedModel());
  assert.deepEqual(calibratedTensors(p), ['y']);
  // The zero point stored in int32_data (as ONNX allows for uint8) is read too.
  const z32 = onnx.TensorProto.create({ name: 'z', dims: [], dataType: DataType.UINT8, int32Data: [7] });
  assert.deepEqual(xf(fixedModel({ z: z32 })).fixed, { scale: 0.5, zeroPoint: 7, quantized: 'img' });
  const z32empty = onnx.TensorProto.create({ name: 'z', dims: [], dataType: DataType.UINT8 });
  assert.deepEqual(xf(fixedModel({ z: z32empty })).fixed, { scale: 0.5, zeroPoint: 0, quantized: 'img' });
  // Anything else is an ordinary point that gets its own Q/DQ and calibration.
  const plain = { tensor: 'xf', producer: 'dq' };
  assert.deepEqual(xf(fixedModel({ s: floatTensor('s', [1], Float32Array.of(0.5)) })), plain);
  assert.deepEqual(xf(fixedModel({ z: typedTensor('z', [1], DataType.UINT8, Uint8Array.of(128)) })), plain);
  assert.deepEqual(xf(fixedModel({ z: typedTensor('z', [], DataType.INT8, Uint8Array.of(0)) })), plain);
  assert.deepEqual(xf(fixedModel({ z: null })), plain);
  assert.deepEqual(xf(fixedModel({ s: null })), plain);
  assert.deepEqual(xf(fixedModel({ producer: 'Relu' })), plain);
  // Not a graph input: a constant.
  const k = typedTensor('k', [1, 1, 2, 2], DataType.UINT8, new Uint8Array(4));
  assert.deepEqual(xf(fixedModel({ dqInput: 'k', extra: [k] })), plain);
  // Listed as a graph input but also an initializer (older exporters): still a constant.
  const img = typedTensor('img', [1, 1, 2, 2], DataType.UINT8, new Uint8Array(4));
  assert.deepEqual(xf(fixedModel({ extra: [img] })), plain);
  assert.equal(calibratedTensors(plan(fixedModel({ s: null })).plan).join(), 'xf,y');
});

test('points sort in graph order: inputs in their order first, a folded output where its producer sits', () => {
  // c1 -> r1 (folded) with the pool g0 between them in node order, and a pass-through (added last).
  const m = graphModel(
    [
      node('Conv', ['x', 'wc'], ['y1'], {}, 'c1'),
      node('GlobalAveragePool', ['x'], ['g'], {}, 'g0'),
      node('Relu', ['y1'], ['y1r'], {}, 'r1'),
      node('MaxPool', ['y1r'], ['m'], { kernel_shape: [1, 1] }, 'mp'),
      node('Conv', ['y1r', 'wc'], ['y2'], {}, 'c2'),
    ],
    [f('wc', [2, 2, 1, 1])],
    [['x', [1, 2, 1, 1]]],
    [['g', [1]], ['m', [1]], ['y2', [1]]],
  );
  assert.deepEqual(
    plan(m).plan.points.map((q) => q.tensor),
    ['x', 'y1r', 'g', 'm', 'y2'],
  );
  const two = graphModel([node('Add', ['a', 'b'], ['s'], {}, 'add'), node('Add', ['s', 'c'], ['y'], {}, 'add2')], [], [['a', [1]], ['b', [1]], ['c', [1]]]);
  assert.deepEqual(
    plan(two).plan.points.map((q) => q.tensor),
    ['a', 'b', 'c', 's', 'y'],
  );
});

test('every output of a multi-output node has that node as producer (Split feeding an Add)', () => {
  const m = graphModel(
    [node('Split', ['x'], ['a', 'b'], { axis: 1 }, 'sp'), node('Add', ['a', 'b'], ['y'], {}, 'add')],
    [],
    [['x', [1, 4]]],
    [['y', [1, 2]]],
  );
  assert.deepEqual(pointsOf(plan(m).plan), [
    { tensor: 'a', producer: 'sp' },
    { tensor: 'b', producer: 'sp' },
    { tensor: 'y', producer: 'add' },
  ]);
});

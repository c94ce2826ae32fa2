import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, type Model, type Node, floatTensor, makeModel, node, typedTensor, valueInfo } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { type QParams, activationParams, buildQdqModel } from '../../plugins/modelzoo/src/lib/quant/qdq';
import type { QuantPlan } from '../../plugins/modelzoo/src/lib/quant/plan';
import type { Range } from '../../plugins/modelzoo/src/lib/quant/ranges';
import { B1, BFC, W1, W2, WFC, convNet, graphModel, plan } from '../helpers/mutation-quant-graph-models';

// buildQdqModel (quant/qdq.ts) on tiny hand-built graphs: the exact nodes (type, name, inputs, outputs,
// axis), initializers (names, dims, types, values: int8 weights against hand-computed per-channel grids,
// int32 biases at input scale x weight scale) and the float copies kept for excluded nodes.

const f = Math.fround;
type Summary = [string, string, string[], string[], Record<string, number>];
const summary = (n: Node): Summary => [
  n.opType!,
  n.name!,
  [...n.input!],
  [...n.output!],
  Object.fromEntries((n.attribute ?? []).map((a) => [a.name!, a.ints && a.ints.length ? -1 : Number(a.i)])),
];
const nodesOf = (m: Model) => m.graph!.node!.map(summary);

interface Init {
  dims: number[];
  type: number;
  values: number[];
}
function inits(m: Model): Map<string, Init> {
  const out = new Map<string, Init>();
  for (const t of m.graph!.initializer!) {
    const buf = Uint8Array.from(t.rawData!).buffer;
    const Arr = { [DataType.FLOAT]: Float32Array, [DataType.INT8]: Int8Array, [DataType.UINT8]: Uint8Array, [DataType.INT32]: Int32Array }[t.dataType!]!;
    out.set(t.name!, { dims: (t.dims ?? []).map(Number), type: t.dataType!, values: Array.from(new Arr(buf)) });
  }
  return out;
}

const RANGES: Record<string, Range> = { x: { lo: -1, hi: 3 }, y1r: { lo: 0, hi: 6 }, y2c: { lo: 0, hi: 6 }, s: { lo: 0, hi: 12 }, p: { lo: -1, hi: 11 } };
function paramsFor(p: QuantPlan, type: 'uint8' | 'int8' = 'uint8', ranges = RANGES): Map<string, QParams> {
  const m = new Map<string, QParams>();
  for (const q of p.points) if (!q.alias) m.set(q.tensor, activationParams(ranges[q.tensor]!, type));
  return m;
}

const QDQ = (t: string, src: string, out: string): Summary[] => [
  ['QuantizeLinear', `${t}.QuantizeLinear`, [src, `${t}.scale`, `${t}.zero_point`], [`${t}.quantized`], {}],
  ['DequantizeLinear', `${t}.DequantizeLinear`, [`${t}.quantized`, `${t}.scale`, `${t}.zero_point`], [out], {}],
];
const WDQ = (n: string, kind: 'weight' | 'bias', axis?: number): Summary => {
  const q = kind === 'weight' ? 'int8' : 'int32';
  return ['DequantizeLinear', `${n}.${kind}.DequantizeLinear`, [`${n}.${kind}.${q}`, `${n}.${kind}.scale`, `${n}.${kind}.zero_point`], [`${n}.${kind}.dequantized`], axis === undefined ? {} : { axis }];
};

// Hand-computed per-channel grids (see mutation-quant-graph-params.test.ts for the k search).
const C1_SCALES = [f(1 / 126), f(0.75 / 126), f(2 / 126)];
const C1_INT8 = [126, -63, 42, 126, -126, 63];
// W2 is a multiple of 0.1 in every channel with max 0.5 (k = 125, step 0.004): q = 250 w.
const C2_SCALES = [f(0.004), f(0.004), f(0.004)];
const C2_INT8 = W2.map((w) => Math.round(w * 250));
// WFC rows are n/8 with max 6, 3, 2, 5 eighths: k = 126, 126, 126, 125.
const FC_SCALES = [f(0.75 / 126), f(0.375 / 126), f(0.25 / 126), f(0.625 / 125)];
const FC_INT8 = [-126, -105, -84, -126, -84, -42, 0, 63, 126, 75, 100, 125];

test('convNet per channel: the exact QDQ graph, node by node', () => {
  const { prepared, plan: p } = plan(convNet());
  const { model, weights } = buildQdqModel(prepared.model, p, paramsFor(p), true);
  assert.deepEqual(nodesOf(model), [
    ...QDQ('x', 'x', 'x.dequantized'),
    WDQ('c1', 'weight', 0),
    WDQ('c1', 'bias', 0),
    WDQ('c2', 'weight', 0),
    WDQ('c2', 'bias', 0),
    WDQ('fc', 'weight', 0),
    WDQ('fc', 'bias', 0),
    ['Conv', 'c1', ['x.dequantized', 'c1.weight.dequantized', 'c1.bias.dequantized'], ['y1r.float'], {}],
    ...QDQ('y1r', 'y1r.float', 'y1r'),
    ['Conv', 'c2', ['y1r', 'c2.weight.dequantized', 'c2.bias.dequantized'], ['y2c.float'], { group: 3, pads: -1 }],
    ...QDQ('y2c', 'y2c.float', 'y2c'),
    ['Add', 'add', ['y1r', 'y2c'], ['s.float'], {}],
    ...QDQ('s', 's.float', 's'),
    ['GlobalAveragePool', 'gap', ['s'], ['p.float'], {}],
    ...QDQ('p', 'p.float', 'p'),
    ['Flatten', 'flat', ['p'], ['f.float'], { axis: 1 }],
    ...QDQ('f', 'f.float', 'f'),
    ['Gemm', 'fc', ['f', 'fc.weight.dequantized', 'fc.bias.dequantized'], ['logits'], { transB: 1 }],
  ]);
  assert.deepEqual(weights, {
    c1: { scales: C1_SCALES, axis: 0 },
    c2: { scales: C2_SCALES, axis: 0 },
    fc: { scales: FC_SCALES, axis: 0 },
  });
  // Graph inputs/outputs keep their names; the prepared model is left as it was.
  assert.deepEqual(model.graph!.input!.map((i) => i.name), ['x']);
  assert.deepEqual(model.graph!.output!.map((o) => o.name), ['logits']);
  assert.deepEqual(prepared.model.graph!.node!.map((n) => n.name), ['c1', 'r1', 'c2', 'clip6', 'add', 'gap', 'flat', 'fc']);
  assert.deepEqual(prepared.model.graph!.node![0]!.input, ['x', 'w1', 'b1']);
});

test('convNet per channel: activation, weight and bias initializers hold the exact values', () => {
  const { prepared, plan: p } = plan(convNet());
  const params = paramsFor(p);
  const { model } = buildQdqModel(prepared.model, p, params, true);
  const got = inits(model);
  // Every float weight is gone; only the quantized copies and the Q/DQ parameters remain, in this order.
  assert.deepEqual([...got.keys()], [
    ...['x', 'y1r', 'y2c', 's', 'p', 'f'].flatMap((t) => [`${t}.scale`, `${t}.zero_point`]),
    ...['c1', 'c2', 'fc'].flatMap((n) => ['weight.int8', 'weight.scale', 'weight.zero_point', 'bias.int32', 'bias.scale', 'bias.zero_point'].map((s) => `${n}.${s}`)),
  ]);
  const act = (t: string, src = t) => {
    const q = params.get(src)!;
    assert.deepEqual(got.get(`${t}.scale`), { dims: [], type: DataType.FLOAT, values: [q.scale] }, t);
    assert.deepEqual(got.get(`${t}.zero_point`), { dims: [], type: DataType.UINT8, values: [q.zeroPoint] }, t);
  };
  ['x', 'y1r', 'y2c', 's', 'p'].forEach((t) => act(t));
  act('f', 'p'); // the Flatten output repeats the pooled tensor's parameters
  assert.equal(got.get('x.zero_point')!.values[0], 64);
  assert.equal(got.get('p.zero_point')!.values[0], 21); // 255 / 12 = 21.25
  const weight = (n: string, dims: number[], int8: number[], scales: number[]) => {
    assert.deepEqual(got.get(`${n}.weight.int8`), { dims, type: DataType.INT8, values: int8 }, n);
    assert.deepEqual(got.get(`${n}.weight.scale`), { dims: [scales.length], type: DataType.FLOAT, values: scales }, n);
    assert.deepEqual(got.get(`${n}.weight.zero_point`), { dims: [scales.length], type: DataType.INT8, values: scales.map(() => 0) }, n);
  };
  weight('c1', [3, 2, 1, 1], C1_INT8, C1_SCALES);
  weight('c2', [3, 1, 3, 3], C2_INT8, C2_SCALES);
  weight('fc', [4, 3], FC_INT8, FC_SCALES);
  const bias = (n: string, b: number[], inputScale: number, scales: number[]) => {
    const s = scales.map((w) => f(inputScale * w));
    assert.deepEqual(got.get(`${n}.bias.scale`), { dims: [b.length], type: DataType.FLOAT, values: s }, n);
    assert.deepEqual(got.get(`${n}.bias.int32`), { dims: [b.length], type: DataType.INT32, values: b.map((v, c) => Math.round(f(v) / (inputScale * scales[c]!))) }, n);
    assert.deepEqual(got.get(`${n}.bias.zero_point`), { dims: [b.length], type: DataType.INT32, values: b.map(() => 0) }, n);
  };
  bias('c1', B1, params.get('x')!.scale, C1_SCALES);
  bias('c2', [0, 0.5, -0.5], params.get('y1r')!.scale, C2_SCALES);
  bias('fc', BFC, params.get('p')!.scale, FC_SCALES); // f reads p's parameters
  // c1's first bias: 0.1 / (4/255 * 1/126) = 803.25.
  assert.equal(got.get('c1.bias.int32')!.values[0], 803);
});

test('per tensor: one weight scale, no axis attributes, a scalar bias scale', () => {
  const { prepared, plan: p } = plan(convNet());
  const params = paramsFor(p);
  const { model, weights } = buildQdqModel(prepared.model, p, params, false);
  const nodes = nodesOf(model);
  assert.deepEqual(nodes.slice(2, 8), [WDQ('c1', 'weight'), WDQ('c1', 'bias'), WDQ('c2', 'weight'), WDQ('c2', 'bias'), WDQ('fc', 'weight'), WDQ('fc', 'bias')]);
  const got = inits(model);
  // c1 over all six weights: max 2, 0.25 = 2/8 -> k = 120.
  const s = f(2 / 120);
  assert.deepEqual(got.get('c1.weight.int8'), { dims: [3, 2, 1, 1], type: DataType.INT8, values: [60, -30, 15, 45, -120, 60] });
  assert.deepEqual(got.get('c1.weight.scale'), { dims: [], type: DataType.FLOAT, values: [s] });
  assert.deepEqual(got.get('c1.weight.zero_point'), { dims: [], type: DataType.INT8, values: [0] });
  const xs = params.get('x')!.scale;
  assert.deepEqual(got.get('c1.bias.scale'), { dims: [], type: DataType.FLOAT, values: [f(xs * s)] });
  assert.deepEqual(got.get('c1.bias.zero_point'), { dims: [], type: DataType.INT32, values: [0] });
  assert.deepEqual(got.get('c1.bias.int32')!.values, B1.map((b) => Math.round(f(b) / (xs * s))));
  assert.deepEqual(got.get('c1.bias.int32')!.dims, [3]);
  assert.deepEqual(weights['c1'], { scales: [s], axis: null });
  assert.equal(W1.length, 6);
});

test('int8 activations: signed zero points stored as INT8', () => {
  const { prepared, plan: p } = plan(convNet());
  const params = paramsFor(p, 'int8');
  const { model } = buildQdqModel(prepared.model, p, params, true);
  const got = inits(model);
  assert.deepEqual(got.get('x.zero_point'), { dims: [], type: DataType.INT8, values: [-64] });
  assert.deepEqual(got.get('y1r.zero_point'), { dims: [], type: DataType.INT8, values: [-128] });
  assert.deepEqual(got.get('f.zero_point'), { dims: [], type: DataType.INT8, values: [params.get('p')!.zeroPoint] });
  assert.equal(params.get('p')!.zeroPoint, -107);
});

test('a missing parameter set is an error naming the tensor', () => {
  const { prepared, plan: p } = plan(convNet());
  const params = paramsFor(p);
  params.delete('y2c');
  assert.throws(() => buildQdqModel(prepared.model, p, params, true), { message: "int8: no quantization parameters for tensor 'y2c'" });
  // An alias reads its source's parameters, not its own.
  const params2 = paramsFor(p);
  params2.delete('p');
  params2.set('f', activationParams({ lo: 0, hi: 1 }, 'uint8'));
  assert.throws(() => buildQdqModel(prepared.model, p, params2, true), { message: "int8: no quantization parameters for tensor 'p'" });
});

test('a weighted node whose input has no Q/DQ is an error naming the input and the node', () => {
  const { prepared } = plan(convNet());
  const bare: QuantPlan = { quantized: new Set(['c1']), excluded: [], folded: new Map(), points: [] };
  assert.throws(() => buildQdqModel(prepared.model, bare, new Map(), true), { message: "int8: input 'x' of Conv 'c1' is not quantized" });
});

/** x [1, 2] -> mm (MatMul, [2, 3]) and g (Gemm, [2, 3] + bias, transB = 0) -> graph outputs. */
function matmulModel(extra: Node[] = [], extraOutputs: string[] = []): Model {
  return graphModel(
    [node('MatMul', ['x', 'wm'], ['ym'], {}, 'mm'), node('Gemm', ['x', 'wm', 'bg'], ['yg'], {}, 'g'), ...extra],
    [floatTensor('wm', [2, 3], Float32Array.from([1, 2, -4, 0.5, -1, 1])), floatTensor('bg', [3], Float32Array.from([0.5, -0.25, 2]))],
    [['x', [1, 2]]],
    [['ym', [1, 3]], ['yg', [1, 3]], ...extraOutputs.map((o) => [o, [1, 3]] as [string, number[]])],
  );
}

test('MatMul and Gemm without transB: weights per channel along axis 1; a MatMul output gets a Q/DQ', () => {
  const { prepared, plan: p } = plan(matmulModel());
  const params = paramsFor(p, 'uint8', { x: { lo: -1, hi: 1 }, ym: { lo: -8, hi: 8 } });
  const { model, weights } = buildQdqModel(prepared.model, p, params, true);
  assert.deepEqual(nodesOf(model), [
    ...QDQ('x', 'x', 'x.dequantized'),
    WDQ('mm', 'weight', 1),
    WDQ('g', 'weight', 1),
    WDQ('g', 'bias', 0),
    ['MatMul', 'mm', ['x.dequantized', 'mm.weight.dequantized'], ['ym.float'], {}],
    ...QDQ('ym', 'ym.float', 'ym'),
    ['Gemm', 'g', ['x.dequantized', 'g.weight.dequantized', 'g.bias.dequantized'], ['yg'], {}],
  ]);
  const scales = [f(1 / 126), f(2 / 126), f(4 / 124)];
  assert.deepEqual(weights, { mm: { scales, axis: 1 }, g: { scales, axis: 1 } });
  const got = inits(model);
  assert.deepEqual(got.get('mm.weight.int8'), { dims: [2, 3], type: DataType.INT8, values: [126, 126, -124, 63, -63, 31] });
  assert.equal(got.has('mm.bias.int32'), false);
  const xs = params.get('x')!.scale;
  assert.deepEqual(got.get('g.bias.int32')!.values, [0.5, -0.25, 2].map((b, c) => Math.round(b / (xs * scales[c]!))));
});

test('excluded Conv and Gemm read their own per-channel DQ of the quantized tensor; weights stay float', () => {
  const { prepared, plan: p } = plan(convNet(), { exclude_layers: ['c2', 'fc'] });
  const params = paramsFor(p, 'uint8', { ...RANGES, y2c: { lo: -6, hi: 6 } });
  const { model, weights } = buildQdqModel(prepared.model, p, params, true);
  const nodes = nodesOf(model);
  assert.deepEqual(nodes.slice(0, 6), [
    ...QDQ('x', 'x', 'x.dequantized'),
    WDQ('c1', 'weight', 0),
    WDQ('c1', 'bias', 0),
    ['DequantizeLinear', 'y1r.for_c2.DequantizeLinear', ['y1r.quantized', 'y1r.for_c2.scale', 'y1r.for_c2.zero_point'], ['y1r.for_c2.dequantized'], { axis: 1 }],
    ['DequantizeLinear', 'f.for_fc.DequantizeLinear', ['f.quantized', 'f.for_fc.scale', 'f.for_fc.zero_point'], ['f.for_fc.dequantized'], { axis: 1 }],
  ]);
  assert.deepEqual(nodes.find((n) => n[1] === 'c2'), ['Conv', 'c2', ['y1r.for_c2.dequantized', 'w2', 'b2'], ['y2'], { group: 3, pads: -1 }]);
  assert.deepEqual(nodes.find((n) => n[1] === 'fc'), ['Gemm', 'fc', ['f.for_fc.dequantized', 'wfc', 'bfc'], ['logits'], { transB: 1 }]);
  assert.deepEqual(Object.keys(weights), ['c1']);
  const got = inits(model);
  // Conv: input channels = weight dims[1] x group = 3; Gemm with transB: K = dims[1] = 3.
  const ys = params.get('y1r')!;
  assert.deepEqual(got.get('y1r.for_c2.scale'), { dims: [3], type: DataType.FLOAT, values: [ys.scale, ys.scale, ys.scale] });
  assert.deepEqual(got.get('y1r.for_c2.zero_point'), { dims: [3], type: DataType.UINT8, values: [0, 0, 0] });
  const ps = params.get('p')!;
  assert.deepEqual(got.get('f.for_fc.scale'), { dims: [3], type: DataType.FLOAT, values: [ps.scale, ps.scale, ps.scale] });
  assert.deepEqual(got.get('f.for_fc.zero_point'), { dims: [3], type: DataType.UINT8, values: [21, 21, 21] });
  assert.deepEqual(got.get('w2')!.values, W2.map(f));
  assert.deepEqual(got.get('wfc')!.values, WFC.map(f));
  // The float Conv still writes y2 into the float Clip; the Add quantizes the Clip's output.
  assert.deepEqual(nodes.find((n) => n[1] === 'clip6'), ['Clip', 'clip6', ['y2', 'lo', 'hi'], ['y2c.float'], {}]);
});

test('excluded nodes with int8 activations, a graph-input source, no transB, MatMul and non-constant weights', () => {
  const m = matmulModel(
    [
      node('Gemm', ['x', 'wm'], ['ye'], {}, 'ge'),
      node('MatMul', ['x', 'wm'], ['yme'], {}, 'me'),
      node('Relu', ['x'], ['xr'], {}, 'rx'),
      node('Gemm', ['x', 'xr'], ['ywn'], {}, 'gwn'),
      node('Add', ['x', 'xr'], ['ya'], {}, 'ae'),
    ],
    ['ye', 'yme', 'ywn', 'ya'],
  );
  const { prepared, plan: p } = plan(m, { exclude_layers: ['ge', 'me', 'gwn', 'ae'] });
  const params = paramsFor(p, 'int8', { x: { lo: -1, hi: 3 }, ym: { lo: -8, hi: 8 } });
  const { model } = buildQdqModel(prepared.model, p, params, true);
  const nodes = nodesOf(model);
  assert.deepEqual(nodes.find((n) => n[1] === 'x.for_ge.DequantizeLinear'), [
    'DequantizeLinear',
    'x.for_ge.DequantizeLinear',
    ['x.quantized', 'x.for_ge.scale', 'x.for_ge.zero_point'],
    ['x.for_ge.dequantized'],
    { axis: 1 },
  ]);
  assert.deepEqual(nodes.find((n) => n[1] === 'ge'), ['Gemm', 'ge', ['x.for_ge.dequantized', 'wm'], ['ye'], {}]);
  // MatMul, Add and a Gemm with a computed weight keep reading the shared DQ.
  assert.deepEqual(nodes.find((n) => n[1] === 'me'), ['MatMul', 'me', ['x.dequantized', 'wm'], ['yme'], {}]);
  assert.deepEqual(nodes.find((n) => n[1] === 'gwn'), ['Gemm', 'gwn', ['x.dequantized', 'xr'], ['ywn'], {}]);
  assert.deepEqual(nodes.find((n) => n[1] === 'ae'), ['Add', 'ae', ['x.dequantized', 'xr'], ['ya'], {}]);
  assert.equal(nodes.filter((n) => n[1].includes('.for_')).length, 1);
  const got = inits(model);
  // transB = 0: K = dims[0] = 2 channels; int8 zero point -64 repeated.
  const xs = params.get('x')!.scale;
  assert.deepEqual(got.get('x.for_ge.scale'), { dims: [2], type: DataType.FLOAT, values: [xs, xs] });
  assert.deepEqual(got.get('x.for_ge.zero_point'), { dims: [2], type: DataType.INT8, values: [-64, -64] });
});

test('an excluded Conv whose input has no Q/DQ is left as it is', () => {
  const { prepared, plan: p } = plan(convNet(), { exclude_layers: ['c1'] });
  const params = paramsFor(p, 'uint8', { ...RANGES, y1r: { lo: -2, hi: 6 } });
  const { model } = buildQdqModel(prepared.model, p, params, true);
  const nodes = nodesOf(model);
  assert.deepEqual(nodes.find((n) => n[1] === 'c1'), ['Conv', 'c1', ['x', 'w1', 'b1'], ['y1'], {}]);
  assert.equal(nodes.some((n) => n[1].startsWith('x.')), false);
});

/** img (uint8) -> dq (DequantizeLinear 0.5, 128) -> xf -> c (1x1 Conv, bias) and ce -> y, ye. */
function fixedModel(): Model {
  return makeModel(
    {
      name: 'g',
      node: [
        node('DequantizeLinear', ['img', 's', 'z'], ['xf'], {}, 'dq'),
        node('Conv', ['xf', 'w', 'b'], ['y'], {}, 'c'),
        node('Conv', ['xf', 'w'], ['ye'], {}, 'ce'),
      ],
      initializer: [
        floatTensor('s', [], Float32Array.of(0.5)),
        typedTensor('z', [], DataType.UINT8, Uint8Array.of(128)),
        floatTensor('w', [1, 1, 1, 1], Float32Array.of(0.25)),
        floatTensor('b', [1], Float32Array.of(3)),
      ],
      input: [valueInfo('img', DataType.UINT8, [1, 1, 2, 2])],
      output: [valueInfo('y', DataType.FLOAT, [1, 1, 2, 2]), valueInfo('ye', DataType.FLOAT, [1, 1, 2, 2])],
    },
    13,
  );
}

test('a fixed point (DequantizeLinear of the uint8 input) gets no Q/DQ; an excluded Conv dequantizes the input itself', () => {
  const { prepared, plan: p } = plan(fixedModel(), { exclude_layers: ['ce'] });
  const params = new Map<string, QParams>([
    ['xf', { scale: 0.5, zeroPoint: 128, type: 'uint8', range: { lo: -64, hi: 63.5 } }],
    ['y', activationParams({ lo: -20, hi: 20 }, 'uint8')],
  ]);
  const { model, weights } = buildQdqModel(prepared.model, p, params, true);
  assert.deepEqual(nodesOf(model), [
    WDQ('c', 'weight', 0),
    WDQ('c', 'bias', 0),
    ['DequantizeLinear', 'xf.for_ce.DequantizeLinear', ['img', 'xf.for_ce.scale', 'xf.for_ce.zero_point'], ['xf.for_ce.dequantized'], { axis: 1 }],
    ['DequantizeLinear', 'dq', ['img', 's', 'z'], ['xf'], {}],
    ['Conv', 'c', ['xf', 'c.weight.dequantized', 'c.bias.dequantized'], ['y.float'], {}],
    ...QDQ('y', 'y.float', 'y'),
    ['Conv', 'ce', ['xf.for_ce.dequantized', 'w'], ['ye'], {}],
  ]);
  assert.deepEqual(weights, { c: { scales: [f(0.25 / 127)], axis: 0 } });
  const got = inits(model);
  // Bias at input scale 0.5 x weight scale.
  assert.deepEqual(got.get('c.bias.int32')!.values, [Math.round(3 / (0.5 * f(0.25 / 127)))]);
  assert.deepEqual(got.get('xf.for_ce.zero_point'), { dims: [1], type: DataType.UINT8, values: [128] });
  assert.equal(got.has('xf.scale'), false);
});

test('two planned outputs of one node: both Q/DQ pairs follow it, in plan order', () => {
  const m = graphModel(
    [node('Split', ['x'], ['a', 'b'], { axis: 1 }, 'sp'), node('Add', ['a', 'b'], ['y'], {}, 'add')],
    [],
    [['x', [1, 4]]],
    [['y', [1, 2]]],
  );
  const { prepared, plan: p } = plan(m);
  const params = paramsFor(p, 'uint8', { a: { lo: -1, hi: 1 }, b: { lo: -2, hi: 2 }, y: { lo: -3, hi: 3 } });
  const { model } = buildQdqModel(prepared.model, p, params, true);
  assert.deepEqual(nodesOf(model), [
    ['Split', 'sp', ['x'], ['a.float', 'b.float'], { axis: 1 }],
    ...QDQ('a', 'a.float', 'a'),
    ...QDQ('b', 'b.float', 'b'),
    ['Add', 'add', ['a', 'b'], ['y.float'], {}],
    ...QDQ('y', 'y.float', 'y'),
  ]);
});

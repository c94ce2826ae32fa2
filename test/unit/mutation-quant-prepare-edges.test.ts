// Edges of quant/input-fold.ts and quant/shapes.ts left open by the first round (docs/mutation/notes/quant-prepare.md):
// the exact padding-rule boundary, a channel constant whose dims disagree with its value count, nodes
// without inputs, pools without a usable kernel_shape and Flatten axes outside [-r, r].
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type AttrValue, type Graph, type Model, type Node, type Tensor, node, onnx } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { foldInputNormalization } from '../../plugins/modelzoo/src/lib/quant/input-fold';
import { inferShapes } from '../../plugins/modelzoo/src/lib/quant/shapes';
import { DataType, f32, graphOf, modelOf, values } from '../helpers/mutation-quant-prepare-graph';

const FLOAT = DataType.FLOAT;
const UINT8 = DataType.UINT8;
const C = 3;

/** img (uint8 [1,3,4,5]) -> Cast -> one op per constant -> Conv (weights [2,3,1,1], given attributes) -> y. */
function chainModel(consts: { op: string; t: Tensor }[], convAttrs: Record<string, AttrValue> = {}): Model {
  const nodes: Node[] = [node('Cast', ['img'], ['t0'], { to: FLOAT }, 'cast')];
  consts.forEach(({ op, t }, i) => nodes.push(node(op, [`t${i}`, t.name!], [`t${i + 1}`], {}, `step${i}`)));
  nodes.push(node('Conv', [`t${consts.length}`, 'W'], ['y'], convAttrs, 'conv'));
  return modelOf({
    nodes,
    inits: [...consts.map((c) => c.t), f32('W', [2, C, 1, 1], values(2 * C, 7))],
    inputs: [['img', UINT8, [1, C, 4, 5]]],
    outputs: ['y'],
  });
}

const fold = (m: Model) => foldInputNormalization({ model: m, activations: new Map() }, new Set(['conv']), new Set());

/** Splits a float64 value into float32 constants whose float64 sum, left to right, is exactly the value. */
function float32Parts(v: number): number[] {
  const parts: number[] = [];
  let rest = v;
  while (rest !== 0) {
    const p = Math.fround(rest);
    parts.push(p);
    rest -= p;
  }
  assert.ok(parts.length <= 4, `${v} needs ${parts.length} float32 parts`);
  assert.equal(
    parts.reduce((s, p) => s + p, 0),
    v,
  );
  return parts;
}

test('padding rule: a pad value of exactly |a| / 2 * (1 + 1e-6) folds, the next double above does not', () => {
  // Cast -> Add k1 -> Add k2 -> Add k3 with a = 1 and b = k1 + k2 + k3 = limit, summed exactly in float64. The
  // centre -b / a = -0.5000005 rounds to -1, clamped to Z = 0, so the pad value a Z + b is b itself.
  const limit = (1 / 2) * (1 + 1e-6);
  const adds = (b: number) => chainModel(float32Parts(b).map((k, i) => ({ op: 'Add', t: f32(`k${i}`, [], [k]) })), { pads: [1, 1, 1, 1] });
  const at = fold(adds(limit));
  assert.ok(at, 'the limit itself is accepted');
  assert.deepEqual([at.zeroPoint, at.scale, at.padError], [0, 1, limit]);
  assert.deepEqual(at.removed, ['cast', 'step0', 'step1', 'step2']);
  const above = limit + 2 ** -53; // the next double: 0.5 <= limit < 1 has a spacing of 2^-53
  assert.ok(above > limit);
  assert.equal(fold(adds(above)), undefined);
  // Without padding the same normalization folds at any distance.
  assert.ok(foldInputNormalization({ model: chainModel([{ op: 'Add', t: f32('k', [], [0.75]) }]), activations: new Map() }, new Set(['conv']), new Set()));
});

test('a channel constant whose dims say two batch entries is refused even with one value per channel', () => {
  // float_data holds C values (tensorToFloat32 reads them as they are) but the dims claim [2, C, 1, 1].
  const k = (dims: number[]) => onnx.TensorProto.create({ name: 'k', dims, dataType: FLOAT, floatData: [0.5, 0.25, 2] });
  const ok = fold(chainModel([{ op: 'Mul', t: k([1, C, 1, 1]) }]));
  assert.ok(ok, '[1, C, 1, 1] folds');
  assert.equal(ok.scale, 2);
  assert.equal(fold(chainModel([{ op: 'Mul', t: k([2, C, 1, 1]) }])), undefined);
  assert.equal(fold(chainModel([{ op: 'Mul', t: k([C]) }])), undefined, '[C] broadcasts along W, not C');
});

// ---------------------------------------------------------------------------------------------------------
// inferShapes

const shapesOf = (g: Graph, x: number[], wanted: string[]) => inferShapes(g, new Map([['x', x]]), wanted);

test('a node without inputs gets no shape (Add, Concat, Constant), absent or empty input list, without throwing', () => {
  for (const op of ['Add', 'Mul', 'Concat', 'Relu']) {
    const absent: Graph = { node: [{ opType: op, output: ['y'] }] };
    assert.equal(shapesOf(absent, [1, 2], ['y']), undefined, `${op}, no input field`);
    const empty: Graph = { node: [{ opType: op, input: [], output: ['y'] }] };
    assert.equal(shapesOf(empty, [1, 2], ['y']), undefined, `${op}, input []`);
  }
  // The same ops with their inputs are inferred; a Constant's output is unknown, and so what reads it.
  const g = graphOf({
    nodes: [node('Add', ['x', 'x'], ['a']), node('Concat', ['x', 'a'], ['c'], { axis: 1 }), node('Constant', [], ['k']), node('Relu', ['k'], ['r'])],
  });
  assert.deepEqual([...shapesOf(g, [1, 2], ['a', 'c'])!], [['a', [1, 2]], ['c', [1, 4]]]);
  assert.equal(shapesOf(g, [1, 2], ['r']), undefined);
});

test('MaxPool/AveragePool need one kernel_shape entry per spatial axis', () => {
  const pool = (op: string, attrs: Record<string, AttrValue>, x: number[]) => shapesOf(graphOf({ nodes: [node(op, ['x'], ['y'], attrs)] }), x, ['y'])?.get('y');
  assert.deepEqual(pool('MaxPool', { kernel_shape: [3, 3] }, [1, 2, 6, 6]), [1, 2, 4, 4]);
  assert.deepEqual(pool('AveragePool', { kernel_shape: [2, 2], strides: [2, 2] }, [1, 2, 6, 7]), [1, 2, 3, 3]);
  assert.equal(pool('MaxPool', {}, [1, 2, 6, 6]), undefined, 'no kernel_shape');
  assert.equal(pool('AveragePool', {}, [1, 2, 6, 6]), undefined, 'no kernel_shape');
  assert.equal(pool('MaxPool', { kernel_shape: [3] }, [1, 2, 6, 6]), undefined, 'one entry for two axes');
  assert.equal(pool('MaxPool', { kernel_shape: [3, 3, 3] }, [1, 2, 6, 6]), undefined, 'three entries for two axes');
  // 1-D with SAME_UPPER: the output size does not depend on the kernel, which is still required.
  assert.deepEqual(pool('MaxPool', { kernel_shape: [3], auto_pad: 'SAME_UPPER', strides: [2] }, [1, 2, 7]), [1, 2, 4]);
  assert.equal(pool('MaxPool', { auto_pad: 'SAME_UPPER', strides: [2] }, [1, 2, 7]), undefined);
  assert.equal(pool('MaxPool', { auto_pad: 'SAME_UPPER' }, [1, 2, 6, 6]), undefined);
});

test('Flatten: every axis in [-r, r] gives the two products; axes outside have no shape', () => {
  const x = [2, 3, 4, 5];
  const flat = (axis: number) => shapesOf(graphOf({ nodes: [node('Flatten', ['x'], ['y'], { axis })] }), x, ['y'])?.get('y');
  const want = (a: number) => [x.slice(0, a).reduce((p, d) => p * d, 1), x.slice(a).reduce((p, d) => p * d, 1)];
  for (let axis = -4; axis <= 4; axis++) assert.deepEqual(flat(axis), want(axis < 0 ? axis + 4 : axis), `axis ${axis}`);
  assert.deepEqual([flat(0), flat(4), flat(-4), flat(-1)], [[1, 120], [120, 1], [1, 120], [24, 5]]);
  assert.equal(flat(5), undefined);
  assert.equal(flat(-5), undefined);
  assert.equal(flat(-9), undefined);
});

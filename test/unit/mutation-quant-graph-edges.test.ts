import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, floatTensor, makeModel, node, typedTensor, valueInfo } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { activationParams, buildQdqModel, quantizeWeight, weightScale } from '../../plugins/modelzoo/src/lib/quant/qdq';
import { graphModel, plan, pointsOf } from '../helpers/mutation-quant-graph-models';

// Boundaries of quant/plan.ts and quant/qdq.ts the main files do not reach: a Gemm bias of the right
// length but rank 2, what counts as a fixed (already dequantized) input, the least-squares k = 64, a
// 64-weight channel, and the input-channel count of an excluded Conv whose channels change.

const f = Math.fround;

test('Gemm: a [N, 1] bias (right length, rank 2) keeps the node float', () => {
  const m = graphModel(
    [node('Gemm', ['x', 'w', 'b41'], ['y'], {}, 'g'), node('Gemm', ['x', 'w', 'b4'], ['y2'], {}, 'g2')],
    [floatTensor('w', [3, 4], new Float32Array(12)), floatTensor('b41', [4, 1], new Float32Array(4)), floatTensor('b4', [4], new Float32Array(4))],
    [['x', [1, 3]]],
    [['y', [1, 4]], ['y2', [1, 4]]],
  );
  assert.deepEqual([...plan(m).plan.quantized], ['g2']);
});

/** Graph inputs img (uint8) and other (float); `first` writes xq from img, a DequantizeLinear writes xf. */
function twoInputs(first: 'dq' | 'q-dq' | 'q') {
  const nodes =
    first === 'dq'
      ? [node('DequantizeLinear', ['img', 's', 'z'], ['xf'], {}, 'dq')]
      : first === 'q-dq'
        ? [node('QuantizeLinear', ['other', 's', 'z'], ['xq'], {}, 'q'), node('DequantizeLinear', ['xq', 's', 'z'], ['xf'], {}, 'dq')]
        : [node('QuantizeLinear', ['other', 's', 'z'], ['xf'], {}, 'q')];
  return makeModel(
    {
      name: 'g',
      node: [...nodes, node('Add', ['xf', 'other'], ['y'], {}, 'add')],
      initializer: [floatTensor('s', [], Float32Array.of(0.25)), typedTensor('z', [], DataType.UINT8, Uint8Array.of(3))],
      input: [valueInfo('img', DataType.UINT8, [1, 4]), valueInfo('other', DataType.FLOAT, [1, 4])],
      output: [valueInfo('y', DataType.FLOAT, [1, 4])],
    },
    13,
  );
}

test('fixed parameters come only from a DequantizeLinear of a graph input', () => {
  // One of two graph inputs: fixed.
  assert.deepEqual(pointsOf(plan(twoInputs('dq')).plan)[1], { tensor: 'xf', producer: 'dq', fixed: { scale: 0.25, zeroPoint: 3, quantized: 'img' } });
  // A Q -> DQ pair already in the model: the DQ reads a node output, so xf is calibrated like any tensor.
  assert.deepEqual(pointsOf(plan(twoInputs('q-dq')).plan).find((p) => p.tensor === 'xf'), { tensor: 'xf', producer: 'dq' });
  // The same inputs on a QuantizeLinear: not a dequantized tensor.
  assert.deepEqual(pointsOf(plan(twoInputs('q')).plan).find((p) => p.tensor === 'xf'), { tensor: 'xf', producer: 'q' });
});

test('weightScale: least squares can pick the coarsest grid, k = 64', () => {
  // 7.99 / 64 is 0.01 steps off the k = 64 grid (no grid match) and farther off every finer one.
  const vals = Float32Array.from([1, f(7.99 / 64)]);
  assert.equal(weightScale(vals, 1), f(1 / 64));
  let best = Infinity;
  for (let k = 65; k <= 127; k++) {
    const s = f(1 / k);
    best = Math.min(best, vals.reduce((e, v) => e + (v - s * Math.round(v / s)) ** 2, 0));
  }
  const s64 = f(1 / 64);
  assert.ok(vals.reduce((e, v) => e + (v - s64 * Math.round(v / s64)) ** 2, 0) < best);
});

test('quantizeWeight: a channel of exactly 64 weights still gets the least-squares search', () => {
  const w = Float32Array.from([1, 0.2071, ...new Array<number>(62).fill(0), 0.5, ...new Array<number>(63).fill(0)]);
  const q = quantizeWeight(w, [2, 64], 0, true);
  // Channel 0: off-grid, least squares k = 111; channel 1: 0.5 alone is on the k = 127 grid.
  assert.deepEqual(Array.from(q.scales), [f(1 / 111), f(0.5 / 127)]);
  assert.deepEqual([q.data[0], q.data[1], q.data[64]], [111, Math.round(0.2071 * 111), 127]);
});

test('an excluded Conv whose input and output channels differ dequantizes its input per input channel', () => {
  const m = graphModel(
    [node('Conv', ['x', 'w1'], ['y1'], {}, 'c1'), node('Conv', ['y1', 'w3'], ['y'], {}, 'c3')],
    [floatTensor('w1', [3, 2, 1, 1], Float32Array.from([1, 0, 0, 1, 1, 1])), floatTensor('w3', [4, 3, 1, 1], new Float32Array(12).fill(0.5))],
    [['x', [1, 2, 1, 1]]],
    [['y', [1, 4, 1, 1]]],
  );
  const { prepared, plan: p } = plan(m, { exclude_layers: ['c3'] });
  const params = new Map(p.points.map((q) => [q.tensor, activationParams({ lo: -1, hi: 2 }, 'uint8')]));
  const { model } = buildQdqModel(prepared.model, p, params, true);
  const inits = new Map(model.graph!.initializer!.map((t) => [t.name!, t]));
  assert.deepEqual(inits.get('y1.for_c3.scale')!.dims!.map(Number), [3]);
  assert.deepEqual([...inits.get('y1.for_c3.zero_point')!.rawData!], [85, 85, 85]);
  assert.deepEqual(model.graph!.node!.find((n) => n.name === 'c3')!.input, ['y1.for_c3.dequantized', 'w3']);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataType, floatTensor, makeModel, node, onnx, valueInfo } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { collectStatistics } from '../../plugins/modelzoo/src/lib/quant/calibrate';
import { TensorHistogram } from '../../plugins/modelzoo/src/lib/quant/histogram';
import { ort } from '../../plugins/modelzoo/src/lib/runtime/session';

// TensorHistogram's extremes pass and bin clamp, against hand-computed bins (4 bins per side), and the
// refusal of NaN values wherever calibration can see them.

const NON_FINITE = 'calibration tensor holds NaN or infinite values';

test('a NaN anywhere among finite values is refused, not binned', () => {
  for (const data of [
    [Number.NaN, 1, -2],
    [1, Number.NaN, -2],
    [1, -2, Number.NaN],
    [0, 0, Number.NaN],
    [1, Number.POSITIVE_INFINITY],
    [Number.NEGATIVE_INFINITY, 1],
  ]) {
    for (const atoms of [false, true]) {
      const h = new TensorHistogram(4);
      assert.throws(() => h.add(Float32Array.from(data), atoms), { message: NON_FINITE }, `${data} atoms=${atoms}`);
      assert.equal(h.count, 0, 'nothing added');
      assert.deepEqual([...h.counts], [0, 0, 0, 0, 0, 0, 0, 0]);
    }
  }
});

test('a NaN in values whose extremes were observed (within) is refused too', () => {
  for (const atoms of [false, true]) {
    for (const data of [
      [Number.NaN, 1, -2],
      [1, -2, Number.NaN],
    ]) {
      const h = new TensorHistogram(4, 2);
      h.observe(-2, 1);
      assert.throws(() => h.add(Float32Array.from(data), atoms, true), { message: NON_FINITE }, `${data} atoms=${atoms}`);
    }
    // The same values without NaN are binned: -2 -> bin 0, 1 -> bin 6.
    const ok = new TensorHistogram(4, 2);
    ok.observe(-2, 1);
    ok.add(Float32Array.of(1, -2), atoms, true);
    assert.deepEqual([...ok.counts], [1, 0, 0, 0, 0, 0, 1, 0]);
  }
});

/** x [N, 2, 2, 2] float -> Relu -> y (a 4-D tensor whose channel maxima ONNX Runtime reduces). */
function reluModel() {
  const graph = onnx.GraphProto.create({
    name: 'relu',
    node: [node('Relu', ['x'], ['y'], {}, 'relu'), node('Mul', ['y', 'two'], ['z'], {}, 'mul')],
    initializer: [floatTensor('two', [], Float32Array.of(2))],
    input: [valueInfo('x', DataType.FLOAT, ['N', 2, 2, 2])],
    output: [valueInfo('z', DataType.FLOAT, ['N', 2, 2, 2])],
  });
  return makeModel(graph, 13);
}

test('collectStatistics refuses a NaN channel maximum from ONNX Runtime (extremes only, no sample)', async () => {
  const run = (data: Float32Array) =>
    collectStatistics(reluModel(), ['y'], new Map(), {
      images: 1,
      async *batches() {
        yield { feeds: { x: new ort.Tensor('float32', data, [1, 2, 2, 2]) } };
      },
    }, { maxImages: 10, atoms: false, nonNegative: new Set(['y']), samplesPerImage: 0 });
  const fine = await run(Float32Array.of(1, 2, 3, 4, -1, 5, 6, 7));
  assert.deepEqual([fine.histograms.get('y')!.min, fine.histograms.get('y')!.max], [0, 7]);
  // The first channel's last value is NaN: its GlobalMaxPool is NaN, the second channel's is 7.
  await assert.rejects(run(Float32Array.of(1, 2, 3, Number.NaN, -1, 5, 6, 7)), { message: NON_FINITE });
});

test('extremes over batches: lower values lower the min, higher raise the max, the rest leave them', () => {
  const h = new TensorHistogram(4);
  h.add(Float32Array.of(1, 2));
  h.add(Float32Array.of(-3, 0.5));
  h.add(Float32Array.of(0.75, -1));
  assert.deepEqual([h.min, h.max, h.count], [-3, 2, 6]);
  const o = new TensorHistogram(4);
  o.observe(-1, 2);
  o.observe(-0.5, 1);
  o.observe(-2, 1.5);
  assert.deepEqual([o.min, o.max, o.range], [-2, 2, 2]);
});

test('a smaller batch after a larger one keeps the range and bins into it', () => {
  const h = new TensorHistogram(4);
  h.add(Float32Array.of(4)); // range 4, width 1: 4 -> bin 8, clamped to 7
  h.add(Float32Array.of(1, -0.5)); // same range: 1 -> bin 5, -0.5 -> bin 3
  assert.equal(h.range, 4);
  assert.deepEqual([...h.counts], [0, 0, 0, 1, 0, 1, 0, 1]);
  // +range itself goes to the last bin, -range to the first; with atoms too.
  const a = new TensorHistogram(4, 2);
  a.add(Float32Array.of(2, -2, 0, 2), true);
  assert.deepEqual([...a.counts], [1, 0, 0, 0, 1, 0, 0, 2]);
  assert.deepEqual([a.zeros, a.clipHits], [1, 2]);
});

test('quantile of values that are all exactly 0 is 0', () => {
  const h = new TensorHistogram(4);
  h.add(Float32Array.of(0, 0, 0));
  assert.equal(h.range, 0);
  for (const q of [0, 1e-5, 0.5, 0.99999, 1]) assert.ok(Object.is(h.quantile(q), 0), `${q}: ${h.quantile(q)}`);
});

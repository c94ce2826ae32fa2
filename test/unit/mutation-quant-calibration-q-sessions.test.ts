import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataType, floatTensor, makeModel, node, onnx, valueInfo } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { collectStatistics, feedsFor, probeShapes, samplingModel, tensorShapes } from '../../plugins/modelzoo/src/lib/quant/calibrate';
import { measureSensitivity } from '../../plugins/modelzoo/src/lib/quant/sensitivity';
import { ort } from '../../plugins/modelzoo/src/lib/runtime/session';
import { S, pixels, tapModel, uint8Source } from '../helpers/mutation-quant-calibration-models';

// The ONNX Runtime sessions calibration builds hold native memory (the whole model and its buffers) that
// the garbage collector does not see: each must be released when its pass ends, and a probe session is
// built only when static shape inference fails. Counted by wrapping InferenceSession.create/release.

async function counting<T>(body: () => Promise<T>): Promise<{ result: T; created: number; released: number }> {
  const cls = ort.InferenceSession as unknown as {
    create: (...a: unknown[]) => Promise<ort.InferenceSession>;
    prototype: { release: () => Promise<void> };
  };
  const proto = cls.prototype;
  const create = cls.create;
  const release = proto.release;
  let created = 0;
  let released = 0;
  cls.create = async (...a: unknown[]) => {
    const s = await create.apply(cls, a);
    created++;
    return s;
  };
  proto.release = function (this: ort.InferenceSession) {
    released++;
    return release.call(this);
  };
  try {
    return { result: await body(), created, released };
  } finally {
    cls.create = create;
    proto.release = release;
  }
}

const feeds = () => ({ x: new ort.Tensor('uint8', pixels(2, 1, 7), [2, 1, S, S]) });

test('probeShapes releases its one-image session', async () => {
  const r = await counting(() => probeShapes(tapModel(), ['a', 'flat'], feeds()));
  assert.deepEqual([...r.result], [
    ['a', [1, 1, S, S]],
    ['flat', [1, S * S]],
  ]);
  assert.deepEqual([r.created, r.released], [1, 1]);
});

test('tensorShapes builds no session when static inference knows every shape', async () => {
  const r = await counting(() => tensorShapes(tapModel(), ['a', 'r', 'flat'], feeds()));
  assert.deepEqual([...r.result], [
    ['a', [1, 1, S, S]],
    ['r', [1, 1, S, S]],
    ['flat', [1, S * S]],
  ]);
  assert.deepEqual([r.created, r.released], [0, 0], 'inferred, not probed');
});

test('collectStatistics builds one session (shapes inferred) and releases it', async () => {
  const r = await counting(() =>
    collectStatistics(tapModel(), ['a', 'flat'], new Map(), uint8Source(pixels(3, 1, 9), 1, 2), { maxImages: 10, atoms: false, nonNegative: new Set() }),
  );
  assert.equal(r.result.images, 3);
  assert.deepEqual([r.created, r.released], [1, 1]);
});

test('measureSensitivity releases both sessions', async () => {
  const m = tapModel();
  const r = await counting(() =>
    measureSensitivity(m, m, [{ tensor: 'a', node: 'sub' }], uint8Source(pixels(2, 1, 3), 1, 2), { maxImages: 10 }),
  );
  assert.deepEqual(r.result, [{ node: 'sub', tensor: 'a', snrDb: 200 }]);
  assert.deepEqual([r.created, r.released], [2, 2]);
});

test('samplingModel: both extremes of a 2-D tensor are scalars (ReduceMax keepdims 0)', async () => {
  const m = tapModel();
  const s = samplingModel(m, new Map([['flat', [1, S * S]]]), new Set(), 4);
  for (const name of ['flat.calib.Max', 'flat.calib.NegMax']) {
    const n = s.graph!.node!.find((x) => x.name === name)!;
    assert.deepEqual(
      n.attribute!.map((a) => [a.name, Number(a.i)]),
      [['keepdims', 0]],
      name,
    );
  }
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(s).finish());
  try {
    const px = pixels(2, 1, 5);
    const out = await session.run({ x: new ort.Tensor('uint8', px, [2, 1, S, S]) }, ['flat.calib_max', 'flat.calib_negmax']);
    const r = [...px].map((v) => Math.max(0, v - 100));
    assert.deepEqual(out['flat.calib_max']!.dims, []);
    assert.deepEqual(out['flat.calib_negmax']!.dims, []);
    assert.equal(out['flat.calib_max']!.data[0], Math.max(...r));
    assert.equal(out['flat.calib_negmax']!.data[0], -Math.min(...r));
  } finally {
    await session.release();
  }
});

test('feedsFor: a graph input without a name (protobuf default) is fed under the empty name', () => {
  const graph = onnx.GraphProto.create({
    name: 'nameless',
    node: [node('Relu', [''], ['y'], {}, 'relu')],
    initializer: [floatTensor('w', [1], Float32Array.of(1))],
    input: [{ type: valueInfo('x', DataType.FLOAT, [1]).type }, valueInfo('w', DataType.FLOAT, [1])],
    output: [valueInfo('y', DataType.FLOAT, [1])],
  });
  const t = new ort.Tensor('float32', Float32Array.of(1), [1]);
  const m = makeModel(graph, 13);
  delete (m.graph!.input![0] as { name?: string }).name;
  assert.deepEqual(Object.keys(feedsFor(m, { image: t })), ['']);
  assert.equal(feedsFor(m, { image: t })[''], t);
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { DataType, type Model, encodeModel, floatTensor, makeModel, node, onnx, tensorToInt64, valueInfo } from '../../plugins/modelzoo/src/lib/onnx/proto';
import {
  SAMPLES_PER_IMAGE,
  type CalibrationBatch,
  batchSizeOf,
  collectStatistics,
  defaultProgress,
  feedsFor,
  probeShapes,
  samplesPerImage,
  samplingModel,
  tensorShapes,
  toSource,
  withOutputs,
} from '../../plugins/modelzoo/src/lib/quant/calibrate';
import { TensorHistogram } from '../../plugins/modelzoo/src/lib/quant/histogram';
import { inferShapes } from '../../plugins/modelzoo/src/lib/quant/shapes';
import { createSession, ort } from '../../plugins/modelzoo/src/lib/runtime/session';
import { S, pixels, tapModel, uint8Source } from '../helpers/mutation-quant-calibration-models';
import { stderrLines } from '../helpers/stderr-capture';

// calibrate.ts runs the float graph with taps (strided samples, exact per-tensor extremes) over the
// calibration set. The tiny tapModel computes a = x - 100, r = Relu(a), flat = Flatten(r) on uint8
// [N, 1, 4, 4] images, so every statistic is recomputed here from the pixels alone.

const one = (n: number) => new ort.Tensor('uint8', new Uint8Array(n * S * S), [n, 1, S, S]);

// ---------------------------------------------------------------- small helpers

test('toSource: functions and sources are re-iterable, a bare iterable is not; sources keep their fields', async () => {
  const gen = async function* (): AsyncGenerator<CalibrationBatch> {
    yield { feeds: { x: one(2) } };
  };
  const f = toSource(gen);
  assert.equal(f.reiterable, true);
  assert.equal(f.batches, gen);
  const src = {
    images: 2,
    files: ['a.JPEG', 'b.JPEG'],
    calls: 0,
    batches(this: { calls: number }) {
      this.calls++; // needs `this`: toSource must bind it
      return gen();
    },
  };
  const s = toSource(src);
  assert.equal(s.reiterable, true);
  assert.equal(s.images, 2);
  assert.deepEqual(s.files, ['a.JPEG', 'b.JPEG']);
  const it = s.batches;
  for await (const b of it()) assert.equal(batchSizeOf(b.feeds), 2);
  assert.equal(src.calls, 1);
  const iterable = gen();
  const i = toSource(iterable);
  assert.equal(i.reiterable, false);
  assert.equal(i.batches(), iterable);
  assert.equal(i.images, undefined);
  // An iterable that happens to have a non-function `batches` field is still an iterable.
  const odd = Object.assign(gen(), { batches: 3 });
  const o = toSource(odd as unknown as AsyncIterable<CalibrationBatch>);
  assert.equal(o.reiterable, false);
  assert.equal(o.batches(), odd);
});

test('defaultProgress: nothing without a total; one Progress per callback (rate-limited, last line always)', () => {
  stderrLines((lines) => {
    const p = defaultProgress('int8 calibration');
    p(1, undefined);
    assert.equal(lines.length, 0, 'no total: no line');
    p(1, 10);
    p(2, 10); // within the 2 s interval of the first line: the same Progress stays quiet
    assert.equal(lines.length, 1, lines.join('|'));
    p(10, 10);
    assert.equal(lines.length, 2, lines.join('|'));
    assert.ok(lines.every((l) => l.includes('int8 calibration')), lines.join('|'));
    assert.match(lines[1]!, /10\/10/);
  });
});

test('withOutputs: adds each missing tensor as a float output without shape, leaves the model alone', () => {
  const m = tapModel();
  const w = withOutputs(m, ['a', 'out', 'flat']);
  assert.deepEqual(w.graph!.output!.map((o) => o.name), ['out', 'a', 'flat']);
  for (const o of w.graph!.output!.slice(1)) {
    assert.equal(o.type!.tensorType!.elemType, DataType.FLOAT);
    assert.equal(o.type!.tensorType!.shape ?? undefined, undefined);
  }
  assert.deepEqual(m.graph!.output!.map((o) => o.name), ['out']);
  assert.deepEqual(withOutputs(m, []).graph!.output!.map((o) => o.name), ['out']);
});

test('feedsFor renames a single feed to the single real input only; batchSizeOf reads dims[0]', () => {
  const m = tapModel();
  const t = one(3);
  assert.deepEqual(Object.keys(feedsFor(m, { image_u8: t })), ['x']);
  assert.equal(feedsFor(m, { image_u8: t })['x'], t);
  const same = { x: t };
  assert.equal(feedsFor(m, same), same);
  const two = { x: t, y: t };
  assert.equal(feedsFor(m, two), two);
  // Two real inputs: no renaming; an input that is an initializer does not count.
  const m2 = tapModel();
  m2.graph!.input!.push(valueInfo('x2', DataType.UINT8, ['N', 1, S, S]));
  const f = { image_u8: t };
  assert.equal(feedsFor(m2, f), f);
  const m3 = tapModel();
  m3.graph!.input!.push(valueInfo('hundred', DataType.FLOAT, []));
  assert.deepEqual(Object.keys(feedsFor(m3, f)), ['x']);
  assert.equal(batchSizeOf({ x: t }), 3);
  assert.equal(batchSizeOf({ x: new ort.Tensor('float32', Float32Array.of(1), []) }), 1);
  assert.throws(() => batchSizeOf({}), { message: 'int8 calibration: a batch has no input tensors' });
});

test('samplesPerImage: max reads no sample, percentile half of the histogram methods', () => {
  assert.equal(SAMPLES_PER_IMAGE, 2048);
  assert.equal(samplesPerImage('max'), 0);
  assert.equal(samplesPerImage('percentile'), 1024);
  assert.equal(samplesPerImage('kl_divergence'), 2048);
  assert.equal(samplesPerImage('mse'), 2048);
});

// ---------------------------------------------------------------- the sampling graph

const ops = (m: Model) => m.graph!.node!.map((n) => `${n.opType}:${n.name}:${n.input!.join(',')}>${n.output!.join(',')}`);
const strideOf = (m: Model, t: string) => {
  const n = m.graph!.node!.find((x) => x.name === `${t}.calib.Sample`)!;
  return n.attribute!.find((a) => a.name === 'strides')!.ints!.map(Number);
};

test('samplingModel: taps per tensor, in reverse tensor order, appended after the graph', () => {
  const m = tapModel();
  const shapes = new Map([
    ['a', [1, 1, 4, 4]],
    ['r', [1, 1, 4, 4]],
    ['flat', [1, 16]],
  ]);
  const s = samplingModel(m, shapes, new Set(['r']), 4);
  const tail = ops(s).slice(m.graph!.node!.length);
  assert.deepEqual(ops(s).slice(0, 5), ops(m), 'the float graph first, unchanged');
  assert.deepEqual(tail, [
    'Reshape:flat.calib.SampleFlat:flat,calib.flat>flat.calib_sample',
    'ReduceMax:flat.calib.Max:flat>flat.calib_max',
    'Neg:flat.calib.Neg:flat>flat.calib.neg',
    'ReduceMax:flat.calib.NegMax:flat.calib.neg>flat.calib_negmax',
    'MaxPool:r.calib.Sample:r>r.calib.strided',
    'Reshape:r.calib.SampleFlat:r.calib.strided,calib.flat>r.calib_sample',
    'GlobalMaxPool:r.calib.Max:r>r.calib.chmax',
    'Reshape:r.calib.MaxFlat:r.calib.chmax,calib.flat>r.calib_max',
    'MaxPool:a.calib.Sample:a>a.calib.strided',
    'Reshape:a.calib.SampleFlat:a.calib.strided,calib.flat>a.calib_sample',
    'GlobalMaxPool:a.calib.Max:a>a.calib.chmax',
    'Neg:a.calib.Neg:a>a.calib.neg',
    'GlobalMaxPool:a.calib.NegMax:a.calib.neg>a.calib.chnegmax',
    'Reshape:a.calib.NegMaxFlat:a.calib.chnegmax,calib.flat>a.calib_negmax',
    'Reshape:a.calib.MaxFlat:a.calib.chmax,calib.flat>a.calib_max',
  ]);
  assert.deepEqual(s.graph!.output!.map((o) => o.name), [
    'out',
    'a.calib_sample',
    'a.calib_negmax',
    'a.calib_max',
    'r.calib_sample',
    'r.calib_max',
    'flat.calib_negmax',
    'flat.calib_sample',
    'flat.calib_max',
  ]);
  for (const o of s.graph!.output!.slice(1)) {
    assert.equal(o.type!.tensorType!.elemType, DataType.FLOAT);
    assert.equal(o.type!.tensorType!.shape ?? undefined, undefined);
  }
  const flat = s.graph!.initializer!.find((t) => t.name === 'calib.flat')!;
  assert.deepEqual(tensorToInt64(flat), [-1n]);
  assert.deepEqual(flat.dims!.map(Number), [1]);
  const reduce = s.graph!.node!.find((n) => n.name === 'flat.calib.Max')!;
  assert.equal(Number(reduce.attribute!.find((a) => a.name === 'keepdims')!.i), 0);
  const pool = s.graph!.node!.find((n) => n.name === 'a.calib.Sample')!;
  assert.deepEqual(pool.attribute!.find((a) => a.name === 'kernel_shape')!.ints!.map(Number), [1, 1]);
  // The source model is not touched.
  assert.equal(m.graph!.node!.length, 5);
  assert.deepEqual(m.graph!.output!.map((o) => o.name), ['out']);
  assert.deepEqual(m.graph!.initializer!.map((t) => t.name), ['hundred', 'axes1']);
});

test('samplingModel: stride round(sqrt(perImage / samples)), at least 1; no sample for 0; sampled extremes', () => {
  const m = tapModel();
  const big = (dims: number[], samples: number) => strideOf(samplingModel(m, new Map([['a', dims]]), new Set(), samples), 'a');
  assert.deepEqual(big([1, 2, 8, 8], 8), [4, 4]); // sqrt(128 / 8) = 4
  assert.deepEqual(big([1, 4, 10, 10], 64), [3, 3]); // sqrt(6.25) = 2.5 -> 3
  assert.deepEqual(big([1, 1, 12, 12], 16), [3, 3]); // sqrt(9)
  assert.deepEqual(big([1, 1, 4, 4], 2048), [1, 1]); // sqrt(1/128) rounds to 0 -> 1
  assert.deepEqual(big([1, 3, 20, 20], 1), [35, 35]); // sqrt(1200) = 34.6
  assert.deepEqual(big([7, 1, 4, 4], 4), [2, 2], 'the batch dim does not count');
  // No sample: only extremes.
  const none = samplingModel(m, new Map([['a', [1, 1, 4, 4]], ['r', [1, 1, 4, 4]]]), new Set(['r']), 0, new Set(['r']));
  assert.deepEqual(none.graph!.output!.map((o) => o.name), ['out', 'a.calib_negmax', 'a.calib_max', 'r.calib_max']);
  // Sampled extremes: a non-negative tensor keeps only its sample; a signed one keeps its reductions.
  const se = samplingModel(m, new Map([['a', [1, 1, 4, 4]], ['r', [1, 1, 4, 4]]]), new Set(['r']), 4, new Set(['r', 'a']));
  assert.deepEqual(se.graph!.output!.map((o) => o.name), ['out', 'a.calib_sample', 'a.calib_negmax', 'a.calib_max', 'r.calib_sample']);
  // Default sample count is SAMPLES_PER_IMAGE.
  const d = samplingModel(m, new Map([['a', [1, 64, 64, 64]]]), new Set());
  assert.deepEqual(strideOf(d, 'a'), [11, 11]); // sqrt(262144 / 2048) = 11.3
});

test('probeShapes and tensorShapes give per-image shapes (batch 1) whatever the batch', async () => {
  const m = tapModel();
  const feeds = { x: new ort.Tensor('uint8', pixels(3, 1, 1), [3, 1, S, S]) };
  const probed = await probeShapes(m, ['a', 'flat', 'out'], feeds);
  assert.deepEqual([...probed], [
    ['a', [1, 1, 4, 4]],
    ['flat', [1, 16]],
    ['out', [1, 1]],
  ]);
  const shapes = await tensorShapes(m, ['a', 'r', 'flat'], feeds);
  assert.deepEqual([...shapes], [
    ['a', [1, 1, 4, 4]],
    ['r', [1, 1, 4, 4]],
    ['flat', [1, 16]],
  ]);
  // A graph static inference does not know (Abs): probed with ONNX Runtime instead.
  const g = tapModel();
  g.graph!.node!.splice(2, 0, node('Abs', ['a'], ['abs'], {}, 'abs'));
  assert.equal(inferShapes(g.graph!, new Map([['x', [1, 1, 4, 4]]]), ['abs']), undefined);
  assert.deepEqual([...(await tensorShapes(g, ['abs'], feeds))], [['abs', [1, 1, 4, 4]]]);
});

// ---------------------------------------------------------------- collectStatistics against an oracle

/** The tap model's tensors for a batch of pixels, per image (each image's values in NCHW order). */
function tensorsOf(px: Uint8Array): { a: number[][]; r: number[][] } {
  const per = S * S;
  const a: number[][] = [];
  const r: number[][] = [];
  for (let i = 0; i < px.length / per; i++) {
    const ai = Array.from(px.subarray(i * per, (i + 1) * per), (v) => v - 100);
    a.push(ai);
    r.push(ai.map((v) => Math.max(0, v)));
  }
  return { a, r };
}

/** Values at even rows and columns (MaxPool kernel 1, stride 2 over 4x4). */
const strided2 = (img: number[]) => img.filter((_, k) => Math.floor(k / S) % 2 === 0 && (k % S) % 2 === 0);

interface Expect {
  signed: boolean;
  sample: (img: number[]) => number[];
  /** Extremes come from the sample (sampled extremes), not from reductions. */
  fromSample?: boolean;
}

function oracleHistogram(batches: Uint8Array[], pick: 'a' | 'r', e: Expect, atoms: boolean, clip?: number): TensorHistogram {
  const h = new TensorHistogram(undefined, clip);
  for (const px of batches) {
    const imgs = tensorsOf(px)[pick];
    const all = imgs.flat();
    const sample = Float32Array.from(imgs.flatMap(e.sample));
    if (e.fromSample) {
      h.add(sample, atoms, false);
      continue;
    }
    h.observe(e.signed ? Math.min(...all) : 0, Math.max(...all));
    if (sample.length) h.add(sample, atoms, true);
  }
  return h;
}

function assertSameHistogram(got: TensorHistogram, want: TensorHistogram, what: string): void {
  assert.equal(got.min, want.min, `${what} min`);
  assert.equal(got.max, want.max, `${what} max`);
  assert.equal(got.count, want.count, `${what} count`);
  assert.equal(got.zeros, want.zeros, `${what} zeros`);
  assert.equal(got.clipHits, want.clipHits, `${what} clip hits`);
  assert.equal(got.range, want.range, `${what} range`);
  assert.equal(got.clipHigh, want.clipHigh, `${what} clip`);
  assert.deepEqual(Array.from(got.counts), Array.from(want.counts), `${what} counts`);
}

const sha = (parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

test('collectStatistics: exact extremes, strided samples, atoms, hash and counts match the pixels', async () => {
  const data = pixels(5, 1, 7);
  data[2] = 150; // a = 50 (sampled: row 0, column 2): exactly at r's clip bound
  data[8] = 100; // a = 0 exactly (sampled)
  const src = uint8Source(data, 1, 2, 'image_u8'); // renamed to x; batches of 2, 2, 1
  const calls: [number, number | undefined][] = [];
  const r = await collectStatistics(tapModel(), ['a', 'r', 'flat'], new Map([['r', 50]]), src, {
    maxImages: 100,
    atoms: true,
    nonNegative: new Set(['r', 'flat']),
    samplesPerImage: 4,
    progress: (d, t) => calls.push([d, t]),
  });
  assert.equal(r.images, 5);
  assert.equal(r.batches, 3);
  assert.deepEqual(calls, [
    [2, 5],
    [4, 5],
    [5, 5],
  ]);
  const batches = [data.subarray(0, 32), data.subarray(32, 64), data.subarray(64, 80)];
  assert.equal(r.sha256, sha(batches));
  assert.ok(r.seconds >= 0 && r.seconds < 60, `${r.seconds}`);
  assertSameHistogram(r.histograms.get('a')!, oracleHistogram(batches, 'a', { signed: true, sample: strided2 }, true), 'a');
  const hr = r.histograms.get('r')!;
  assertSameHistogram(hr, oracleHistogram(batches, 'r', { signed: false, sample: strided2 }, true, 50), 'r');
  assert.ok(hr.clipHits >= 1 && hr.zeros >= 1, `${hr.clipHits} ${hr.zeros}`);
  // flat is 2-D: every value is sampled, and its min comes from the reduction even when non-negative.
  const hf = r.histograms.get('flat')!;
  assertSameHistogram(hf, oracleHistogram(batches, 'r', { signed: true, sample: (x) => x }, true), 'flat');
  assert.equal(hf.count, 80);
  assert.deepEqual([...r.histograms.keys()], ['a', 'r', 'flat']);
  assert.equal(src.passes, 1);
  assert.equal(src.returned, 1, 'the iterator is closed');
});

test('collectStatistics: sampled extremes, no atoms, extremes only; maxImages stops at a batch boundary', async () => {
  const data = pixels(6, 1, 8);
  const batches = [data.subarray(0, 32), data.subarray(32, 64), data.subarray(64, 96)];
  const src = uint8Source(data, 1, 2, 'x', null);
  const calls: [number, number | undefined][] = [];
  const r = await collectStatistics(tapModel(), ['a', 'r'], new Map(), src, {
    maxImages: 3,
    atoms: false,
    nonNegative: new Set(['r']),
    samplesPerImage: 4,
    sampledExtremes: new Set(['r']),
    progress: (d, t) => calls.push([d, t]),
  });
  // 3 images asked, batches of 2: two batches are read, then the source is closed.
  assert.equal(r.images, 4);
  assert.equal(r.batches, 2);
  assert.deepEqual(calls, [
    [2, undefined],
    [4, undefined],
  ]);
  assert.equal(r.sha256, sha(batches.slice(0, 2)));
  assert.equal(src.returned, 1);
  assertSameHistogram(r.histograms.get('a')!, oracleHistogram(batches.slice(0, 2), 'a', { signed: true, sample: strided2 }, false), 'a');
  const hr = r.histograms.get('r')!;
  assertSameHistogram(hr, oracleHistogram(batches.slice(0, 2), 'r', { signed: false, sample: strided2, fromSample: true }, false), 'r');
  assert.equal(hr.zeros, 0, 'no atoms counted');

  // samplesPerImage 0 (calibrate_mode max): extremes only, and the total is capped by maxImages.
  const src2 = uint8Source(data, 1, 4);
  const calls2: [number, number | undefined][] = [];
  const e = await collectStatistics(tapModel(), ['a', 'r'], new Map(), src2, {
    maxImages: 5,
    atoms: false,
    nonNegative: new Set(['r']),
    samplesPerImage: 0,
    progress: (d, t) => calls2.push([d, t]),
  });
  assert.equal(e.images, 6);
  assert.deepEqual(calls2, [
    [4, 5],
    [6, 5],
  ]);
  const all = tensorsOf(data);
  const ha = e.histograms.get('a')!;
  assert.equal(ha.count, 0);
  assert.equal(ha.min, Math.min(...all.a.flat()));
  assert.equal(ha.max, Math.max(...all.a.flat()));
  assert.equal(e.histograms.get('r')!.min, 0);
  assert.equal(e.histograms.get('r')!.max, Math.max(...all.r.flat()));
});

test('collectStatistics: the default sample count samples every value of a small image', async () => {
  const data = pixels(2, 1, 9);
  const r = await collectStatistics(tapModel(), ['a'], new Map(), uint8Source(data, 1, 2), {
    maxImages: 10,
    atoms: false,
    nonNegative: new Set(),
  });
  assert.equal(r.histograms.get('a')!.count, 32);
  assertSameHistogram(r.histograms.get('a')!, oracleHistogram([data], 'a', { signed: true, sample: (x) => x }, false), 'a');
});

test('collectStatistics: an empty set, a failing batch (numbered), a non-float tensor', async () => {
  const empty = uint8Source(new Uint8Array(0), 1, 2);
  await assert.rejects(
    collectStatistics(tapModel(), ['a'], new Map(), empty, { maxImages: 10, atoms: false, nonNegative: new Set() }),
    { message: 'int8 calibration: the calibration set is empty' },
  );
  assert.equal(empty.returned, 1);
  const good = new ort.Tensor('uint8', pixels(2, 1, 3), [2, 1, S, S]);
  const bad = new ort.Tensor('uint8', new Uint8Array(25), [1, 1, 5, 5]);
  for (const at of [0, 1, 2, 3]) {
    let closed = 0;
    const src = {
      images: 8,
      batches(): AsyncIterable<CalibrationBatch> {
        let k = 0;
        return {
          [Symbol.asyncIterator]: () => ({
            next: async () => (k < 4 ? { done: false, value: { feeds: { x: k++ === at ? bad : good } } } : { done: true, value: undefined }),
            return: async () => {
              closed++;
              return { done: true, value: undefined };
            },
          }),
        };
      },
    };
    const tensors = at === 0 ? ['flat'] : ['a']; // batch 1 failing: shapes are inferred from it
    await assert.rejects(
      collectStatistics(tapModel(), tensors, new Map(), src, { maxImages: 100, atoms: false, nonNegative: new Set() }),
      (err: Error) => {
        if (at === 0) return /5/.test(err.message);
        assert.match(err.message, new RegExp(`^int8 calibration: ONNX Runtime failed on batch ${at + 1}: .*input`, 's'));
        return true;
      },
    );
    assert.equal(closed, 1, `batch ${at + 1}: the source is closed`);
  }
  // An int32 tensor cannot be calibrated.
  const m = tapModel();
  m.graph!.node!.push(node('Cast', ['flat'], ['ints'], { to: DataType.INT32 }, 'toint'));
  await assert.rejects(
    collectStatistics(m, ['ints'], new Map(), uint8Source(pixels(2, 1, 4), 1, 2), { maxImages: 10, atoms: false, nonNegative: new Set() }),
    (err: Error) => err.message.includes("'ints'") || err.message.includes('ints'),
  );
});

test('collectStatistics: results of the sampling graph equal a direct ONNX Runtime run', async () => {
  // The taps read the tensors they name: the float graph's own outputs for the same batch.
  const m = tapModel();
  const px = pixels(2, 1, 12);
  const s = await createSession(encodeModel(withOutputs(m, ['a', 'r'])));
  try {
    const out = await s.run({ x: new ort.Tensor('uint8', px, [2, 1, S, S]) }, ['a', 'r']);
    const a = Array.from(out['a']!.data as Float32Array);
    assert.deepEqual(a, tensorsOf(px).a.flat());
  } finally {
    await s.release();
  }
  const st = await collectStatistics(m, ['a'], new Map(), uint8Source(px, 1, 2), {
    maxImages: 10,
    atoms: false,
    nonNegative: new Set(),
    samplesPerImage: 16,
  });
  assertSameHistogram(st.histograms.get('a')!, oracleHistogram([px], 'a', { signed: true, sample: (x) => x }, false), 'a');
});

void floatTensor;
void makeModel;
void onnx;

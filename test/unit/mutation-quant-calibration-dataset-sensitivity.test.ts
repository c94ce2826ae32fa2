import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { floatTensor } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { openDataset } from '../../plugins/modelzoo/src/lib/dataset/reader';
import { calibrationImages } from '../../plugins/modelzoo/src/lib/dataset/calibration';
import { calibrationBatchesFromDataset } from '../../plugins/modelzoo/src/lib/quant/dataset-source';
import { measureSensitivity, snrDb } from '../../plugins/modelzoo/src/lib/quant/sensitivity';
import { S, pixels, tapModel, uint8Source } from '../helpers/mutation-quant-calibration-models';
import { writeTinyDataset } from '../helpers/tiny-dataset';

// sensitivity.ts compares the float graph with the QDQ graph tensor by tensor. Here the "QDQ" graph is
// the tap model with its constant 100 replaced by 99, so its error on every tensor is known exactly.

test('snrDb: 10 log10(signal / noise), with the silent and exact cases pinned', () => {
  assert.equal(snrDb(0, 0), 0);
  assert.equal(snrDb(5, 0), 200);
  assert.equal(snrDb(0, 5), -200);
  assert.equal(snrDb(100, 1), 20);
  assert.equal(snrDb(1, 100), -20);
  assert.equal(snrDb(2, 1), 10 * Math.log10(2));
});

function shifted(by: number) {
  const m = tapModel();
  const init = m.graph!.initializer!;
  init[0] = floatTensor('hundred', [], Float32Array.of(by));
  return m;
}

/** Exact sums of squares over the images, for the taps a = x - 100, r = Relu(a), out = sum(r). */
function oracle(px: Uint8Array, images: number, qConst: number) {
  const acc = { a: [0, 0], r: [0, 0], out: [0, 0] };
  for (let i = 0; i < images; i++) {
    let out = 0;
    let outQ = 0;
    for (let k = 0; k < S * S; k++) {
      const x = px[i * S * S + k]!;
      const a = x - 100;
      const aq = x - qConst;
      const r = Math.max(0, a);
      const rq = Math.max(0, aq);
      acc.a[0]! += a * a;
      acc.a[1]! += (aq - a) ** 2;
      acc.r[0]! += r * r;
      acc.r[1]! += (rq - r) ** 2;
      out += r;
      outQ += rq;
    }
    acc.out[0]! += out * out;
    acc.out[1]! += (outQ - out) ** 2;
  }
  return acc;
}

test('measureSensitivity: exact SNR per tensor over the set, worst first, with the producing node', async () => {
  const px = pixels(5, 1, 31);
  const src = uint8Source(px, 1, 2, 'image_u8'); // renamed to x for both graphs
  const calls: [number, number | undefined][] = [];
  const points = [
    { tensor: 'r', node: 'relu' },
    { tensor: 'a', node: 'sub' },
    { tensor: 'out', node: 'sum' },
  ];
  const got = await measureSensitivity(tapModel(), shifted(97), points, src, { maxImages: 100, progress: (d, t) => calls.push([d, t]) });
  const o = oracle(px, 5, 97);
  const want = points
    .map((p) => ({ ...p, snrDb: snrDb(o[p.tensor as 'a']![0]!, o[p.tensor as 'a']![1]!) }))
    .sort((x, y) => x.snrDb - y.snrDb);
  assert.deepEqual(got, want);
  assert.deepEqual(got.map((g) => g.tensor), ['a', 'out', 'r'], 'lowest SNR first, not in the order given');
  assert.deepEqual(calls, [
    [2, 5],
    [4, 5],
    [5, 5],
  ]);
  assert.equal(src.passes, 1);
});

test('measureSensitivity: stops once maxImages are measured (whole batches); identical graphs give 200 dB', async () => {
  const px = pixels(6, 1, 32);
  const calls: [number, number | undefined][] = [];
  const got = await measureSensitivity(tapModel(), shifted(99), [{ tensor: 'a', node: 'sub' }], uint8Source(px, 1, 2, 'x', null), {
    maxImages: 3,
    progress: (d, t) => calls.push([d, t]),
  });
  const o = oracle(px, 4, 99); // two batches: 4 images
  assert.deepEqual(got, [{ node: 'sub', tensor: 'a', snrDb: snrDb(o.a[0]!, o.a[1]!) }]);
  assert.deepEqual(calls, [
    [2, undefined],
    [4, undefined],
  ]);
  const capped: [number, number | undefined][] = [];
  await measureSensitivity(tapModel(), tapModel(), [{ tensor: 'a', node: 'sub' }], uint8Source(px, 1, 4), {
    maxImages: 5,
    progress: (d, t) => capped.push([d, t]),
  });
  assert.deepEqual(capped, [
    [4, 5],
    [6, 5],
  ]);
  const same = await measureSensitivity(tapModel(), tapModel(), [{ tensor: 'r', node: 'relu' }], uint8Source(px, 1, 3), { maxImages: 100 });
  assert.deepEqual(same, [{ node: 'relu', tensor: 'r', snrDb: 200 }]);
});

// ---------------------------------------------------------------- dataset-source.ts

test('calibrationBatchesFromDataset: the thinned calibration subset as uint8 batches under the given feed name', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mq-cal-src-'));
  try {
    writeTinyDataset(dir, { count: 12, classes: 3, size: 2, shardSize: 5, calibration: 9 });
    const ds = await openDataset(dir);
    try {
      const want = await calibrationImages(ds, 5);
      assert.equal(want.length, 5);
      const src = await calibrationBatchesFromDataset(ds, 5, 2, 'inp');
      assert.equal(src.images, 5);
      assert.deepEqual(src.files, want.map((i) => ds.entries[i]!.file));
      for (let pass = 0; pass < 2; pass++) {
        const seen: { dims: number[]; data: Uint8Array }[] = [];
        for await (const b of src.batches()) {
          assert.deepEqual(Object.keys(b.feeds), ['inp']);
          const t = b.feeds['inp']!;
          assert.equal(t.type, 'uint8');
          seen.push({ dims: t.dims.map(Number), data: t.data as Uint8Array });
        }
        assert.deepEqual(seen.map((s) => s.dims), [
          [2, 3, 2, 2],
          [2, 3, 2, 2],
          [1, 3, 2, 2],
        ]);
        const all = Buffer.concat(seen.map((s) => Buffer.from(s.data)));
        assert.deepEqual(all, Buffer.from(await ds.readImages(want)), `pass ${pass}`);
      }
      // Defaults: batches of 8 named image_u8.
      const d = await calibrationBatchesFromDataset(ds, 9);
      const dims: number[][] = [];
      for await (const b of d.batches()) dims.push(b.feeds['image_u8']!.dims.map(Number));
      assert.deepEqual(dims, [
        [8, 3, 2, 2],
        [1, 3, 2, 2],
      ]);
      for (const bad of [0, -1, 1.5, Number.NaN]) {
        await assert.rejects(calibrationBatchesFromDataset(ds, bad), { message: `calibration image count must be a positive integer, got ${bad}` });
      }
      for (const bad of [0, 2.5]) {
        await assert.rejects(calibrationBatchesFromDataset(ds, 3, bad), { message: `calibration batch must be a positive integer, got ${bad}` });
      }
      assert.equal((await calibrationBatchesFromDataset(ds, 1, 1)).images, 1);
    } finally {
      await ds.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

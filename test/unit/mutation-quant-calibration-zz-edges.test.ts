import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Model } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { collectStatistics, feedsFor, samplingModel } from '../../plugins/modelzoo/src/lib/quant/calibrate';
import { ort } from '../../plugins/modelzoo/src/lib/runtime/session';
import { S, pixels, tapModel, uint8Source } from '../helpers/mutation-quant-calibration-models';

// Edges the first pass of mutation-quant-calibration left: several feeds whose first is not the input,
// the calibration time, and a graph object without node/initializer/output lists.

test('feedsFor leaves several feeds alone even when the first is not the model input', () => {
  const t = new ort.Tensor('uint8', new Uint8Array(S * S), [1, 1, S, S]);
  const u = new ort.Tensor('uint8', new Uint8Array(S * S), [1, 1, S, S]);
  const feeds = { y: t, x: u };
  assert.equal(feedsFor(tapModel(), feeds), feeds);
});

test('collectStatistics reports its own wall time', async () => {
  const t0 = performance.now();
  const r = await collectStatistics(tapModel(), ['a'], new Map(), uint8Source(pixels(2, 1, 61), 1, 2), {
    maxImages: 10,
    atoms: false,
    nonNegative: new Set(),
  });
  const elapsed = (performance.now() - t0) / 1000;
  assert.ok(r.seconds > 0 && r.seconds <= elapsed, `${r.seconds} vs ${elapsed}`);
});

test('samplingModel on a graph object without node, initializer or output lists', () => {
  const bare = { graph: { name: 'bare' } } as Model;
  const s = samplingModel(bare, new Map(), new Set());
  assert.deepEqual(s.graph!.node, []);
  assert.deepEqual(s.graph!.output, []);
  assert.deepEqual(s.graph!.initializer!.map((t) => t.name), ['calib.flat']);
});

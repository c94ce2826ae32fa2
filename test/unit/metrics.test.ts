import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccuracyCounter, topK } from '../../plugins/modelzoo/src/lib/eval/metrics';
import { latencyStats } from '../../plugins/modelzoo/src/lib/bench/latency';

test('topK orders by score and breaks ties by the lower class index', () => {
  assert.deepEqual(topK([0.1, 0.9, 0.5, 0.9, 0.2], 0, 5, 3), [1, 3, 2]);
  assert.deepEqual(topK([9, 9, 1, 2, 3, 4, 5], 2, 5, 2), [4, 3]);
});

test('AccuracyCounter computes top-1, top-5 and per-class accuracy', () => {
  const c = new AccuracyCounter(6);
  c.add(0, 0, [5, 1, 1, 1, 1, 1]); // top-1 hit
  c.add(1, 1, [5, 4, 1, 1, 1, 1]); // top-5 hit only
  c.add(2, 5, [6, 5, 4, 3, 2, 1]); // miss (6th)
  const s = c.summary();
  assert.equal(s.images, 3);
  assert.ok(Math.abs(s.top1 - 100 / 3) < 1e-9);
  assert.ok(Math.abs(s.top5 - 200 / 3) < 1e-9);
  assert.deepEqual(s.perClass.map((p) => [p.cls, p.count, p.top1]), [[0, 1, 100], [1, 1, 0], [5, 1, 0]]);
  assert.throws(() => c.add(3, 6, [0, 0, 0, 0, 0, 0]), /out of range for a 6-class model/);
});

test('latency percentiles use nearest rank', () => {
  const s = latencyStats(Array.from({ length: 100 }, (_, i) => i + 1));
  assert.equal(s.min, 1);
  assert.equal(s.p50, 50);
  assert.equal(s.p90, 90);
  assert.equal(s.p99, 99);
  assert.equal(s.max, 100);
  assert.equal(s.mean, 50.5);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TensorHistogram } from '../../plugins/modelzoo/src/lib/quant/histogram';

test('add: an infinity at either end is refused, even beside finite values', () => {
  assert.throws(() => new TensorHistogram().add(Float32Array.from([-Infinity, 1])), /NaN or infinite/);
  assert.throws(() => new TensorHistogram().add(Float32Array.from([1, Infinity])), /NaN or infinite/);
  assert.throws(() => new TensorHistogram().observe(-Infinity, 1), /NaN or infinite/);
  assert.throws(() => new TensorHistogram().observe(-1, Infinity), /NaN or infinite/);
});

test('quantile of a histogram with extremes observed but no values added is 0', () => {
  const h = new TensorHistogram();
  h.observe(-1, 2);
  assert.equal(h.count, 0);
  assert.equal(h.quantile(0.5), 0);
  assert.equal(h.quantile(1), 0);
});

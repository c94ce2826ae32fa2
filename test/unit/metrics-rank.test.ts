import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccuracyCounter, topK } from '../../plugins/modelzoo/src/lib/eval/metrics';

// Logits over 8 classes whose ranking is 7,6,5,4,3,2,1,0 (class c scores c): class 3 ranks exactly
// 5th and class 2 exactly 6th, the two cases that tell top-5 from top-4 and top-6.
const ranked = [0, 1, 2, 3, 4, 5, 6, 7];

test('top-5 counts a label ranked exactly 5th and not one ranked exactly 6th', () => {
  assert.deepEqual(topK(ranked, 0, 8, 5), [7, 6, 5, 4, 3]);
  const fifth = new AccuracyCounter(8);
  fifth.add(0, 3, ranked);
  assert.equal(fifth.summary().top5, 100, 'a label ranked 5th is a top-5 hit');
  assert.equal(fifth.summary().top1, 0);
  assert.deepEqual(fifth.predictions.get(0), [7, 6, 5, 4, 3]);

  const sixth = new AccuracyCounter(8);
  sixth.add(0, 2, ranked);
  assert.equal(sixth.summary().top5, 0, 'a label ranked 6th is a top-5 miss');
});

test('top-5 over a mix: ranks 1..8 give top-1 1/8 and top-5 5/8', () => {
  const c = new AccuracyCounter(8);
  // label = the class ranked r-th (class 8 - r), for r = 1..8
  for (let r = 1; r <= 8; r++) c.add(r, 8 - r, ranked);
  const s = c.summary();
  assert.equal(s.images, 8);
  assert.equal(s.top1, 12.5);
  assert.equal(s.top5, 62.5);
  assert.deepEqual(s.perClass.map((p) => [p.cls, p.count, p.top1]), [[0, 1, 0], [1, 1, 0], [2, 1, 0], [3, 1, 0], [4, 1, 0], [5, 1, 0], [6, 1, 0], [7, 1, 100]]);
});

test('a model with fewer than 5 classes predicts all of them; offset reads the right row', () => {
  const c = new AccuracyCounter(3);
  // two rows of 3 logits; the second row (offset 3) ranks 0 > 2 > 1
  c.add(4, 1, [0, 0, 0, 9, 1, 5], 3);
  assert.deepEqual(c.predictions.get(4), [0, 2, 1]);
  assert.equal(c.summary().top5, 100);
  assert.equal(c.summary().top1, 0);
});

test('an empty counter reports zeros, not NaN', () => {
  const s = new AccuracyCounter(4).summary();
  assert.deepEqual(s, { images: 0, top1: 0, top5: 0, perClass: [] });
});

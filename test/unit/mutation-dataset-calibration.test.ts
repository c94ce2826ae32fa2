import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  calibrationImages,
  calibrationOverlap,
  selectCalibration,
  thinCalibration,
} from '../../plugins/modelzoo/src/lib/dataset/calibration';

// The calibration subset's exact choice is part of every int8 result (and of cache keys downstream), so
// it is pinned here against an oracle written from the documented rule: classes visited in the order of
// sha256(seed \0 "class:<label>"), each class's images in the order of sha256(seed \0 file) (ties: the
// lower index), round-robin until `size`, returned ascending.

type Entry = { file: string; label: number };
const DEFAULT_SEED = 'modelzoo-calibration/1';

function oracle(entries: Entry[], size: number, seed = DEFAULT_SEED): number[] {
  if (size >= entries.length) return entries.map((_, i) => i);
  const h = (s: string) => createHash('sha256').update(`${seed}\0${s}`).digest('hex');
  const labels = [...new Set(entries.map((e) => e.label))];
  const cmp = (a: [string, number], b: [string, number]) => (a[0] === b[0] ? a[1] - b[1] : a[0] < b[0] ? -1 : 1);
  const classes = labels.map((l) => [h(`class:${l}`), l] as [string, number]).sort(cmp).map(([, l]) => l);
  const queues = classes.map((l) =>
    entries
      .map((e, i) => [h(e.file), i] as [string, number])
      .filter(([, i]) => entries[i]!.label === l)
      .sort(cmp)
      .map(([, i]) => i),
  );
  const out: number[] = [];
  while (out.length < size) {
    for (const q of queues) {
      const next = q.shift();
      if (next !== undefined && out.length < size) out.push(next);
    }
  }
  return out.sort((a, b) => a - b);
}

/** 5 classes of 1, 3, 4, 5 and 6 images, interleaved, with labels that are not 0..n-1 and a repeated file name. */
function entries(): Entry[] {
  const out: Entry[] = [];
  const labels = [40, 7, 913, 2, 55];
  for (let k = 0; k < 6; k++) labels.forEach((l, c) => k <= c + 1 - (c === 0 ? 1 : 0) && out.push({ file: `n${l}/img_${k}.JPEG`, label: l }));
  // A repeated file (a datalist never has one): equal keys, which the oracle orders by index as the list does.
  out.push({ file: 'n2/img_0.JPEG', label: 2 });
  return out;
}

test('selectCalibration picks exactly the oracle subset for every size, with the default and another seed', () => {
  const e = entries();
  assert.equal(e.length, 20);
  for (let size = 0; size <= e.length + 2; size++) {
    const got = selectCalibration(e, size);
    assert.deepEqual(got, oracle(e, size), `size ${size}`);
    assert.deepEqual(selectCalibration(e, size, 'other-seed'), oracle(e, size, 'other-seed'), `size ${size}, other seed`);
  }
  assert.notDeepEqual(selectCalibration(e, 7), selectCalibration(e, 7, 'other-seed'));
  assert.deepEqual(selectCalibration(e, 0), []);
  assert.deepEqual(selectCalibration(e, 20), Array.from({ length: 20 }, (_, i) => i));
  assert.deepEqual(selectCalibration([], 0), []);
});

test('selectCalibration: class order and in-class order come from the hashes, not from the list', () => {
  // One image per class: the first `size` classes in hash order, whatever their labels and positions.
  const one = Array.from({ length: 12 }, (_, i) => ({ file: `f${i}`, label: 100 - i * 7 }));
  for (let size = 1; size < 12; size++) assert.deepEqual(selectCalibration(one, size), oracle(one, size), `size ${size}`);
  // One class: the first `size` images in file-hash order.
  const single = Array.from({ length: 12 }, (_, i) => ({ file: `g${i}`, label: 3 }));
  for (let size = 1; size < 12; size++) assert.deepEqual(selectCalibration(single, size), oracle(single, size), `size ${size}`);
});

test('selectCalibration refuses a size that is not a whole number >= 0', () => {
  for (const size of [-1, 1.5, Number.NaN]) {
    assert.throws(() => selectCalibration(entries(), size), (e: Error) => e.message === `calibration: invalid size ${size}`);
  }
});

test('thinCalibration: the subset itself when count covers it (ascending, input untouched); else the round-robin of its images', () => {
  const e = entries();
  const subset = [17, 3, 9, 0, 12, 5, 14, 1];
  const copy = [...subset];
  assert.deepEqual(thinCalibration(subset, e, 8), [0, 1, 3, 5, 9, 12, 14, 17]);
  assert.deepEqual(thinCalibration(subset, e, 50), [0, 1, 3, 5, 9, 12, 14, 17]);
  assert.deepEqual(subset, copy, 'the caller\'s list is not sorted in place');
  for (let count = 1; count < subset.length; count++) {
    const sub = subset.map((i) => e[i]!);
    const expected = oracle(sub, count).map((k) => subset[k]!).sort((a, b) => a - b);
    assert.deepEqual(thinCalibration(subset, e, count), expected, `count ${count}`);
  }
  for (const count of [0, -2, 2.5]) {
    assert.throws(() => thinCalibration(subset, e, count), (err: Error) => err.message === `calibration image count must be a positive integer, got ${count}`);
  }
  assert.throws(() => thinCalibration([1, 20], e, 1), (err: Error) => err.message === 'calibration index 20 is outside the datalist (20 entries)');
});

test('calibrationImages thins the dataset subset; an empty subset names the dataset', async () => {
  const e = entries();
  const ds = (subset: number[]) => ({ dir: '/data/val/g224', entries: e, calibrationIndices: async () => subset });
  assert.deepEqual(await calibrationImages(ds([19, 2, 11]), 5), [2, 11, 19]);
  const subset = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  assert.deepEqual(await calibrationImages(ds(subset), 4), thinCalibration(subset, e, 4));
  await assert.rejects(calibrationImages(ds([]), 4), (err: Error) => err.message === 'dataset /data/val/g224 has an empty calibration subset');
});

test('calibrationOverlap counts evaluated files that are calibration files (each evaluated file once per occurrence)', () => {
  assert.equal(calibrationOverlap(['a', 'b', 'c'], ['c', 'x', 'a', 'a']), 3);
  assert.equal(calibrationOverlap([], ['a']), 0);
  assert.equal(calibrationOverlap(['a'], new Set(['b'])), 0);
  assert.equal(calibrationOverlap(['a', 'b'], new Set(['b', 'a'])), 2);
});

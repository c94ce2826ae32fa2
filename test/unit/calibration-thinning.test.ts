import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrationOverlap, selectCalibration, thinCalibration } from '../../plugins/modelzoo/src/lib/dataset/calibration';

/** An ImageNet-val-like datalist: `classes` classes, `perClass` images each, in a shuffled order as val's is. */
function datalist(classes: number, perClass: number) {
  const out: { file: string; label: number }[] = [];
  for (let c = 0; c < classes; c++) for (let k = 0; k < perClass; k++) out.push({ file: '', label: c });
  let seed = 12345;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out.map((e, i) => ({ file: `ILSVRC2012_val_${String(i + 1).padStart(8, '0')}.JPEG`, label: e.label }));
}

const classCounts = (idx: number[], entries: { label: number }[]) => {
  const m = new Map<number, number>();
  for (const i of idx) m.set(entries[i]!.label, (m.get(entries[i]!.label) ?? 0) + 1);
  return m;
};

test('thinning keeps class balance for any count: 5000 of 1000 classes thinned to 1000 covers all 1000 classes', () => {
  const entries = datalist(1000, 50);
  const subset = selectCalibration(entries, 5000);
  const thinned = thinCalibration(subset, entries, 1000);
  assert.equal(thinned.length, 1000);
  const counts = classCounts(thinned, entries);
  assert.equal(counts.size, 1000, 'every class keeps one image');
  // The old evenly spaced pick over the ascending index list, for contrast: it loses classes.
  const spaced = Array.from({ length: 1000 }, (_, i) => subset[Math.floor((i * subset.length) / 1000)]!);
  assert.ok(classCounts(spaced, entries).size < 900, `evenly spaced: ${classCounts(spaced, entries).size} classes`);
});

test('property: for every count, thinned class counts differ by at most one and the pick is a deterministic subset', () => {
  const entries = datalist(37, 13);
  const subset = selectCalibration(entries, 200);
  const subsetSet = new Set(subset);
  for (let count = 1; count <= subset.length + 3; count++) {
    const a = thinCalibration(subset, entries, count);
    assert.equal(a.length, Math.min(count, subset.length), `count ${count}`);
    assert.ok(a.every((i) => subsetSet.has(i)), `count ${count}: only subset images`);
    assert.deepEqual(a, [...a].sort((x, y) => x - y), 'ascending');
    assert.equal(new Set(a).size, a.length, 'no duplicates');
    const counts = [...classCounts(a, entries).values()];
    const present = classCounts(a, entries).size;
    assert.equal(present, Math.min(37, a.length), `count ${count}: as many classes as possible`);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `count ${count}: ${counts}`);
    assert.deepEqual(thinCalibration([...subset].reverse(), entries, count), a, 'independent of the subset list order');
  }
  assert.throws(() => thinCalibration(subset, entries, 0), /positive integer/);
});

test('overlap counts calibration images among the evaluated ones, by file', () => {
  assert.equal(calibrationOverlap(['a', 'b', 'c'], ['a', 'x', 'c', 'y']), 2);
  assert.equal(calibrationOverlap(['a'], []), 0);
});

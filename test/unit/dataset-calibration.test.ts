import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectCalibration } from '../../plugins/modelzoo/src/lib/dataset/calibration';

/** 10 classes with uneven sizes (3..12 images), interleaved like a val list. */
function entries(): { file: string; label: number }[] {
  const out: { file: string; label: number }[] = [];
  for (let k = 0; k < 12; k++) for (let c = 0; c < 10; c++) if (k < 3 + c) out.push({ file: `img_${c}_${k}.JPEG`, label: c });
  return out;
}

test('calibration subset is class-balanced: every class present, counts differ by at most one while classes last', () => {
  const e = entries();
  for (const size of [10, 17, 25, 30]) {
    const pick = selectCalibration(e, size);
    assert.equal(pick.length, size);
    assert.equal(new Set(pick).size, size, 'no duplicates');
    const counts = new Array(10).fill(0);
    for (const i of pick) counts[e[i]!.label]++;
    assert.ok(counts.every((c) => c > 0), `size ${size}: every class present: ${counts}`);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `size ${size}: balanced: ${counts}`);
    assert.deepEqual(pick, [...pick].sort((a, b) => a - b), 'ascending indices');
  }
  // 60 of 75: classes of 3..6 images are exhausted by round-robin, the six larger ones get 7 each.
  const counts = new Array(10).fill(0);
  for (const i of selectCalibration(e, 60)) counts[e[i]!.label]++;
  assert.deepEqual(counts, [3, 4, 5, 6, 7, 7, 7, 7, 7, 7]);
});

test('calibration subset is deterministic, independent of list order, and seed-dependent', () => {
  const e = entries();
  const a = selectCalibration(e, 23);
  assert.deepEqual(selectCalibration(e, 23), a);
  const reversed = [...e].reverse();
  const b = selectCalibration(reversed, 23).map((i) => reversed[i]!.file).sort();
  assert.deepEqual(b, a.map((i) => e[i]!.file).sort(), 'same files whatever the list order');
  assert.notDeepEqual(selectCalibration(e, 23, 'other-seed'), a);
  assert.deepEqual(selectCalibration(e, 1000), e.map((_, i) => i), 'size >= count takes everything');
  assert.deepEqual(selectCalibration(e, 0), []);
});

import { createHash } from 'node:crypto';

/**
 * Class-balanced calibration subset: images grouped by class, each class's images in a seeded hash
 * order (so not biased to whatever came first in the list), classes visited in a seeded order, then
 * round-robin across classes until `size` images are taken. Every class present gets at least one image
 * when size >= number of classes present. Deterministic for the same list and seed. Returns datalist
 * indices, ascending (sequential shard reads).
 */
export function selectCalibration(
  entries: readonly { file: string; label: number }[],
  size: number,
  seed = 'modelzoo-calibration/1',
): number[] {
  if (!Number.isInteger(size) || size < 0) throw new Error(`calibration: invalid size ${size}`);
  // Stryker disable next-line EqualityOperator: at size === entries.length the round-robin below also takes every image, returned ascending: the same list
  if (size >= entries.length) return entries.map((_, i) => i);
  const key = (s: string) => createHash('sha256').update(seed).update('\0').update(s).digest('hex');
  const byClass = new Map<number, { index: number; key: string }[]>();
  entries.forEach((e, index) => {
    let list = byClass.get(e.label);
    if (!list) byClass.set(e.label, (list = []));
    list.push({ index, key: key(e.file) });
  });
  const order = (a: { key: string; index: number }, b: { key: string; index: number }) =>
    a.key < b.key
      ? -1
      : // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: keys never tie (sha256 of distinct labels, and of file names a datalist lists once), so the index tie-break is never reached
        a.key > b.key ? 1 : a.index - b.index;
  const groups = [...byClass.entries()]
    .map(([label, list]) => ({ key: key(`class:${label}`), index: label, list: list.sort(order) }))
    .sort(order)
    .map((g) => g.list);
  const picked: number[] = [];
  for (let round = 0; picked.length < size; round++) {
    for (const g of groups) {
      if (round < g.length) picked.push(g[round]!.index);
      if (picked.length === size) break;
    }
  }
  return picked.sort((a, b) => a - b);
}

/**
 * `count` images of a prepared calibration subset (datalist indices), chosen by the same class
 * round-robin as the subset itself, so a thinned subset stays balanced for any count (class counts differ
 * by at most one while every class still has images) instead of evenly spaced indices, which follow the
 * datalist's order and drop whole classes. Deterministic; ascending.
 */
export function thinCalibration(
  subset: readonly number[],
  entries: readonly { file: string; label: number }[],
  count: number,
): number[] {
  if (!Number.isInteger(count) || count < 1) throw new Error(`calibration image count must be a positive integer, got ${count}`);
  // Stryker disable next-line ConditionalExpression,EqualityOperator: a fast path: selectCalibration of count >= subset.length takes every image, the same ascending list (only an index outside the datalist, which a hash-checked calibration.txt never holds, would be refused there)
  if (count >= subset.length) return [...subset].sort((a, b) => a - b);
  const picked = selectCalibration(
    subset.map((i) => {
      const e = entries[i];
      if (!e) throw new Error(`calibration index ${i} is outside the datalist (${entries.length} entries)`);
      return e;
    }),
    count,
  );
  return picked.map((k) => subset[k]!).sort((a, b) => a - b);
}

/** The calibration images an int8 build of `count` images uses: the prepared subset, thinned. */
export async function calibrationImages(
  ds: { dir: string; entries: readonly { file: string; label: number }[]; calibrationIndices(): Promise<number[]> },
  count: number,
): Promise<number[]> {
  const all = await ds.calibrationIndices();
  if (all.length === 0) throw new Error(`dataset ${ds.dir} has an empty calibration subset`);
  return thinCalibration(all, ds.entries, count);
}

/**
 * How many of the calibration images are among the evaluated ones, by file name (the zoo's own practice
 * calibrates on 1000 val images and evaluates on all 50,000, an overlap of 1000; `holdout` makes it 0).
 */
export function calibrationOverlap(calibrationFiles: readonly string[], evaluatedFiles: Iterable<string>): number {
  const calib = new Set(calibrationFiles);
  let n = 0;
  for (const f of evaluatedFiles) if (calib.has(f)) n++;
  return n;
}

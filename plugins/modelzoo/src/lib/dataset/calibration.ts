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
  if (size >= entries.length) return entries.map((_, i) => i);
  const key = (s: string) => createHash('sha256').update(seed).update('\0').update(s).digest('hex');
  const byClass = new Map<number, { index: number; key: string }[]>();
  entries.forEach((e, index) => {
    let list = byClass.get(e.label);
    if (!list) byClass.set(e.label, (list = []));
    list.push({ index, key: key(e.file) });
  });
  const order = (a: { key: string; index: number }, b: { key: string; index: number }) =>
    a.key < b.key ? -1 : a.key > b.key ? 1 : a.index - b.index;
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

/**
 * Top-k accuracy from logits. Ties are broken by the lower class index, as torch.topk and numpy's
 * stable argsort do, so figures match the frameworks' evaluation scripts.
 */
export function topK(logits: ArrayLike<number>, offset: number, classes: number, k: number): number[] {
  const best: number[] = [];
  for (let c = 0; c < classes; c++) {
    const v = logits[offset + c]!;
    let pos = best.length;
    while (
      // Stryker disable next-line ConditionalExpression,EqualityOperator: at pos 0, best[-1] is undefined and logits[NaN] < v is false, so the guard only saves a lookup
      pos > 0 &&
      logits[offset + best[pos - 1]!]! < v
    )
      pos--;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: pos <= best.length <= k; at pos === k the spliced element is the one popped right after
    if (pos < k) {
      best.splice(pos, 0, c);
      if (best.length > k) best.pop();
    }
  }
  return best;
}

export class AccuracyCounter {
  private total = 0;
  private top1 = 0;
  private top5 = 0;
  private readonly perClassCount: number[];
  private readonly perClassTop1: number[];
  /** Top-5 predictions of every image, by datalist index. */
  readonly predictions = new Map<number, number[]>();

  constructor(readonly classes: number) {
    this.perClassCount = new Array<number>(classes).fill(0);
    this.perClassTop1 = new Array<number>(classes).fill(0);
  }

  add(index: number, label: number, logits: ArrayLike<number>, offset = 0): void {
    if (label >= this.classes) {
      throw new Error(`label ${label} of image ${index} is out of range for a ${this.classes}-class model`);
    }
    const top = topK(logits, offset, this.classes, Math.min(5, this.classes));
    this.predictions.set(index, top);
    this.total++;
    this.perClassCount[label]!++;
    if (top[0] === label) {
      this.top1++;
      this.perClassTop1[label]!++;
    }
    if (top.includes(label)) this.top5++;
  }

  summary(): { images: number; top1: number; top5: number; perClass: { cls: number; count: number; top1: number }[] } {
    const pct = (n: number, d: number) => (d === 0 ? 0 : (100 * n) / d);
    return {
      images: this.total,
      top1: pct(this.top1, this.total),
      top5: pct(this.top5, this.total),
      perClass: this.perClassCount
        .map((count, cls) => ({ cls, count, top1: pct(this.perClassTop1[cls]!, count) }))
        .filter((c) => c.count > 0),
    };
  }
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runs } from '../helpers/property';
import { AccuracyCounter, topK } from '../../plugins/modelzoo/src/lib/eval/metrics';
import { TensorHistogram } from '../../plugins/modelzoo/src/lib/quant/histogram';
import { chooseRange } from '../../plugins/modelzoo/src/lib/quant/ranges';

/** Sort-based oracle: classes by descending score, ties by the lower index. */
const oracleTopK = (row: number[], k: number) =>
  row
    .map((v, c) => [v, c] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, c]) => c);

// Few distinct values so ties are common; whole rows placed at an offset inside a larger buffer.
const rows = fc.integer({ min: 1, max: 40 }).chain((classes) =>
  fc.record({
    classes: fc.constant(classes),
    k: fc.integer({ min: 1, max: classes }),
    before: fc.array(fc.float({ noNaN: true }), { maxLength: 5 }),
    row: fc.array(fc.oneof(fc.integer({ min: -3, max: 3 }), fc.float({ noNaN: true, noDefaultInfinity: true })), { minLength: classes, maxLength: classes }),
    label: fc.integer({ min: 0, max: classes - 1 }),
  }),
);

test('property: topK equals a stable sort of the row, at any offset', () => {
  fc.assert(
    fc.property(rows, ({ classes, k, before, row }) => {
      const buf = Float32Array.from([...before, ...row, 99]);
      const r = Array.from(buf.subarray(before.length, before.length + classes));
      assert.deepEqual(topK(buf, before.length, classes, k), oracleTopK(r, k));
    }),
    { numRuns: runs(1000) },
  );
});

test('property: AccuracyCounter top-1/top-5 are the oracle rank of the label (rank 1 / rank <= 5)', () => {
  fc.assert(
    fc.property(fc.array(rows, { minLength: 1, maxLength: 8 }), (images) => {
      const classes = Math.max(...images.map((i) => i.classes));
      const c = new AccuracyCounter(classes);
      let top1 = 0;
      let top5 = 0;
      images.forEach(({ row, label }, i) => {
        const full = [...row, ...new Array<number>(classes - row.length).fill(-Infinity)];
        const rank = oracleTopK(full, classes).indexOf(label) + 1;
        if (rank === 1) top1++;
        if (rank <= 5) top5++;
        c.add(i, label, Float32Array.from(full));
        assert.deepEqual(c.predictions.get(i), oracleTopK(Array.from(Float32Array.from(full)), Math.min(5, classes)));
      });
      const s = c.summary();
      assert.equal(s.images, images.length);
      assert.equal(s.top1, (100 * top1) / images.length);
      assert.equal(s.top5, (100 * top5) / images.length);
    }),
    { numRuns: runs(300) },
  );
});

// Activation-like samples: a bulk plus rare outliers, signed or ReLU-style non-negative.
const samples = fc
  .tuple(
    fc.array(fc.float({ min: -4, max: 4, noNaN: true }), { minLength: 1, maxLength: 400 }),
    fc.array(fc.float({ min: -1000, max: 1000, noNaN: true }), { maxLength: 4 }),
    fc.boolean(),
  )
  .map(([bulk, outliers, relu]) => Float32Array.from([...bulk, ...outliers].map((v) => (relu ? Math.max(0, v) : v))));

test('property: histogram quantiles stay within one bin of the sort-based order statistic, clamped to [min, max]', () => {
  fc.assert(
    fc.property(
      fc.array(samples, { minLength: 1, maxLength: 3 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.constantFrom(8, 64, 2048),
      (batches, q, bins) => {
        const h = new TensorHistogram(bins);
        for (const b of batches) h.add(b);
        const all = batches.flatMap((b) => Array.from(b)).sort((a, b) => a - b);
        assert.equal(h.count, all.length);
        assert.equal(h.min, all[0]);
        assert.equal(h.max, all[all.length - 1]);
        const est = h.quantile(q);
        assert.ok(est >= h.min && est <= h.max, `quantile ${est} inside [${h.min}, ${h.max}]`);
        if (h.range === 0) return;
        // the value of rank ceil(q n) (1-based) lies in the bin the histogram stops at
        const oracle = all[Math.min(all.length - 1, Math.max(0, Math.ceil(q * all.length) - 1))]!;
        const tol = h.binWidth * (1 + 1e-9) + 1e-12;
        assert.ok(Math.abs(est - oracle) <= tol, `q=${q}: histogram ${est} vs sorted ${oracle} (bin width ${h.binWidth})`);
      },
    ),
    { numRuns: runs(500) },
  );
});

test('property: percentile ranges contain 0, stay inside [min, max], widen with the percentile and match the oracle', () => {
  fc.assert(
    fc.property(samples, fc.double({ min: 0.5, max: 1, noNaN: true, minExcluded: true }), (data, p) => {
      const h = new TensorHistogram(256);
      h.add(data);
      const r = chooseRange(h, 'percentile', p);
      assert.ok(r.lo <= 0 && r.hi >= 0);
      assert.ok(r.lo >= Math.min(0, h.min) && r.hi <= Math.max(0, h.max));
      const wider = chooseRange(h, 'percentile', p + (1 - p) / 2);
      assert.ok(wider.lo <= r.lo && wider.hi >= r.hi, 'a higher percentile never narrows the range');
      const max = chooseRange(h, 'max', p);
      assert.deepEqual(max, { lo: Math.min(0, h.min), hi: Math.max(0, h.max) });
      if (h.range === 0) return;
      const sorted = Array.from(data).sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
      const tol = h.binWidth * (1 + 1e-9) + 1e-12;
      assert.ok(Math.abs(r.hi - Math.max(0, at(p))) <= tol, `hi ${r.hi} vs ${at(p)}`);
      assert.ok(Math.abs(r.lo - Math.min(0, at(1 - p))) <= tol, `lo ${r.lo} vs ${at(1 - p)}`);
    }),
    { numRuns: runs(300) },
  );
});

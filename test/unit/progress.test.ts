import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIN_RATE_MS, Progress, progressLine } from '../../plugins/modelzoo/src/lib/common/progress';

function run(ticks: [ms: number, done: number][], total: number, everyMs = 2000): string[] {
  let t = 1_000_000;
  const lines: string[] = [];
  const quiet = process.env['MODELZOO_QUIET'];
  delete process.env['MODELZOO_QUIET'];
  try {
    const p = new Progress('eval', total, everyMs, { now: () => t, write: (l) => lines.push(l) });
    for (const [ms, done] of ticks) {
      t = 1_000_000 + ms;
      p.tick(done);
    }
  } finally {
    if (quiet !== undefined) process.env['MODELZOO_QUIET'] = quiet;
  }
  return lines;
}

test('the first tick prints no rate (it once printed 8000000000.0/s) and no ETA', () => {
  const [first] = run([[0, 8]], 1000);
  assert.equal(first, '[eval] 8/1000 (0.8%)\n');
  assert.doesNotMatch(progressLine('eval', 8, 1000, 0.000001), /\/s|eta|Infinity|NaN/);
});

test('a rate appears once a second and two items have passed, and it is items over elapsed time', () => {
  const lines = run([[0, 0], [2500, 500], [5000, 1000]], 1000);
  assert.deepEqual(lines, ['[eval] 0/1000 (0.0%)\n', '[eval] 500/1000 (50.0%) 200.0/s eta 2.5s\n', '[eval] 1000/1000 (100.0%) 200.0/s in 5.0s\n']);
});

test('rate edges: just under the time or item minimum prints none; exactly at both prints it', () => {
  assert.doesNotMatch(progressLine('x', 100, 200, MIN_RATE_MS - 1), /\/s/);
  assert.doesNotMatch(progressLine('x', 1, 200, 60_000), /\/s/);
  assert.match(progressLine('x', 2, 200, MIN_RATE_MS), / 2\.0\/s eta 1m39s/);
});

test('work that finishes at once says how long it took, without a rate; lines between prints are throttled', () => {
  assert.deepEqual(run([[3, 5]], 5), ['[eval] 5/5 (100.0%) in 0.0s\n']);
  assert.equal(run([[0, 1], [500, 2], [1500, 3], [2100, 4]], 10).length, 2);
  assert.equal(progressLine('x', 0, 0, 0), '[x] 0/0 (100.0%) in 0.0s\n');
});

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import report from '../../plugins/modelzoo/src/executors/report/executor';
import { MOBILENETV2_SEED } from '../../plugins/modelzoo/src/lib/nx/seed-table';
import { type PageReport, findChromium, openPage } from '../helpers/chromium';
import { writeReportFixture } from '../helpers/report-fixture';
import { REPO_ROOT } from '../helpers/shared';

// The report's index.html in a real headless Chromium: no console errors, one mark per row in every
// chart, a sortable table, and no way for a variant name to inject markup. Skips without Chromium,
// except in CI (CI=true), where a missing browser is a failure.
const chromium = findChromium();
const skip = chromium ? false : process.env['CI'] === 'true' ? false : 'chromium not installed (apt-get install chromium); required when CI=true';
const N = MOBILENETV2_SEED.length;

async function runReportExecutor(root: string, projects: Record<string, any>, title: string): Promise<void> {
  const context = {
    root,
    cwd: root,
    isVerbose: false,
    projectName: 'zoo-report',
    targetName: 'report',
    projectsConfigurations: { version: 2, projects: { ...projects, 'zoo-report': { root: 'models/report', tags: ['report'] } } },
    nxJsonConfiguration: {},
    projectGraph: { nodes: {}, dependencies: {} },
  } as unknown as ExecutorContext;
  // (stdout is node:test's channel to its runner: the executor's table is printed, not swallowed.)
  const r = await report({ tag: 'variant', title, outputPath: 'dist/report' }, context);
  assert.equal(r.success, true);
}

async function waitReady(page: PageReport): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await page.evaluate<string | undefined>('document.body.dataset.ready')) === 'true') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`the page never finished drawing; errors: ${page.errors.join('\n')}`);
}

let root: string;
let page: PageReport | undefined;
before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'report-browser-'));
});
after(async () => {
  await page?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

test('index.html draws one mark per row in every chart, with no console errors, and sorts its table', { skip }, async () => {
  assert.ok(chromium, 'CI=true but no chromium binary was found: install it (apt-get install chromium)');
  const { projects } = writeReportFixture(root);
  await runReportExecutor(root, projects, 'MobileNetV2 zoo — test fixture (made-up figures)');
  const file = path.join(root, 'dist/report/index.html');
  page = await openPage(chromium, `file://${file}`);
  await waitReady(page);
  assert.deepEqual(page.errors, [], 'console errors or warnings');
  const charts = await page.evaluate<{ id: string; expected: unknown; marks: unknown }[]>(
    `[...document.querySelectorAll('.chart')].map((c) => ({ id: c.id, expected: JSON.parse(c.dataset.expected), marks: JSON.parse(c.dataset.marks) }))`,
  );
  // Every fixture row has top-1 and img/s; every int8 row a drop and a speedup; every row 3 batch sizes.
  assert.deepEqual(charts, [
    { id: 'chart-pareto', expected: 2 * N, marks: 2 * N },
    { id: 'chart-int8', expected: { drop: N, speedup: N }, marks: { drop: N, speedup: N } },
    { id: 'chart-latency', expected: 2 * N * 3, marks: 2 * N * 3 },
  ]);
  assert.equal(await page.evaluate<number>(`document.querySelectorAll('#zoo tbody tr').length`), 2 * N);
  assert.equal(await page.evaluate<number>(`document.querySelectorAll('#zoo td.zoo-pass').length`), N, 'every pretrained full-val fp32 row passes');

  const top1 = `[...document.querySelectorAll('#zoo tbody tr')].map((tr) => Number(tr.cells[4].textContent))`;
  await page.evaluate(`document.querySelectorAll('#zoo th')[4].click()`);
  const asc = await page.evaluate<number[]>(top1);
  assert.deepEqual(asc, [...asc].sort((a, b) => a - b), 'ascending after one click');
  await page.evaluate(`document.querySelectorAll('#zoo th')[4].click()`);
  const desc = await page.evaluate<number[]>(top1);
  assert.deepEqual(desc, [...asc].reverse(), 'descending after the second');
  await page.evaluate(`document.querySelectorAll('#zoo th')[4].click()`);

  const png = await page.screenshot();
  assert.ok(png.length > 10_000 && png.subarray(1, 4).toString() === 'PNG');
  const artefact = path.join(REPO_ROOT, 'dist', 'test-artifacts', 'report.png');
  fs.mkdirSync(path.dirname(artefact), { recursive: true });
  fs.writeFileSync(artefact, png);
  // README's screenshot is refreshed on request only, so a test run does not dirty the checkout.
  if (process.env['MODELZOO_UPDATE_SCREENSHOT'] === '1') fs.writeFileSync(path.join(REPO_ROOT, 'docs', 'report-screenshot.png'), png);
  assert.deepEqual(page.errors, []);
  await page.close();
  page = undefined;
});

test('a hostile variant name and title stay text: no element, no script, no error', { skip }, async () => {
  assert.ok(chromium, 'CI=true but no chromium binary was found: install it (apt-get install chromium)');
  const evil = `"'><img src=x onerror="document.title='pwned'"></script><script>document.title='pwned'</script><!--`;
  const dir = path.join(root, 'hostile');
  const { projects } = writeReportFixture(dir, { firstVariantName: evil, weights: 'random-init', demoData: true, images: 12 });
  // One int8 build missing from its paired bench: no img/s, no speedup and no latency for that row, and no mark for them.
  const benchFile = path.join(dir, 'dist/models/mobilenetv2/torchvision/bench/bench.json');
  const bench = JSON.parse(fs.readFileSync(benchFile, 'utf8'));
  fs.writeFileSync(benchFile, JSON.stringify({ ...bench, models: bench.models.filter((m: { label: string }) => m.label !== 'int8'), pairs: [] }));
  await runReportExecutor(dir, projects, `zoo ${evil}`);
  page = await openPage(chromium, `file://${path.join(dir, 'dist/report/index.html')}`);
  await waitReady(page);
  assert.deepEqual(page.errors, []);
  const charts = await page.evaluate<{ expected: unknown; marks: unknown }[]>(
    `[...document.querySelectorAll('.chart')].map((c) => ({ expected: JSON.parse(c.dataset.expected), marks: JSON.parse(c.dataset.marks) }))`,
  );
  assert.deepEqual(charts, [
    { expected: 2 * N - 1, marks: 2 * N - 1 },
    { expected: { drop: N, speedup: N - 1 }, marks: { drop: N, speedup: N - 1 } },
    { expected: (2 * N - 1) * 3, marks: (2 * N - 1) * 3 },
  ]);
  assert.equal(await page.evaluate<number>(`document.querySelectorAll('img').length`), 0);
  assert.equal(await page.evaluate<number>(`document.querySelectorAll('script').length`), 3);
  assert.equal(await page.evaluate<string>('document.title'), `zoo ${evil}`);
  const cells = await page.evaluate<string[]>(`[...document.querySelectorAll('#zoo tbody tr td:nth-child(2)')].map((td) => td.textContent)`);
  assert.ok(cells.includes(evil), 'the name is shown as text');
  assert.match(await page.evaluate<string>(`document.body.textContent`), /No pass\/fail against the zoo's published figures/);
  await page.close();
  page = undefined;
});

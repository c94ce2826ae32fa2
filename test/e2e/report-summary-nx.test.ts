import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type TempWorkspace, createTempWorkspace, taskRuns, writeImageFolder, writeTestVariant } from '../helpers/temp-workspace';

// The main command as a user sees it: Nx's DEFAULT output style folds every successful task's output
// into one line, so the report's summary must come from the end-of-run hook. And the baseline gate
// through nx: the baseline file's content is a cache input, and a regression fails the command.
let ws: TempWorkspace;
let images: string;
const env = (extra: NodeJS.ProcessEnv = {}) => ({ MODELZOO_IMAGENET_VAL: images, MODELZOO_REPORT_BASELINE: undefined, ...extra });
const MAIN = ['run-many', '-t', 'vamp-eval', 'vamp-bench', 'report'];

before(async () => {
  ws = createTempWorkspace('report-summary');
  images = fs.mkdtempSync(path.join(os.tmpdir(), 'summary-images-'));
  await writeImageFolder(images, 8, 10);
  ws.writeJson('models/datasets/imagenet-val/project.json', {
    name: 'imagenet-val',
    targets: {
      'dataset-prep-pil-bilinear': {
        executor: '@modelzoo/nx-plugin:dataset-prep',
        options: { preprocess: 'torchvision', classes: 10, calibrationSize: 8, shardSize: 8, outputPath: 'dist/datasets/imagenet-val/pil-bilinear' },
      },
    },
  });
  writeTestVariant(ws, 'tv', 'torchvision');
  ws.writeJson('models/report/project.json', {
    name: 'zoo-report',
    tags: ['report'],
    implicitDependencies: ['mobilenetv2-*'],
    targets: {
      report: { executor: '@modelzoo/nx-plugin:report', dependsOn: ['^vamp-eval', '^vamp-bench'], options: { tag: 'variant', title: 'T', outputPath: 'dist/report' } },
    },
  });
});

after(() => {
  fs.rmSync(ws.root, { recursive: true, force: true });
  fs.rmSync(images, { recursive: true, force: true });
});

function assertSummary(output: string) {
  const at = output.indexOf('── modelzoo report ──');
  assert.ok(at >= 0, `no report summary in the default output:\n${output}`);
  const summary = output.slice(at);
  assert.match(summary, /2 rows \(1 variants\)/);
  assert.match(summary, /best top-1: fp32 \d+\.\d\d \(tv\), int8 \d+\.\d\d \(tv\)/);
  assert.match(summary, /failed rows: none/);
  assert.match(summary, /report: dist\/report\/report\.md\n\s+dist\/report\/report\.json\n\s+dist\/report\/index\.html/);
  // It comes after Nx's own end-of-run lines, where the user looks.
  assert.ok(output.lastIndexOf('Successfully ran') < at, 'the summary is printed last');
}

test("the main command ends with the report's paths and summary under Nx's default output style, cached or not", () => {
  const r = ws.nx(MAIN, env(), { outputStyle: null });
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /successful tasks were not shown/, 'this is the default style, which hides successful output');
  assertSummary(r.output);
  const html = fs.readFileSync(path.join(ws.root, 'dist/report/index.html'), 'utf8');
  assert.match(html, /<table id="zoo">/);
  assert.equal((html.match(/<tr data-index=/g) ?? []).length, 2, 'one table row per report row');
  const again = ws.nx(MAIN, env(), { outputStyle: null });
  assert.equal(again.status, 0, again.output);
  assert.match(again.output, /Nx read the output from the cache instead of running the command for (\d+) out of \1 tasks/);
  assertSummary(again.output);
});

test("a baseline's content is a cache input of the report, and a regression against it fails the command", () => {
  const baseline = path.join(ws.root, 'baseline.json');
  fs.copyFileSync(path.join(ws.root, 'dist/report/report.json'), baseline);
  const same = ws.nx(['run', 'zoo-report:report'], env({ MODELZOO_REPORT_BASELINE: 'baseline.json' }));
  assert.equal(same.status, 0, same.output);
  assert.equal(taskRuns(same.output).get('zoo-report:report'), 'ran', 'a new baseline reruns the report');
  assert.match(same.output, /against baseline\.json: no regressions/);
  const cached = ws.nx(['run', 'zoo-report:report'], env({ MODELZOO_REPORT_BASELINE: 'baseline.json' }));
  assert.equal(taskRuns(cached.output).get('zoo-report:report'), 'cache');

  // Same path, other content: main got 50% faster, so this run is a regression against it.
  const doc = JSON.parse(fs.readFileSync(baseline, 'utf8'));
  for (const row of doc.rows) row.imgPerSec *= 2;
  fs.writeFileSync(baseline, JSON.stringify(doc));
  const slower = ws.nx(['run', 'zoo-report:report'], env({ MODELZOO_REPORT_BASELINE: 'baseline.json' }));
  assert.notEqual(slower.status, 0, slower.output);
  assert.match(slower.output, /2 regression\(s\) against the baseline baseline\.json beyond tolerance:\n.*- mobilenetv2-tv fp32 imgPerSec: /);
  assert.ok(fs.existsSync(path.join(ws.root, 'dist/report/report-diff.md')));
});

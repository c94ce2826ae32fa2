import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { VariantSpec } from '../../plugins/modelzoo/src/lib/nx/variant-project';
import { vastaiDatasetConfiguration } from '../../plugins/modelzoo/src/lib/nx/vastai-configuration';
import { parseVamcYaml } from '../../plugins/modelzoo/src/lib/vastai/vamc-config';
import { REPO_ROOT } from '../helpers/shared';
import { type TempWorkspace, createTempWorkspace, taskRuns, writeImageFolder, writeTestVariant } from '../helpers/temp-workspace';

/**
 * Real `nx` in a temp workspace: `run-many -c vastai` takes every variant through the VastAI path with
 * the stand-ins in test/stand-ins (vamc: YAML + vdsp_params, vamp: npz datalist in, npz outputs out),
 * and the eval figures equal the onnxruntime backend's on the same variant and images.
 */
const STAND_INS = path.join(REPO_ROOT, 'test', 'stand-ins');
let ws: TempWorkspace;
let images: string;
const VARIANTS: { project: string; row: string; preprocess: string; extra: Partial<VariantSpec> }[] = [
  { project: 'mobilenetv2-tv', row: 'tv', preprocess: 'torchvision', extra: {} },
  { project: 'mobilenetv2-keras', row: 'keras', preprocess: 'keras', extra: { padding: 'tf-same', bnEpsilon: 0.001 } },
];
const DATASET_TARGET = 'imagenet-val:dataset-prep-pil-bilinear';
const tools = { VAMC_PATH: path.join(STAND_INS, 'vamc'), VAMP_PATH: path.join(STAND_INS, 'vamp'), VAMP_STANDIN_SAMPLES: '8' };
const env = (extra: NodeJS.ProcessEnv = tools) => ({ MODELZOO_IMAGENET_VAL: images, ...extra });

before(async () => {
  ws = createTempWorkspace('vastai-nx');
  images = fs.mkdtempSync(path.join(os.tmpdir(), 'vastai-images-'));
  await writeImageFolder(images, 12, 10);
  const outputPath = 'dist/datasets/imagenet-val/pil-bilinear';
  ws.writeJson('models/datasets/imagenet-val/project.json', {
    name: 'imagenet-val',
    targets: {
      'dataset-prep-pil-bilinear': {
        executor: '@modelzoo/nx-plugin:dataset-prep',
        options: { preprocess: 'torchvision', classes: 10, calibrationSize: 10, shardSize: 5, outputPath },
        configurations: { vastai: vastaiDatasetConfiguration(outputPath) },
      },
    },
  });
  for (const v of VARIANTS) writeTestVariant(ws, v.row, v.preprocess, v.extra);

  ws.writeJson('models/report/project.json', {
    name: 'zoo-report',
    tags: ['report'],
    implicitDependencies: ['mobilenetv2-*'],
    targets: {
      report: { executor: '@modelzoo/nx-plugin:report', dependsOn: ['^vamp-eval', '^vamp-bench'], options: { tag: 'variant', outputPath: 'dist/report' } },
    },
  });
});

after(() => {
  fs.rmSync(ws.root, { recursive: true, force: true });
  fs.rmSync(images, { recursive: true, force: true });
});

test('run-many -c vastai takes every variant through vamc/vamp (stand-ins) with the onnxruntime figures', () => {
  const ort = ws.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench'], env({}));
  assert.equal(ort.status, 0, ort.output);

  const r = ws.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench', '-c', 'vastai'], env());
  assert.equal(r.status, 0, r.output);
  const runs = taskRuns(r.output);
  for (const v of VARIANTS) {
    for (const t of ['vamc-build', 'vamc-build-int8', 'vamp-eval', 'vamp-eval-int8', 'vamp-bench']) {
      assert.equal(runs.get(`${v.project}:${t}`), 'ran', `${v.project}:${t} did not run\n${r.output}`);
      assert.match(r.output, new RegExp(`nx run ${v.project}:${t}:vastai`), `${v.project}:${t} did not run with -c vastai`);
    }
    // onnx-export has no vastai configuration: both backends share it (a cache hit here).
    assert.equal(runs.get(`${v.project}:onnx-export`), 'cache', r.output);
  }
  assert.equal(runs.get(DATASET_TARGET), 'ran', 'the npz dataset-prep must run under -c vastai');
  assert.match(r.output, /nx run imagenet-val:dataset-prep-pil-bilinear:vastai/);

  // dataset-prep format: npz wrote vamp's inputs beside the uint8 shards, in the vastai folder.
  const npzRoot = path.join(ws.root, 'dist/datasets/imagenet-val/vastai/pil-bilinear/npz');
  const datalist = fs.readFileSync(path.join(npzRoot, 'npz_datalist.txt'), 'utf8').trim().split('\n');
  assert.equal(datalist.length, 12);
  assert.ok(datalist.every((f) => f.endsWith('.npz') && fs.existsSync(f)));
  assert.ok(fs.existsSync(path.join(ws.root, 'dist/datasets/imagenet-val/vastai/pil-bilinear/manifest.json')));
  assert.ok(!fs.existsSync(path.join(ws.root, 'dist/datasets/imagenet-val/pil-bilinear/npz')), 'the onnxruntime dataset has no npz');

  for (const v of VARIANTS) {
    const out = `dist/models/mobilenetv2/${v.row}`;
    for (const [s, precision] of [['', 'fp16'], ['-int8', 'int8']] as const) {
      // vamc-build: YAML + vdsp_params written, vamc (stand-in) ran, build.json in the shared shape.
      const build = ws.readJson(`${out}/vastai/build${s}/build.json`);
      assert.equal(build.backend, 'vastai');
      assert.equal(build.precision, precision);
      assert.equal(build.stand_in, true);
      assert.equal(build.normalizationFolded, false);
      assert.equal(build.details.tool, 'vamc compile');
      const dir = path.join(ws.root, `${out}/vastai/build${s}`);
      const yaml = parseVamcYaml(fs.readFileSync(path.join(dir, 'vamc-config.yaml'), 'utf8'), 'vamc-config.yaml') as any;
      assert.ok(yaml.backend, 'a 2025 config');
      const vdsp = JSON.parse(fs.readFileSync(path.join(dir, 'vdsp_params.json'), 'utf8'));
      assert.ok(JSON.stringify(vdsp).includes('OpType'), 'a 2025 vdsp_params');
      assert.ok(fs.existsSync(path.join(dir, `${build.model}.json`)), `model written by vamc at ${build.model}`);
      assert.match(fs.readFileSync(path.join(dir, 'vamc.log'), 'utf8'), /stand-in/);
      if (s) assert.equal(fs.readdirSync(path.join(dir, 'calibration')).filter((f) => f.endsWith('.png')).length, 8);

      // vamp-bench: one paired run of both vastai builds, parsed from vamp's reports.
      const bench = ws.readJson(`${out}/vastai/bench/bench.json`);
      assert.equal(bench.backend, 'vastai');
      assert.equal(bench.stand_in, true);
      assert.match(bench.runtime.name, /stand-in/);
      const entry = bench.models.find((m: { label: string }) => m.label === precision);
      assert.equal(entry.model, path.join(ws.root, `${out}/vastai/build${s}`));
      assert.equal(entry.results.length, 1);
      assert.equal(entry.results[0].batch, 2);
      assert.ok(entry.results[0].throughput > 0);
      assert.equal(entry.results[0].reps.length, 3);
      assert.equal(entry.results[0].vastai.standIn, true);
      assert.deepEqual(bench.pairs.map((p: { of: string; over: string; batch: number }) => [p.of, p.over, p.batch]), [['int8', 'fp16', 2]]);
      assert.match(fs.readFileSync(path.join(ws.root, `${out}/vastai/bench/bench.md`), 'utf8'), /STAND-IN/);

      // vamp-eval: the npz datalist went to vamp, and every image came back.
      const ev = ws.readJson(`${out}/vastai/eval${s}/eval.json`);
      assert.equal(ev.backend, 'vastai');
      assert.equal(ev.stand_in, true);
      assert.equal(ev.images, 12);
      assert.equal(ev.details.npzDatalist, path.join(npzRoot, 'npz_datalist.txt'));
      assert.equal(fs.readFileSync(path.join(ws.root, `${out}/vastai/eval${s}/predictions.csv`), 'utf8').trim().split('\n').length, 13);
    }
    // Same figures as the onnxruntime backend on the same variant and images. The stand-in runs fp32
    // (it does not quantize), so both vastai builds match the onnxruntime fp32 build.
    const ortEval = ws.readJson(`${out}/eval/eval.json`);
    assert.equal(ortEval.backend, 'onnxruntime');
    for (const s of ['', '-int8']) {
      const ev = ws.readJson(`${out}/vastai/eval${s}/eval.json`);
      assert.equal(ev.top1, ortEval.top1, `${v.project} vastai${s} top-1`);
      assert.equal(ev.top5, ortEval.top5, `${v.project} vastai${s} top-5`);
      assert.deepEqual(ev.perClass, ortEval.perClass);
    }
    // The onnxruntime outputs are untouched by the vastai run.
    assert.equal(ws.readJson(`${out}/build/build.json`).backend, 'onnxruntime');
  }

  // A second vastai run is all cache hits; the onnxruntime outputs stay cached too.
  const again = ws.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench', '-c', 'vastai'], env());
  assert.equal(again.status, 0, again.output);
  for (const [task, how] of taskRuns(again.output)) assert.equal(how, 'cache', `${task} reran\n${again.output}`);
  const ortAgain = ws.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench'], env({}));
  for (const [task, how] of taskRuns(ortAgain.output)) assert.equal(how, 'cache', `${task} reran\n${ortAgain.output}`);
});

test('the report lists the vastai rows beside the onnxruntime ones, marked stand-in', () => {
  const r = ws.nx(['run', 'zoo-report:report'], env());
  assert.equal(r.status, 0, r.output);
  const rows = ws.readJson('dist/report/report.json').rows as { project: string; precision: string; backend?: string; standIn?: boolean; top1: number }[];
  for (const v of VARIANTS) {
    const mine = rows.filter((row) => row.project === v.project);
    assert.deepEqual(mine.map((row) => `${row.precision}/${row.backend ?? 'onnxruntime'}`), ['fp32/onnxruntime', 'int8/onnxruntime', 'fp16/vastai', 'int8/vastai']);
    assert.ok(mine.slice(2).every((row) => row.standIn === true));
    assert.equal(mine[2]!.top1, mine[0]!.top1);
  }
  const md = fs.readFileSync(path.join(ws.root, 'dist/report/report.md'), 'utf8');
  assert.match(md, /fp16 \(vastai stand-in\)/);
  assert.match(md, /not VastAI hardware/);
});

test('a missing vamc fails the task with an error naming the option and the environment variable', () => {
  // PATH holds only node's folder, so no vamc can be found there either.
  const r = ws.nx(['run', 'mobilenetv2-tv:vamc-build:vastai', '--skip-nx-cache', '--exclude-task-dependencies'], env({ VAMC_PATH: undefined, VAMP_PATH: undefined, PATH: path.dirname(process.execPath) }));
  assert.notEqual(r.status, 0, r.output);
  assert.match(r.output, /vamc not found: set the vastai\.vamcPath option or the VAMC_PATH environment variable/, r.output);
});

test('a vamp path that is not an executable names where it came from', () => {
  const missing = path.join(ws.root, 'no-such-vamp');
  const r = ws.nx(['run', 'mobilenetv2-keras:vamp-eval:vastai', '--skip-nx-cache', '--exclude-task-dependencies'], env({ ...tools, VAMP_PATH: missing }));
  assert.notEqual(r.status, 0, r.output);
  assert.ok(r.output.includes(`vamp: ${missing} (from environment variable VAMP_PATH) is not an executable file`), r.output);
});

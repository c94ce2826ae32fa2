import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openFilesUnder } from '../helpers/open-files';
import { writeTinyDataset } from '../helpers/tiny-dataset';
import { pixelModel } from '../helpers/tiny-onnx';
import { evalProvenance, evaluateModel, type EvaluateOptions } from '../../plugins/modelzoo/src/lib/eval/evaluate-model';
import type { DatasetManifest } from '../../plugins/modelzoo/src/lib/dataset/manifest';
import type { EvalResult } from '../../plugins/modelzoo/src/lib/results';

// evaluateModel end to end on a tiny built model (a real ONNX graph run by ONNX Runtime) and a tiny
// prepared dataset: eval.json, predictions.csv, the summary it prints, the holdout / limit / reference
// options, the integrity checks it delegates, and evalProvenance's figures against oracles computed here.

const SIZE = 2;
const IMAGE = 3 * SIZE * SIZE;
const CLASSES = 6;
const COUNT = 8; // percentages are multiples of 12.5: exact in binary, so tolerance boundaries are exact

const sha = (b: string | Uint8Array) => createHash('sha256').update(b).digest('hex');

interface Fixture {
  root: string;
  model: string;
  dataset: string;
  manifest: DatasetManifest;
  labels: number[];
  files: string[];
  /** Oracle top-5 of every image: classes by pixel value, descending, ties to the lower class. */
  top5: number[][];
}

function fixture(opts: { calibration?: number; demo?: boolean; weights?: string; details?: Record<string, unknown>; datasetPath?: string[] } = {}): Fixture {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mut-eval-model-'));
  const dataset = path.join(root, ...(opts.datasetPath ?? ['ds']));
  const manifest = writeTinyDataset(dataset, { count: COUNT, classes: CLASSES, size: SIZE, shardSize: 3, seed: 7, calibration: opts.calibration ?? 3 });
  // Labels in no pattern of the pixels: some images are hits, some top-5 only, some misses.
  const labels = [2, 0, 5, 1, 3, 3, 0, 4];
  const files = labels.map((_, i) => `img_${i}.JPEG`);
  fs.writeFileSync(path.join(dataset, manifest.datalist), labels.map((l, i) => `${files[i]} ${l}`).join('\n') + '\n');
  if (opts.demo === false) {
    manifest.demo = false;
    fs.writeFileSync(path.join(dataset, 'manifest.json'), JSON.stringify(manifest));
  }
  const pixels = Buffer.concat(manifest.shards.map((s) => fs.readFileSync(path.join(dataset, s.file))));
  const top5 = labels.map((_, i) =>
    Array.from({ length: CLASSES }, (_, c) => c)
      .sort((a, b) => pixels[i * IMAGE + b]! - pixels[i * IMAGE + a]! || a - b)
      .slice(0, 5),
  );
  const model = path.join(root, 'model');
  fs.mkdirSync(model);
  const bytes = pixelModel(CLASSES, SIZE);
  fs.writeFileSync(path.join(model, 'm.onnx'), bytes);
  const build = { backend: 'onnxruntime', precision: 'int8', model: 'm.onnx', sha256: sha(bytes), weights: opts.weights ?? 'pretrained', details: opts.details ?? {} };
  fs.writeFileSync(path.join(model, 'build.json'), JSON.stringify(build));
  return { root, model, dataset, manifest, labels, files, top5 };
}

const hits = (f: Fixture, indices: number[], k: 1 | 5) => indices.filter((i) => f.top5[i]!.slice(0, k).includes(f.labels[i]!)).length;

/** evaluateModel with its stdout summary captured (and kept out of the TAP stream). */
async function evaluate(f: Fixture, o: Partial<EvaluateOptions> = {}): Promise<{ result: EvalResult; out: string; dir: string }> {
  const dir = path.join(f.root, `out-${Math.random().toString(16).slice(2)}`);
  const chunks: string[] = [];
  try {
    const result = await captureStdout(() => evaluateModel({ model: f.model, dataset: f.dataset, batch: 3, threads: 1, outputPath: dir, ...o }), chunks);
    return { result, out: chunks.join(''), dir };
  } finally {
    assert.deepEqual(openFilesUnder(f.dataset), [], 'the dataset is closed');
  }
}

/**
 * Runs fn, collecting what evaluate-model.ts writes to stdout; everything else (the test runner's own
 * stream shares process.stdout) passes through.
 */
async function captureStdout<T>(fn: () => Promise<T>, into: string[] = []): Promise<T> {
  const write = process.stdout.write;
  process.stdout.write = function (this: unknown, chunk: string | Uint8Array, ...rest: unknown[]) {
    if (new Error().stack?.includes('evaluate-model')) {
      into.push(String(chunk));
      return true;
    }
    return (write as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
  } as typeof process.stdout.write;
  try {
    return await fn();
  } finally {
    process.stdout.write = write;
  }
}

test('eval.json and predictions.csv of a whole dataset: figures, top-5 per image, provenance', async () => {
  const f = fixture();
  try {
    const all = f.labels.map((_, i) => i);
    const top1 = (100 * hits(f, all, 1)) / COUNT;
    const top5 = (100 * hits(f, all, 5)) / COUNT;
    assert.ok(top1 > 0 && top1 < top5 && top5 < 100, `a fixture with hits, top-5-only hits and misses (${top1}, ${top5})`);
    const { result, out, dir } = await evaluate(f);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'eval.json'), 'utf8')) as EvalResult;
    assert.deepEqual(json, JSON.parse(JSON.stringify(result)), 'eval.json is the returned result');
    assert.equal(result.backend, 'onnxruntime');
    assert.equal(result.model, f.model, 'named by the option when modelName is not given');
    assert.equal(result.precision, 'int8');
    assert.equal(result.weights, 'pretrained');
    assert.equal(result.demoData, true);
    assert.equal(result.images, COUNT);
    assert.equal(result.top1, top1);
    assert.equal(result.top5, top5);
    const perClass = [...new Set(f.labels)].sort((a, b) => a - b).map((cls) => {
      const of = all.filter((i) => f.labels[i] === cls);
      return { cls, count: of.length, top1: (100 * hits(f, of, 1)) / of.length };
    });
    assert.deepEqual(result.perClass, perClass);
    assert.ok(result.seconds > 0 && Math.abs(result.throughput - COUNT / result.seconds) < 1e-6);
    assert.equal(result.reference, undefined, 'no gate without a reference');
    assert.equal(json.holdout, false);
    // the demo set is named 'demo'; the prepared copy by its folder
    assert.deepEqual(result.dataset, {
      name: 'demo',
      prepared: 'ds',
      images: COUNT,
      total: COUNT,
      fingerprint: sha(f.manifest.shards.map((s) => s.sha256).join('\n') + '\n' + sha(all.map((i) => `${f.files[i]} ${f.labels[i]}\n`).join(''))),
      demo: true,
    });
    // fp32-style build (no calibration files in build.json): the dataset's subset (images 0..2), all evaluated
    assert.deepEqual(result.calibration, { source: 'dataset', images: 3, overlap: 3 });
    const csv = fs.readFileSync(path.join(dir, 'predictions.csv'), 'utf8');
    assert.equal(csv, ['file,label,top5', ...all.map((i) => `"${f.files[i]}",${f.labels[i]},${f.top5[i]!.join(' ')}`)].join('\n') + '\n');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['eval.json', 'predictions.csv']);
    assert.equal(
      out,
      `3 of the 3 images of the dataset's calibration subset are among the 8 evaluated\n` +
        `top-1 ${top1.toFixed(2)}%  top-5 ${top5.toFixed(2)}%  on 8 images (DEMO data, not ImageNet val)\n`,
    );
  } finally {
    fs.rmSync(f.root, { recursive: true, force: true });
  }
});

test('holdout leaves the calibration subset out, limit takes the first images left; modelName names the model', async () => {
  const f = fixture({ demo: false, weights: 'random-init', datasetPath: ['dist', 'datasets', 'imagenet-val', 'vastai', 'crop224'] });
  try {
    const { result, out, dir } = await evaluate(f, { holdout: true, limit: 4, modelName: 'dist/models/m' });
    const evaluated = [3, 4, 5, 6];
    assert.equal(result.model, 'dist/models/m');
    assert.equal(result.images, 4);
    assert.equal(result.top1, (100 * hits(f, evaluated, 1)) / 4);
    assert.equal(result.demoData, false);
    assert.equal(result.holdout, true);
    assert.equal(result.dataset!.name, 'imagenet-val', 'the project folder above the geometry (and vastai/) names the data');
    assert.equal(result.dataset!.prepared, 'crop224');
    assert.equal(result.dataset!.images, 4);
    assert.equal(result.dataset!.total, COUNT);
    assert.equal(result.dataset!.demo, false);
    assert.deepEqual(result.calibration, { source: 'dataset', images: 3, overlap: 0 });
    const csv = fs.readFileSync(path.join(dir, 'predictions.csv'), 'utf8').trimEnd().split('\n');
    assert.deepEqual(csv.slice(1).map((l) => l.split(',')[0]), evaluated.map((i) => `"${f.files[i]}"`));
    assert.equal(
      out,
      `0 of the 3 images of the dataset's calibration subset are among the 4 evaluated (holdout)\n` +
        `top-1 ${result.top1.toFixed(2)}%  top-5 ${result.top5.toFixed(2)}%  on 4 images [random-init weights]\n`,
    );
    // holdout alone: every image outside the subset; limit alone: the first images of the datalist
    assert.deepEqual((await evaluate(f, { holdout: true })).result.dataset!.images, 5);
    const limited = await evaluate(f, { limit: 2 });
    assert.equal(limited.result.images, 2);
    assert.equal(limited.result.holdout, false);
    assert.deepEqual(limited.result.calibration, { source: 'dataset', images: 3, overlap: 2 });
  } finally {
    fs.rmSync(f.root, { recursive: true, force: true });
  }
});

test("an int8 build's own calibration files (build.json) are what the overlap counts", async () => {
  const f = fixture({ demo: false, details: { calibration: { files: ['img_5.JPEG', 'img_7.JPEG', 'elsewhere.JPEG'] } } });
  try {
    const { result, out } = await evaluate(f, { limit: 6 });
    assert.deepEqual(result.calibration, { source: 'build', images: 3, overlap: 1 });
    // a prepared folder straight under the data folder: named by that folder
    assert.equal(result.dataset!.name, path.basename(f.root));
    assert.ok(out.startsWith('1 of the 3 images this int8 model was calibrated on are among the 6 evaluated\n'), out);
  } finally {
    fs.rmSync(f.root, { recursive: true, force: true });
  }
});

test('holdout over a dataset that is all calibration subset fails, naming the option and the fix', async () => {
  const f = fixture({ calibration: COUNT });
  try {
    await assert.rejects(
      captureStdout(() => evaluateModel({ model: f.model, dataset: f.dataset, batch: 2, threads: 1, holdout: true, outputPath: path.join(f.root, 'o') })),
      (e: Error) =>
        e.name === 'UserError' &&
        e.message ===
          `vamp-eval: option holdout leaves no image to evaluate: all 8 images of ${f.dataset} are in its calibration subset; prepare more images or a smaller calibrationSize`,
    );
    assert.deepEqual(openFilesUnder(f.dataset), []);
    assert.equal(fs.existsSync(path.join(f.root, 'o')), false);
  } finally {
    fs.rmSync(f.root, { recursive: true, force: true });
  }
});

test('the reference gate: within tolerance passes (boundary included), outside on top-1 or top-5 fails naming both', async () => {
  const f = fixture();
  try {
    const all = f.labels.map((_, i) => i);
    const top1 = (100 * hits(f, all, 1)) / COUNT;
    const top5 = (100 * hits(f, all, 5)) / COUNT;
    const pass = async (reference: { top1: number; top5: number; tolerance: number }) => {
      const { result, dir } = await evaluate(f, { reference });
      assert.deepEqual(result.reference, { ...reference, passed: true });
      assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'eval.json'), 'utf8')).reference, { ...reference, passed: true });
    };
    await pass({ top1, top5, tolerance: 0 });
    await pass({ top1: top1 + 2.5, top5: top5 - 2.5, tolerance: 2.5 }); // exactly at the tolerance, both sides
    await pass({ top1: top1 - 2.5, top5: top5 + 2.5, tolerance: 2.5 });
    const fail = async (reference: { top1: number; top5: number; tolerance: number }) => {
      const outputPath = path.join(f.root, `gate-${Math.random().toString(16).slice(2)}`);
      await assert.rejects(
        captureStdout(() => evaluateModel({ model: f.model, dataset: f.dataset, batch: 3, threads: 1, reference, outputPath })),
        (e: Error) =>
          e.name === 'UserError' &&
          e.message ===
            `accuracy gate failed: top-1 ${top1.toFixed(2)} / top-5 ${top5.toFixed(2)} vs reference ${reference.top1} / ${reference.top5} (tolerance ${reference.tolerance} points)`,
      );
      // the figures are still written (the gate is checked after), with passed: false
      const json = JSON.parse(fs.readFileSync(path.join(outputPath, 'eval.json'), 'utf8')) as EvalResult;
      assert.deepEqual(json.reference, { ...reference, passed: false });
      assert.deepEqual(openFilesUnder(f.dataset), []);
    };
    await fail({ top1: top1 + 2.75, top5, tolerance: 2.5 }); // top-1 too low
    await fail({ top1: top1 - 2.75, top5, tolerance: 2.5 }); // top-1 too high
    await fail({ top1, top5: top5 + 2.75, tolerance: 2.5 }); // top-5 only
    await fail({ top1, top5: top5 - 2.75, tolerance: 2.5 });
  } finally {
    fs.rmSync(f.root, { recursive: true, force: true });
  }
});

test('build.json, the model bytes and the dataset shards are checked, naming the producer that makes them again', async () => {
  const f = fixture();
  const run = (o: Partial<EvaluateOptions> = {}) =>
    captureStdout(() => evaluateModel({ model: f.model, dataset: f.dataset, batch: 3, threads: 1, outputPath: path.join(f.root, 'o'), ...o }));
  try {
    // no build.json: the option is named
    const missing = path.join(f.root, 'nothing');
    await assert.rejects(run({ model: missing }), (e: Error) =>
      e.message.startsWith(`vamp-eval option model: cannot read ${path.join(missing, 'build.json')}: ENOENT`),
    );
    // a shard changed after dataset-prep: found before its images are used
    const shard = path.join(f.dataset, f.manifest.shards[1]!.file);
    const good = fs.readFileSync(shard);
    const bad = Buffer.from(good);
    bad[0] = bad[0]! ^ 1;
    fs.writeFileSync(shard, bad);
    await assert.rejects(run({ producers: { dataset: 'imagenet:prep' } }), (e: Error) =>
      e.message.startsWith(`dataset shard ${shard} does not match the sha256`) && e.message.endsWith('Make it again: npx nx run imagenet:prep --skip-nx-cache'),
    );
    assert.deepEqual(openFilesUnder(f.dataset), [], 'closed after a failed run too');
    fs.writeFileSync(shard, good);
    // the model's bytes against build.json's sha256
    const model = path.join(f.model, 'm.onnx');
    fs.appendFileSync(model, Buffer.from([0]));
    await assert.rejects(run({ producers: { model: 'mnv2:build' } }), (e: Error) =>
      e.message.startsWith(`built model ${model} does not match the sha256`) && e.message.endsWith('Make it again: npx nx run mnv2:build --skip-nx-cache'),
    );
    await assert.rejects(run(), (e: Error) => e.message.startsWith(`built model ${model} does not match`) && e.message.endsWith('on the task that wrote it.'));
  } finally {
    fs.rmSync(f.root, { recursive: true, force: true });
  }
});

test('evalProvenance: fingerprint over shard hashes and the evaluated list, dataset name, calibration source', () => {
  const entries = [
    { file: 'a.JPEG', label: 1 },
    { file: 'b.JPEG', label: 0 },
    { file: 'c.JPEG', label: 1 },
  ];
  const manifest = { demo: false, shards: [{ sha256: 'aa' }, { sha256: 'bb' }] } as unknown as DatasetManifest;
  const ds = { entries, manifest };
  const p = evalProvenance('/data/dist/datasets/val/vastai/g224', ds, [2, 0], true, { details: {} }, [1, 2]);
  assert.deepEqual(p, {
    dataset: { name: 'val', prepared: 'g224', images: 2, total: 3, fingerprint: sha('aa\nbb\n' + sha('c.JPEG 1\na.JPEG 1\n')), demo: false },
    holdout: true,
    calibration: { source: 'dataset', images: 2, overlap: 1 },
  });
  // another label for one evaluated image changes the fingerprint; the order of evaluation counts too
  const relabelled = evalProvenance('/x/val/g', { entries: entries.map((e, i) => (i === 0 ? { ...e, label: 2 } : e)), manifest }, [2, 0], false, { details: {} }, []);
  assert.notEqual(relabelled.dataset.fingerprint, p.dataset.fingerprint);
  assert.equal(relabelled.dataset.name, 'val');
  // files in build.json win over the dataset subset, even an empty list; anything else is ignored
  assert.deepEqual(evalProvenance('/x/v/g', ds, [0, 1, 2], false, { details: { calibration: { files: [] } } }, [0, 1]).calibration, {
    source: 'build',
    images: 0,
    overlap: 0,
  });
  assert.deepEqual(evalProvenance('/x/v/g', ds, [0, 1], false, { details: { calibration: { files: 'b.JPEG' } } }, [2]).calibration, {
    source: 'dataset',
    images: 1,
    overlap: 0,
  });
  assert.deepEqual(evalProvenance('/x/v/g', ds, [0], false, { details: { calibration: 3 } }, [0]).calibration, { source: 'dataset', images: 1, overlap: 1 });
  // a relative folder is resolved against the working directory; 'vastai' anywhere is skipped
  assert.equal(evalProvenance('g', ds, [0], false, { details: {} }, []).dataset.name, path.basename(process.cwd()));
  // a demo set is 'demo' wherever it lies
  assert.equal(evalProvenance('/x/v/g', { entries, manifest: { ...manifest, demo: true } }, [0], false, { details: {} }, []).dataset.name, 'demo');
});

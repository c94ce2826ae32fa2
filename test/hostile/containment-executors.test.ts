import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import datasetPrep from '../../plugins/modelzoo/src/executors/dataset-prep/executor';
import onnxExport from '../../plugins/modelzoo/src/executors/onnx-export/executor';
import vamcBuild from '../../plugins/modelzoo/src/executors/vamc-build/executor';
import vampBench from '../../plugins/modelzoo/src/executors/vamp-bench/executor';
import vampEval from '../../plugins/modelzoo/src/executors/vamp-eval/executor';
import report from '../../plugins/modelzoo/src/executors/report/executor';
import { withAtomicDir } from '../../plugins/modelzoo/src/lib/common/atomic';
import { OUTPUT_MARKER, runInOutputScope } from '../../plugins/modelzoo/src/lib/common/containment';
import { captureStderr, executorContext } from '../helpers/executor-context';
import { REPO_ROOT } from '../helpers/shared';

// Every executor's outputs, checked through direct executor calls (the same runStage Nx calls):
// refusals touch nothing, name the path and the fix, and print no stack trace.
let root: string;
let outside: string;
const ctx = (target: string) => executorContext(root, target);
const STACK = /^\s+at .+:\d+:\d+\)?$/m;

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-exec-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-exec-outside-'));
  fs.writeFileSync(path.join(outside, 'precious.txt'), 'not yours');
  fs.cpSync(path.join(REPO_ROOT, 'data', 'demo'), path.join(root, 'data', 'demo'), { recursive: true });
  await ok(onnxExport({ variant: 't', preprocess: 'torchvision', width: 0.25, classes: 1000, outputPath: 'dist/export' } as any, ctx('onnx-export')));
  await ok(datasetPrep({ preprocess: 'torchvision', limit: 6, calibrationSize: 4, outputPath: 'dist/ds' } as any, ctx('dataset-prep')));
  await ok(vamcBuild({ model: 'dist/export', dataset: 'dist/ds', preprocess: 'torchvision', outputPath: 'dist/build' } as any, ctx('vamc-build')));
});

after(() => {
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

async function ok(p: Promise<{ success: boolean }>): Promise<void> {
  let r: { success: boolean } | undefined;
  const err = await captureStderr(async () => (r = await p));
  assert.equal(r?.success, true, err);
}

/** .modelzoo (the fingerprint index, a cache whose entries every dataset read touches) is left out. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (r === '.modelzoo') continue;
      if (e.isDirectory()) walk(r);
      else if (e.isSymbolicLink()) out.set(r, 'link:' + fs.readlinkSync(path.join(dir, r)));
      else out.set(r, createHash('sha256').update(fs.readFileSync(path.join(dir, r))).digest('hex') + ':' + fs.statSync(path.join(dir, r)).mtimeMs);
    }
  };
  walk('');
  return out;
}

/** Runs an executor that must fail; returns its message after checking that nothing changed. */
async function refused(run: () => Promise<{ success: boolean }>, expect: RegExp): Promise<string> {
  const before = snapshot(root);
  const outsideBefore = snapshot(outside);
  let r: { success: boolean } | undefined;
  const err = await captureStderr(async () => (r = await run()));
  assert.equal(r?.success, false, err);
  assert.match(err, expect);
  assert.doesNotMatch(err, STACK, 'no stack trace');
  assert.deepEqual(snapshot(root), before, 'nothing in the workspace changed');
  assert.deepEqual(snapshot(outside), outsideBefore, 'nothing outside changed');
  return err;
}

test('every executor refuses the root, an outside directory, .. and an ancestor of the workspace folders', async () => {
  const stages: [string, (out: string) => Promise<{ success: boolean }>][] = [
    ['onnx-export', (out) => onnxExport({ variant: 't', preprocess: 'torchvision', width: 0.25, outputPath: out } as any, ctx('onnx-export'))],
    ['dataset-prep', (out) => datasetPrep({ preprocess: 'torchvision', limit: 2, outputPath: out } as any, ctx('dataset-prep'))],
    ['vamc-build', (out) => vamcBuild({ model: 'dist/export', dataset: 'dist/ds', preprocess: 'torchvision', outputPath: out } as any, ctx('vamc-build'))],
    ['vamp-bench', (out) => vampBench({ models: ['dist/build'], batch: [1], reps: 1, iterations: 1, warmup: 0, outputPath: out } as any, ctx('vamp-bench'))],
    ['vamp-eval', (out) => vampEval({ model: 'dist/build', dataset: 'dist/ds', outputPath: out } as any, ctx('vamp-eval'))],
    ['report', (out) => report({ outputPath: out } as any, ctx('report'))],
  ];
  for (const [, run] of stages) {
    await refused(() => run('.'), /is the workspace root/);
    await refused(() => run(outside), /lies outside the workspace/);
    await refused(() => run('..'), /lies outside the workspace/);
    await refused(() => run('data'), /\/data (is the workspace's data\/ folder|contains the task's input)/);
    await refused(() => run('node_modules/x'), /lies inside the workspace's node_modules\/ folder/);
  }
});

test('an output equal to, inside or above an input of the task is refused', async () => {
  const build = (out: string) => vamcBuild({ model: 'dist/export', dataset: 'dist/ds', preprocess: 'torchvision', outputPath: out } as any, ctx('vamc-build'));
  await refused(() => build('dist/export'), /dist\/export is the task's input \(option 'model'\)/);
  await refused(() => build('dist/ds/sub'), /lies inside the task's input \(option 'dataset'\)/);
  await refused(() => build('dist'), /contains the task's input/);
  await refused(
    () => vampEval({ model: 'dist/build', dataset: 'dist/ds', outputPath: 'dist/ds' } as any, ctx('vamp-eval')),
    /is the task's input \(option 'dataset'\)/,
  );
  await refused(
    () => datasetPrep({ preprocess: 'torchvision', imagesDir: 'dist/export', labelsFile: 'data/demo/val_label.txt', outputPath: 'dist/export/x' } as any, ctx('dataset-prep')),
    /lies inside the task's input \(image folder\)/,
  );
  await refused(() => onnxExport({ source: 'onnx', file: 'dist/build/model.onnx', variant: 't', preprocess: 'torchvision', outputPath: 'dist/build' } as any, ctx('onnx-export')), /contains the task's input \(option 'file'\)/);
  await refused(() => report({ outputPath: 'dist/export' } as any, ctx('report')), /written by the onnx-export executor, not report/);
});

test('symlinks cannot lead a write out: a link to outside, a dangling link, a link loop', async () => {
  fs.symlinkSync(outside, path.join(root, 'dist', 'out-link'));
  fs.symlinkSync('/nonexistent/modelzoo', path.join(root, 'dist', 'dangling'));
  fs.symlinkSync('loop-b', path.join(root, 'dist', 'loop-a'));
  fs.symlinkSync('loop-a', path.join(root, 'dist', 'loop-b'));
  const run = (out: string) => onnxExport({ variant: 't', preprocess: 'torchvision', width: 0.25, outputPath: out } as any, ctx('onnx-export'));
  try {
    await refused(() => run('dist/out-link'), /dist\/out-link is a symbolic link; outputs are never written through one/);
    fs.symlinkSync('export', path.join(root, 'dist', 'in-link'));
    await refused(() => run('dist/in-link'), /is a symbolic link; outputs are never written through one/);
    fs.unlinkSync(path.join(root, 'dist', 'in-link'));
    await refused(() => run('dist/out-link/deeper/still'), /lies outside the workspace/);
    await refused(() => run('dist/dangling'), /is a symbolic link; outputs are never written through one/);
    await refused(() => run('dist/dangling/sub'), /dangling is a symbolic link to a path that does not exist/);
    await refused(() => run('dist/loop-a/x'), /symbolic link loop/);
  } finally {
    for (const l of ['out-link', 'dangling', 'loop-a', 'loop-b']) fs.unlinkSync(path.join(root, 'dist', l));
  }
});

test('an existing directory is replaced only with the same executor\'s marker; empty ones are taken, files never', async () => {
  const run = (out: string) => onnxExport({ variant: 't', preprocess: 'torchvision', width: 0.25, outputPath: out } as any, ctx('onnx-export'));
  fs.mkdirSync(path.join(root, 'dist', 'users'), { recursive: true });
  fs.writeFileSync(path.join(root, 'dist', 'users', 'thesis.tex'), 'years of work');
  await refused(() => run('dist/users'), /dist\/users exists and has no \.modelzoo-output\.json marker.*choose another outputPath.*or remove it yourself/);
  // A marker of the right shape from another stage is not enough.
  await refused(
    () => datasetPrep({ preprocess: 'torchvision', limit: 2, outputPath: 'dist/export' } as any, ctx('dataset-prep')),
    /written by the onnx-export executor, not dataset-prep/,
  );
  fs.writeFileSync(path.join(root, 'dist', 'a-file'), 'x');
  await refused(() => run('dist/a-file'), /exists and is not a directory/);
  fs.rmSync(path.join(root, 'dist', 'users'), { recursive: true });
  fs.rmSync(path.join(root, 'dist', 'a-file'));

  fs.mkdirSync(path.join(root, 'dist', 'empty'));
  await ok(run('dist/empty'));
  const first = fs.readFileSync(path.join(root, 'dist', 'empty', 'model-card.json'), 'utf8');
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(root, 'dist', 'empty', OUTPUT_MARKER), 'utf8')), {
    writtenBy: '@modelzoo/nx-plugin',
    executor: 'onnx-export',
  });
  await ok(onnxExport({ variant: 't', preprocess: 'torchvision', width: 0.5, outputPath: 'dist/empty' } as any, ctx('onnx-export')));
  assert.notEqual(fs.readFileSync(path.join(root, 'dist', 'empty', 'model-card.json'), 'utf8'), first, 'replaced by its own executor');
  assert.deepEqual(fs.readdirSync(path.join(root, 'dist')).filter((n) => n.startsWith('empty')), ['empty'], 'no temp or lock left');
});

test('inside an executor, a write to a path it did not declare is an internal error, not a silent write', async () => {
  const target = path.join(root, 'dist', 'undeclared');
  await assert.rejects(
    runInOutputScope('onnx-export', () => withAtomicDir(target, async () => undefined)),
    /did not declare as an output/,
  );
  assert.equal(fs.existsSync(target), false);
});

test('a dangling symlink in the images folder: a clear message naming it, no stack, no output', async () => {
  const images = fs.mkdtempSync(path.join(root, 'imgs-'));
  fs.cpSync(path.join(root, 'data', 'demo'), images, { recursive: true });
  const first = fs.readFileSync(path.join(images, 'val_label.txt'), 'utf8').split('\n')[0]!.split(' ')[0]!;
  fs.rmSync(path.join(images, first));
  fs.symlinkSync('/nonexistent/image.jpg', path.join(images, first));
  const err = await refused(
    () => datasetPrep({ preprocess: 'torchvision', imagesDir: images, outputPath: 'dist/ds-dangling' } as any, ctx('dataset-prep')),
    new RegExp(`${first.replace(".", "\\.")}: it is a symbolic link to a path that does not exist .*fix or remove the link`),
  );
  assert.doesNotMatch(err, /MODELZOO_DEBUG/);
  fs.rmSync(images, { recursive: true });
});

test('an unknown exclude_layers node: a clear message with the fix, no stack, no output', async () => {
  await refused(
    () =>
      vamcBuild(
        { model: 'dist/export', dataset: 'dist/ds', preprocess: 'torchvision', precision: 'int8', quantization: { exclude_layers: ['no_such_node'], calibration_count: 4 }, outputPath: 'dist/build-int8' } as any,
        ctx('vamc-build'),
      ),
    /exclude_layers: the model has no node named 'no_such_node' \(nodes are named like .*\): fix the name or remove it/,
  );
});

test('a label file that is not one (--labelsFile=/etc/passwd) is refused without echoing its content', async () => {
  const passwd = path.join(outside, 'passwd');
  fs.writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n');
  const err = await refused(
    () => datasetPrep({ preprocess: 'torchvision', labelsFile: passwd, outputPath: 'dist/ds-passwd' } as any, ctx('dataset-prep')),
    new RegExp(`${passwd}:1: expected 'FILE INDEX'.*is option 'labelsFile' the right file\\?`),
  );
  assert.doesNotMatch(err, /root:x|\/bin\/bash|daemon/);
  // A line that ends in a number but holds a long secret-looking name: bounded, never echoed whole.
  fs.writeFileSync(passwd, `${'s3cr3t'.repeat(40)}\x1b[2J 5000\n`);
  const err2 = await refused(
    () => datasetPrep({ preprocess: 'torchvision', labelsFile: passwd, outputPath: 'dist/ds-passwd' } as any, ctx('dataset-prep')),
    /:1: class index 5000 out of range/,
  );
  assert.ok(!err2.includes('s3cr3t'.repeat(20)), 'the name is cut short');
  assert.ok(!err2.includes('\x1b'), 'control characters are not echoed');
});

test('two spellings of one file in a label list are one duplicate, reported with both line numbers', async () => {
  const images = fs.mkdtempSync(path.join(root, 'imgs-'));
  fs.cpSync(path.join(root, 'data', 'demo'), images, { recursive: true });
  const [a, b] = fs.readFileSync(path.join(images, 'val_label.txt'), 'utf8').split('\n');
  const [file, label] = a!.split(' ');
  for (const spelling of [`./${file}`, `sub/../${file}`, `.//${file}`]) {
    fs.writeFileSync(path.join(images, 'val_label.txt'), `${a}\n${b}\n${spelling} ${label}\n`);
    await refused(
      () => datasetPrep({ preprocess: 'torchvision', imagesDir: images, outputPath: 'dist/ds-dup' } as any, ctx('dataset-prep')),
      new RegExp(`val_label\\.txt:3: '${spelling.replace(/\./g, '\\.')}' \\(the same file as '${file!.replace('.', '\\.')}'\\) already listed on line 1`),
    );
  }
  fs.writeFileSync(path.join(images, 'val_label.txt'), `sub/../../${file} ${label}\n`);
  await refused(
    () => datasetPrep({ preprocess: 'torchvision', imagesDir: images, outputPath: 'dist/ds-dup' } as any, ctx('dataset-prep')),
    /:1: .* must be a relative path inside the images folder/,
  );
  fs.rmSync(images, { recursive: true });
});

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/shared';
import { type TempWorkspace, createTempWorkspace, taskRuns } from '../helpers/temp-workspace';

// The data-loss probes, through the real `nx` command line: each hostile outputPath is refused
// with a clear message and a non-zero exit, nothing in the workspace (or outside it) changes, and the
// Nx cache holds no entry for the failed task.
let ws: TempWorkspace;
let outside: string;
const TARGET = 'imagenet-val:dataset-prep-pil-bilinear';
const OUT = 'dist/datasets/imagenet-val/pil-bilinear';

before(() => {
  ws = createTempWorkspace('hostile-nx');
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-outside-'));
  fs.writeFileSync(path.join(outside, 'precious.txt'), 'not yours');
  // The tracked demo images, as in a checkout: the default dataset when none is configured.
  fs.cpSync(path.join(REPO_ROOT, 'data', 'demo'), path.join(ws.root, 'data', 'demo'), { recursive: true });
  fs.mkdirSync(path.join(ws.root, '.git'));
  fs.writeFileSync(path.join(ws.root, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  ws.writeJson('models/datasets/imagenet-val/project.json', {
    name: 'imagenet-val',
    targets: {
      'dataset-prep-pil-bilinear': {
        executor: '@modelzoo/nx-plugin:dataset-prep',
        options: { preprocess: 'torchvision', classes: 1000, calibrationSize: 4, shardSize: 8, limit: 8, outputPath: OUT },
      },
    },
  });
});

after(() => {
  fs.rmSync(ws.root, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

/** Every file under `dir` (not following symlinks) with its content hash; `skip` names top-level entries left out. */
// Callers skip .nx and .modelzoo: Nx's and the fingerprint index's own caches, written by every run.
function snapshot(dir: string, skip: string[] = []): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (rel === '' && skip.includes(e.name)) continue;
      if (e.isDirectory()) walk(r);
      else if (e.isSymbolicLink()) out.set(r, 'link:' + fs.readlinkSync(path.join(dir, r)));
      else out.set(r, createHash('sha256').update(fs.readFileSync(path.join(dir, r))).digest('hex'));
    }
  };
  walk('');
  return out;
}

function freshCache(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-nx-cache-'));
}

/** Cache entries Nx stored (one folder per task hash; Nx's own bookkeeping files are not entries). */
function cacheEntries(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => /^\d+$/.test(n) && fs.statSync(path.join(dir, n)).isDirectory()) : [];
}

function refused(outputPath: string, expect: RegExp): void {
  const cache = freshCache();
  const before = snapshot(ws.root, ['.nx', '.modelzoo', 'node_modules']);
  const outsideBefore = snapshot(outside);
  const r = ws.nx(['run', TARGET, `--outputPath=${outputPath}`], { NX_CACHE_DIRECTORY: cache });
  assert.notEqual(r.status, 0, r.output);
  assert.match(r.output, expect);
  assert.doesNotMatch(r.output, /^\s+at .+:\d+:\d+\)?$/m, 'no stack trace');
  assert.deepEqual(snapshot(ws.root, ['.nx', '.modelzoo', 'node_modules']), before, 'the workspace is unchanged');
  assert.deepEqual(snapshot(outside), outsideBefore, 'the folder outside is unchanged');
  assert.deepEqual(cacheEntries(cache), [], 'the failed task left no cache entry');
  fs.rmSync(cache, { recursive: true, force: true });
}

test('--outputPath=. is refused: the workspace root, .git included, is untouched', () => {
  refused('.', /is the workspace root/);
});

test('--outputPath=data/demo is refused: it is the task\'s input (the tracked demo images)', () => {
  refused('data/demo', /data\/demo.* is the task's input \(image folder\)/);
});

test('an absolute directory outside the workspace is refused and keeps its files', () => {
  refused(outside, /lies outside the workspace/);
});

test('--outputPath=.. is refused', () => {
  refused('..', /lies outside the workspace/);
});

test('a symlink inside the workspace pointing outside is refused', () => {
  fs.mkdirSync(path.join(ws.root, 'dist'), { recursive: true });
  fs.symlinkSync(outside, path.join(ws.root, 'dist', 'escape'));
  try {
    refused('dist/escape', /dist\/escape is a symbolic link; outputs are never written through one/);
    refused('dist/escape/sub', /lies outside the workspace/);
  } finally {
    fs.unlinkSync(path.join(ws.root, 'dist', 'escape'));
  }
});

test('a folder of the workspace (models/) or a directory the plugin did not make is refused', () => {
  refused('models', /is the workspace's models\/ folder|contains/);
  fs.mkdirSync(path.join(ws.root, 'dist', 'mine'), { recursive: true });
  fs.writeFileSync(path.join(ws.root, 'dist', 'mine', 'notes.txt'), 'mine');
  try {
    refused('dist/mine', /has no \.modelzoo-output\.json marker.*remove it yourself/);
  } finally {
    fs.rmSync(path.join(ws.root, 'dist', 'mine'), { recursive: true });
  }
});

test('a marked output is replaced by its own executor, and a cache restore brings the marker back', () => {
  const cache = freshCache();
  const env = { NX_CACHE_DIRECTORY: cache };
  const first = ws.nx(['run', TARGET], env);
  assert.equal(first.status, 0, first.output);
  const marker = path.join(ws.root, OUT, '.modelzoo-output.json');
  assert.deepEqual(JSON.parse(fs.readFileSync(marker, 'utf8')), { writtenBy: '@modelzoo/nx-plugin', executor: 'dataset-prep' });
  assert.equal(cacheEntries(cache).length, 1);
  // Nx restores the cached outputs, marker included: a later real run may replace them.
  fs.rmSync(path.join(ws.root, 'dist'), { recursive: true });
  const restored = ws.nx(['run', TARGET], env);
  assert.equal(restored.status, 0, restored.output);
  assert.equal(taskRuns(restored.output).get(TARGET), 'cache', restored.output);
  assert.ok(fs.existsSync(marker), 'the restored output carries the marker');
  const rerun = ws.nx(['run', TARGET, '--skip-nx-cache'], env);
  assert.equal(rerun.status, 0, rerun.output);
  assert.equal(taskRuns(rerun.output).get(TARGET), 'ran');
  assert.deepEqual(fs.readdirSync(path.dirname(path.join(ws.root, OUT))), ['pil-bilinear'], 'no temp or lock file left beside the output');
  fs.rmSync(cache, { recursive: true, force: true });
});

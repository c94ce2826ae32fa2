import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { type VariantSpec, variantProject } from '../../plugins/modelzoo/src/lib/nx/variant-project';
import { REPO_ROOT } from '../helpers/shared';
import { type TempWorkspace, createTempWorkspace, taskRuns, writeImageFolder } from '../helpers/temp-workspace';

// onnx-export source 'checkpoint' through real nx in a temp workspace: a fixture torchvision checkpoint
// (made by Debian's torch with tools/fixtures/make_checkpoints.py) through vamp-eval, cache invalidation
// when the checkpoint file changes (inside the workspace and gitignored, and outside it), a URL served
// by a local HTTP server (never the internet) behind the `pretrained` configuration, and clear failures
// for a hostile pickle, a missing file, a bad checksum and an unreachable host.

const PY = '/usr/bin/python3';
const hasTorch = fs.existsSync(PY) && spawnSync(PY, ['-c', 'import torch, torchvision, numpy'], { stdio: 'ignore' }).status === 0;
const skip: string | false = hasTorch ? false : `${PY} lacks torch/torchvision/numpy (fixture checkpoints cannot be made)`;

let ws: TempWorkspace;
let images = '';
let fixtures = '';
let cacheDir = '';
let outside = '';
let server: http.Server | undefined;
let port = 0;
const served: string[] = [];
const ckpt: Record<'a' | 'b', string> = { a: '', b: '' };
const sha: Record<'a' | 'b', string> = { a: '', b: '' };
// Frozen: an unpinned URL is refused here (pin on first use is tested in test/unit/weights-lock.test.ts).
const env = () => ({ MODELZOO_IMAGENET_VAL: images, MODELZOO_CACHE_DIR: cacheDir, MODELZOO_WEIGHTS_FROZEN: '1' });
const hostile = Buffer.from('\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03.', 'latin1');

/** Real nx, asynchronously: the HTTP server lives in this process, so spawnSync would starve it. */
function nxAsync(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<{ status: number; output: string }> {
  const child = ws.nxSpawn(args, { ...env(), ...extra });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ status: code ?? 1, output })));
}

function makeFixture(seed: number, dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'in.f32'), Buffer.alloc(3 * 32 * 32 * 4));
  const r = spawnSync(PY, [path.join(REPO_ROOT, 'tools', 'fixtures', 'make_checkpoints.py'), '--out', dir, '--inputs', path.join(dir, 'in.f32'),
    '--count', '1', '--size', '32', '--only', 'torchvision-x0.5', '--seed', String(seed)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return path.join(dir, 'torchvision-x0.5.pth');
}

const sha256 = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

function addVariant(row: string, extra: Partial<VariantSpec>) {
  const root = `models/mobilenetv2/${row}`;
  const p = variantProject({ model: 'mobilenetv2', row, preprocess: 'torchvision', width: 0.5, classes: 10, ...extra }, root) as any;
  // fp32 only: the int8 stages add nothing to what is tested here.
  p.targets['vamp-eval'].dependsOn = p.targets['vamp-eval'].dependsOn.filter((d: unknown) => d !== 'vamp-eval-int8');
  Object.assign(p.targets['vamp-eval'].options, { batch: 4, threads: 1 });
  delete p.root;
  ws.writeJson(`${root}/project.json`, p);
  return p;
}

before(async () => {
  if (!hasTorch) return;
  fixtures = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-ckpt-fixtures-'));
  ckpt.a = makeFixture(0, path.join(fixtures, 'a'));
  ckpt.b = makeFixture(1, path.join(fixtures, 'b'));
  sha.a = sha256(ckpt.a);
  sha.b = sha256(ckpt.b);
  assert.notEqual(sha.a, sha.b);
  cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-weights-cache-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-outside-'));
  fs.copyFileSync(ckpt.a, path.join(outside, 'ext.pth'));
  images = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-ckpt-images-'));
  await writeImageFolder(images, 8, 10);

  server = http.createServer((req, res) => {
    served.push(req.url ?? '');
    const file = req.url === '/weights/mobilenet_v2-x0.5.pth' || req.url === '/unpublished/mobilenet_v2-x0.5.pth' ? ckpt.a : undefined;
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    const data = fs.readFileSync(file);
    res.writeHead(200, { 'content-length': data.length }).end(data);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;

  ws = createTempWorkspace('nx-ckpt');
  // Checkpoints are big binaries, usually gitignored: Nx's file hashing would skip them.
  fs.appendFileSync(path.join(ws.root, '.gitignore'), 'weights/\n');
  fs.mkdirSync(path.join(ws.root, 'weights'));
  fs.copyFileSync(ckpt.a, path.join(ws.root, 'weights', 'ck.pth'));
  fs.writeFileSync(path.join(ws.root, 'weights', 'evil.pth'), hostile);
  ws.writeJson('models/datasets/imagenet-val/project.json', {
    name: 'imagenet-val',
    targets: {
      'dataset-prep-pil-bilinear': {
        executor: '@modelzoo/nx-plugin:dataset-prep',
        options: { preprocess: 'torchvision', classes: 10, calibrationSize: 8, shardSize: 4, outputPath: 'dist/datasets/imagenet-val/pil-bilinear' },
      },
    },
  });
  const ck = addVariant('ck', { checkpoint: { weights: 'weights/ck.pth' } });
  assert.deepEqual(ck.targets['onnx-export'].inputs, ['plugin', { runtime: 'node tools/fingerprint.mjs weights weights/ck.pth' }]);
  addVariant('ext', { checkpoint: { weights: path.join(outside, 'ext.pth'), format: 'torchvision' } });
  addVariant('evil', { checkpoint: { weights: 'weights/evil.pth' } });
  addVariant('missing', { checkpoint: { weights: 'weights/nope.pth' } });
  const url = `http://127.0.0.1:${port}/weights/mobilenet_v2-x0.5.pth`;
  const pre = addVariant('hub', { pretrained: { url, sha256: sha.a, format: 'torchvision' } });
  assert.equal(pre.targets['onnx-export'].options.source, 'builtin');
  assert.deepEqual(pre.targets['onnx-export'].configurations.pretrained, { source: 'checkpoint', weights: { url, sha256: sha.a }, format: 'torchvision' });
  addVariant('badsum', { checkpoint: { weights: { url, sha256: 'deadbeef' + '0'.repeat(56) } } });
  addVariant('offline', { checkpoint: { weights: { url: 'http://127.0.0.1:1/mobilenet_v2.pth', sha256: sha.a } } });
  addVariant('unpinned', { checkpoint: { weights: { url } as any } });
  // A row whose publisher gives no checksum, declared the short way (targets inferred by the plugin).
  ws.writeJson('models/mobilenetv2/pin/project.json', {
    name: 'mobilenetv2-pin',
    metadata: { modelzoo: { variant: { model: 'mobilenetv2', row: 'pin', preprocess: 'torchvision', width: 0.5, classes: 10,
      pretrained: { url: `http://127.0.0.1:${port}/unpublished/mobilenet_v2-x0.5.pth`, sha256: null, format: 'torchvision' } } } },
  });
});

after(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  for (const d of [ws?.root, images, fixtures, cacheDir, outside]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

test('a checkpoint variant runs through vamp-eval with the checkpoint as its weights', { skip, timeout: 300_000 }, async () => {
  const r = await nxAsync(['run', 'mobilenetv2-ck:vamp-eval']);
  assert.equal(r.status, 0, r.output);
  const runs = taskRuns(r.output);
  for (const t of ['onnx-export', 'vamc-build', 'vamp-eval']) assert.equal(runs.get(`mobilenetv2-ck:${t}`), 'ran', `${t}\n${r.output}`);
  const card = ws.readJson('dist/models/mobilenetv2/ck/export/model-card.json');
  assert.equal(card.source, 'checkpoint');
  assert.equal(card.weights, `ck.pth sha256:${sha.a.slice(0, 12)}`);
  assert.notEqual(card.weights, 'random-init');
  assert.equal(card.details.checkpoint.sha256, sha.a);
  assert.equal(card.details.checkpoint.format, 'torchvision');
  assert.equal(card.details.exporter, 'native');
  assert.equal(card.classes, 10);
  // torchvision counts BN gamma/beta but not running stats: the graph count is the library's count.
  assert.equal(card.libraryParams, card.params);
  assert.equal(card.libraryMacs, card.macs);
  assert.match(card.countConvention, /parameters\(\)/);
  const ev = ws.readJson('dist/models/mobilenetv2/ck/eval/eval.json');
  assert.equal(ev.weights, card.weights);
  assert.equal(ev.images, 8);
  assert.match(r.output, /weights ck\.pth sha256:/);
});

test('a second run is all cache hits', { skip, timeout: 300_000 }, async () => {
  const r = await nxAsync(['run', 'mobilenetv2-ck:vamp-eval']);
  assert.equal(r.status, 0, r.output);
  const runs = taskRuns(r.output);
  assert.ok(runs.size >= 4, r.output);
  for (const [t, how] of runs) assert.equal(how, 'cache', `${t} was not a cache hit\n${r.output}`);
});

test('changing the (gitignored) checkpoint file reruns export and everything downstream, not the dataset', { skip, timeout: 300_000 }, async () => {
  fs.copyFileSync(ckpt.b, path.join(ws.root, 'weights', 'ck.pth'));
  const r = await nxAsync(['run', 'mobilenetv2-ck:vamp-eval']);
  assert.equal(r.status, 0, r.output);
  const runs = taskRuns(r.output);
  for (const t of ['onnx-export', 'vamc-build', 'vamp-eval']) assert.equal(runs.get(`mobilenetv2-ck:${t}`), 'ran', `${t}\n${r.output}`);
  assert.equal(runs.get('imagenet-val:dataset-prep-pil-bilinear'), 'cache');
  const card = ws.readJson('dist/models/mobilenetv2/ck/export/model-card.json');
  assert.equal(card.details.checkpoint.sha256, sha.b);
  assert.equal(ws.readJson('dist/models/mobilenetv2/ck/eval/eval.json').weights, `ck.pth sha256:${sha.b.slice(0, 12)}`);
});

test('a checkpoint outside the workspace is fingerprinted: changing it reruns export', { skip, timeout: 300_000 }, async () => {
  const first = await nxAsync(['run', 'mobilenetv2-ext:onnx-export']);
  assert.equal(first.status, 0, first.output);
  assert.equal(taskRuns(first.output).get('mobilenetv2-ext:onnx-export'), 'ran');
  const again = await nxAsync(['run', 'mobilenetv2-ext:onnx-export']);
  assert.equal(taskRuns(again.output).get('mobilenetv2-ext:onnx-export'), 'cache', again.output);
  fs.copyFileSync(ckpt.b, path.join(outside, 'ext.pth'));
  const changed = await nxAsync(['run', 'mobilenetv2-ext:onnx-export']);
  assert.equal(changed.status, 0, changed.output);
  assert.equal(taskRuns(changed.output).get('mobilenetv2-ext:onnx-export'), 'ran', changed.output);
  assert.equal(ws.readJson('dist/models/mobilenetv2/ext/export/model-card.json').details.checkpoint.sha256, sha.b);
});

test("the 'pretrained' configuration downloads the pinned URL once; the default stays random-init", { skip, timeout: 300_000 }, async () => {
  const plain = await nxAsync(['run-many', '-t', 'vamp-eval', '-p', 'mobilenetv2-hub']);
  assert.equal(plain.status, 0, plain.output);
  assert.equal(ws.readJson('dist/models/mobilenetv2/hub/export/model-card.json').weights, 'random-init');
  assert.equal(served.length, 0);

  const r = await nxAsync(['run-many', '-t', 'vamp-eval', '-p', 'mobilenetv2-hub', '-c', 'pretrained']);
  assert.equal(r.status, 0, r.output);
  const runs = taskRuns(r.output);
  // Nx runs the dependency with the same configuration: vamp-eval and vamc-build have none, onnx-export does.
  assert.match(r.output, /> nx run mobilenetv2-hub:onnx-export:pretrained\n/);
  assert.equal(runs.get('mobilenetv2-hub:onnx-export'), 'ran', r.output);
  for (const t of ['vamc-build', 'vamp-eval']) assert.equal(runs.get(`mobilenetv2-hub:${t}`), 'ran', `${t}\n${r.output}`);
  const card = ws.readJson('dist/models/mobilenetv2/hub/export/model-card.json');
  assert.equal(card.weights, `mobilenet_v2-x0.5.pth sha256:${sha.a.slice(0, 12)}`);
  assert.deepEqual(card.details.checkpoint.weights, { url: `http://127.0.0.1:${port}/weights/mobilenet_v2-x0.5.pth`, sha256: sha.a });
  assert.equal(ws.readJson('dist/models/mobilenetv2/hub/eval/eval.json').weights, card.weights);
  assert.deepEqual(served, ['/weights/mobilenet_v2-x0.5.pth']);
  assert.ok(fs.readdirSync(cacheDir).some((f) => f.endsWith('mobilenet_v2-x0.5.pth')));

  // Without Nx's cache the export reruns, but the file comes from the user cache: no second download.
  const fresh = await nxAsync(['run', 'mobilenetv2-hub:onnx-export:pretrained', '--skip-nx-cache']);
  assert.equal(fresh.status, 0, fresh.output);
  assert.equal(served.length, 1);
  // Back to the default configuration: the random-init outputs come back from Nx's cache.
  const back = await nxAsync(['run-many', '-t', 'vamp-eval', '-p', 'mobilenetv2-hub']);
  assert.equal(back.status, 0, back.output);
  assert.equal(taskRuns(back.output).get('mobilenetv2-hub:onnx-export'), 'cache');
  assert.equal(ws.readJson('dist/models/mobilenetv2/hub/eval/eval.json').weights, 'random-init');
});

test('a hostile checkpoint fails clearly with a non-zero exit and writes nothing', { skip, timeout: 300_000 }, async () => {
  const r = await nxAsync(['run', 'mobilenetv2-evil:vamp-eval']);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /mobilenetv2-evil:onnx-export failed: option 'weights'.*weights\/evil\.pth.*refusing to load global 'os\.system'/s);
  assert.ok(!fs.existsSync(path.join(ws.root, 'dist/models/mobilenetv2/evil/export')));
  assert.notEqual(taskRuns(r.output).get('mobilenetv2-evil:vamc-build'), 'ran');
});

test('a missing file, a bad checksum, an unreachable host and an unpinned URL fail naming the option', { skip, timeout: 300_000 }, async () => {
  const cases: [string, RegExp][] = [
    ['missing', /option 'weights': weights file .*weights\/nope\.pth does not exist/],
    ['badsum', /option 'weights': weights http:\/\/127\.0\.0\.1:\d+\/weights\/mobilenet_v2-x0\.5\.pth: checksum mismatch: expected sha256 deadbeef0+, got [0-9a-f]{64}/],
    ['offline', /option 'weights': weights http:\/\/127\.0\.0\.1:1\/mobilenet_v2\.pth: cannot download \(ECONNREFUSED\).*offline/],
    ['unpinned', /option 'weights': weights http:\/\/127\.0\.0\.1:\d+\/weights\/mobilenet_v2-x0\.5\.pth: no checksum is published and none is pinned in models\/weights\.lock\.json; frozen mode/],
  ];
  for (const [row, re] of cases) {
    const r = await nxAsync(['run', `mobilenetv2-${row}:onnx-export`]);
    assert.notEqual(r.status, 0, `${row}\n${r.output}`);
    assert.match(r.output, new RegExp(`mobilenetv2-${row}:onnx-export failed: `), r.output);
    assert.match(r.output, re, r.output);
    assert.ok(!fs.existsSync(path.join(ws.root, `dist/models/mobilenetv2/${row}/export`)), row);
  }
  // A bad download never lands under its final name in the cache.
  assert.ok(!fs.readdirSync(cacheDir).some((f) => f.startsWith('deadbeef')));
});

test("-c pretrained pins unpublished weights on first use in models/weights.lock.json, then verifies; frozen mode refuses them unpinned", { skip, timeout: 300_000 }, async () => {
  const lockFile = path.join(ws.root, 'models/weights.lock.json');
  const url = `http://127.0.0.1:${port}/unpublished/mobilenet_v2-x0.5.pth`;
  const frozen = await nxAsync(['run', 'mobilenetv2-pin:onnx-export:pretrained']);
  assert.notEqual(frozen.status, 0, frozen.output);
  assert.match(frozen.output, /no checksum is published and none is pinned in models\/weights\.lock\.json; frozen mode/);
  assert.ok(!fs.existsSync(lockFile));
  assert.ok(!served.includes('/unpublished/mobilenet_v2-x0.5.pth'));

  const first = await nxAsync(['run', 'mobilenetv2-pin:onnx-export:pretrained'], { MODELZOO_WEIGHTS_FROZEN: '0' });
  assert.equal(first.status, 0, first.output);
  assert.match(first.output, new RegExp(`pinned on first use: sha256 ${sha.a}`));
  assert.equal(JSON.parse(fs.readFileSync(lockFile, 'utf8')).weights[url].sha256, sha.a);
  assert.equal(ws.readJson('dist/models/mobilenetv2/pin/export/model-card.json').details.checkpoint.weights.sha256, sha.a);
  assert.equal(served.filter((u) => u === '/unpublished/mobilenet_v2-x0.5.pth').length, 1);

  // The lock is an input of the export: the pin reruns it once (verified against the pin, from the
  // download cache, frozen now), then it is a cache hit.
  const second = await nxAsync(['run', 'mobilenetv2-pin:onnx-export:pretrained']);
  assert.equal(second.status, 0, second.output);
  assert.equal(taskRuns(second.output).get('mobilenetv2-pin:onnx-export'), 'ran', second.output);
  assert.doesNotMatch(second.output, /pinned on first use/);
  const third = await nxAsync(['run', 'mobilenetv2-pin:onnx-export:pretrained']);
  assert.equal(taskRuns(third.output).get('mobilenetv2-pin:onnx-export'), 'cache', third.output);
  assert.equal(served.filter((u) => u === '/unpublished/mobilenet_v2-x0.5.pth').length, 1);
});

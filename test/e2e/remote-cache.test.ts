import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type TempWorkspace, createTempWorkspace, writeImageFolder, writeTestVariant } from '../helpers/temp-workspace';
import { type RemoteCacheStandIn, startRemoteCacheStandIn } from '../helpers/remote-cache';

// Two clones of one repository at different absolute paths, each with its own local Nx cache, the same
// images copied to two folders (other paths, other mtimes), one self-hosted remote cache between them
// (Nx's own HTTP client against a stand-in of the OpenAPI spec). Clone B must replay every export,
// prep, build and evaluation from the remote cache, byte for byte, and benchmarks only while its
// machine identity is clone A's.
const VARIANT = 'mobilenetv2-tv';
const PREP = 'imagenet-val:dataset-prep-pil-bilinear';
const REPLAYED = [
  PREP,
  `${VARIANT}:onnx-export`,
  `${VARIANT}:vamc-build`,
  `${VARIANT}:vamc-build-int8`,
  `${VARIANT}:vamp-eval`,
  `${VARIANT}:vamp-eval-int8`,
];
// One paired benchmark per variant measures fp32 and int8 together.
const BENCH = [`${VARIANT}:vamp-bench`];

let cache: RemoteCacheStandIn;
let a: TempWorkspace;
let b: TempWorkspace;
let imagesA: string;
let imagesB: string;
const scratch: string[] = [];

function clone(name: string): TempWorkspace {
  const ws = createTempWorkspace(name);
  ws.writeJson('models/datasets/imagenet-val/project.json', {
    name: 'imagenet-val',
    targets: {
      'dataset-prep-pil-bilinear': {
        executor: '@modelzoo/nx-plugin:dataset-prep',
        options: { preprocess: 'torchvision', classes: 10, calibrationSize: 10, shardSize: 5, outputPath: 'dist/datasets/imagenet-val/pil-bilinear' },
      },
    },
  });
  writeTestVariant(ws, 'tv', 'torchvision');
  return ws;
}

/** Each clone's own local cache (Nx 24 would otherwise share one under ~/.nx between clones). */
function env(ws: TempWorkspace, images: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const local = path.join(ws.root, '.nx', 'local-cache');
  return {
    MODELZOO_IMAGENET_VAL: images,
    NX_CACHE_DIRECTORY: local,
    NX_SELF_HOSTED_REMOTE_CACHE_SERVER: cache.url,
    NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: cache.token,
    ...extra,
  };
}

/** `nx run` lines: 'remote' | 'local' (cache hits) or 'ran'. */
function runs(output: string): Map<string, 'remote' | 'local' | 'ran'> {
  const out = new Map<string, 'remote' | 'local' | 'ran'>();
  for (const line of output.split('\n')) {
    const m = /> nx run ([\w.@/-]+:[\w-]+)(.*)$/.exec(line);
    if (m) out.set(m[1]!, /remote cache/.test(m[2]!) ? 'remote' : /cache|existing outputs match/.test(m[2]!) ? 'local' : 'ran');
  }
  return out;
}

/** relative path -> sha256 of every file under dir. */
function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = path.join(e.parentPath, e.name);
    out.set(path.relative(dir, p), createHash('sha256').update(fs.readFileSync(p)).digest('hex'));
  }
  return out;
}

before(async () => {
  cache = await startRemoteCacheStandIn();
  imagesA = fs.mkdtempSync(path.join(os.tmpdir(), 'images-a-'));
  await writeImageFolder(imagesA, 12, 10);
  // The same bytes at another path, with other modification times (a fresh checkout of the data).
  imagesB = fs.mkdtempSync(path.join(os.tmpdir(), 'images-b-copy-'));
  const later = new Date(Date.now() + 3_600_000);
  for (const f of fs.readdirSync(imagesA)) {
    fs.copyFileSync(path.join(imagesA, f), path.join(imagesB, f));
    fs.utimesSync(path.join(imagesB, f), later, later);
  }
  a = clone('clone-a');
  b = clone('clone-b-elsewhere');
  scratch.push(imagesA, imagesB, a.root, b.root);
});

after(async () => {
  await cache?.close();
  for (const d of scratch) fs.rmSync(d, { recursive: true, force: true });
});

test('clone A runs every stage and uploads each result to the remote cache', () => {
  const r = a.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench'], env(a, imagesA));
  assert.equal(r.status, 0, r.output);
  const ran = runs(r.output);
  for (const t of [...REPLAYED, ...BENCH]) assert.equal(ran.get(t), 'ran', `${t}\n${r.output}`);
  const stored = cache.requests().filter((q) => q.method === 'PUT' && q.status === 200);
  assert.ok(stored.length >= REPLAYED.length + BENCH.length, `only ${stored.length} uploads: ${JSON.stringify(cache.requests())}`);
});

test('clone B (other path, images copied elsewhere) replays export, prep, builds, evaluations and benchmarks, byte-identical', () => {
  const before = cache.requests().length;
  const r = b.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench'], env(b, imagesB));
  assert.equal(r.status, 0, r.output);
  const got = runs(r.output);
  const notReplayed = [...REPLAYED, ...BENCH].filter((t) => got.get(t) !== 'remote').map((t) => `${t}: ${got.get(t)}`);
  assert.deepEqual(notReplayed, [], `not taken from the remote cache:\n${notReplayed.join('\n')}\n${r.output}`);
  const newPuts = cache.requests().slice(before).filter((q) => q.method === 'PUT' && q.status === 200);
  assert.equal(newPuts.length, 0, 'clone B computed nothing new to upload');
  const ta = tree(path.join(a.root, 'dist'));
  const tb = tree(path.join(b.root, 'dist'));
  assert.ok(ta.size > 10, `clone A's dist holds ${ta.size} files`);
  assert.deepEqual([...tb].sort(), [...ta].sort(), 'clone B holds the same files with the same bytes');
});

test('on another machine identity clone B reruns the benchmarks only (and uploads them as new entries)', () => {
  const before = cache.requests().length;
  const r = b.nx(['run-many', '-t', 'vamp-eval', 'vamp-bench'], env(b, imagesB, { MODELZOO_MACHINE_LABEL: 'another-runner' }));
  assert.equal(r.status, 0, r.output);
  const got = runs(r.output);
  for (const t of BENCH) assert.equal(got.get(t), 'ran', `${t} replayed another machine's figures\n${r.output}`);
  for (const t of REPLAYED) assert.notEqual(got.get(t), 'ran', `${t} reran\n${r.output}`);
  const newPuts = cache.requests().slice(before).filter((q) => q.method === 'PUT' && q.status === 200);
  assert.equal(newPuts.length, BENCH.length, JSON.stringify(cache.requests().slice(before)));
});

test("a pull request's read-only token replays main's entries and can write none (403), without failing the run", () => {
  const c = clone('clone-c-pr');
  scratch.push(c.root);
  const file = 'models/mobilenetv2/tv/project.json';
  const p = c.readJson(file);
  p.targets['vamp-eval'] = { ...p.targets['vamp-eval'], options: { ...p.targets['vamp-eval']?.options, batch: 3 } };
  c.writeJson(file, p);
  const before = cache.requests().length;
  const r = c.nx(['run-many', '-t', 'vamp-eval'], env(c, imagesB, { NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: cache.readOnlyToken }));
  assert.equal(r.status, 0, r.output);
  const got = runs(r.output);
  // The changed option is in the variant's project config, which every one of its tasks hashes.
  assert.equal(got.get(PREP), 'remote', r.output);
  assert.equal(got.get(`${VARIANT}:vamp-eval`), 'ran', r.output);
  const puts = cache.requests().slice(before).filter((q) => q.method === 'PUT');
  assert.ok(puts.length > 0, 'the run tried to upload what it computed');
  assert.deepEqual([...new Set(puts.map((q) => q.status))], [403], JSON.stringify(puts));
});

test('a dataset prepared with --skip-remote-cache stays out of the remote cache, also when later runs hit it locally', async () => {
  const own = fs.mkdtempSync(path.join(os.tmpdir(), 'images-local-only-'));
  scratch.push(own);
  await writeImageFolder(own, 9, 10);
  const before = cache.requests().length;
  const first = a.nx(['run', PREP, '--skip-remote-cache'], env(a, own));
  assert.equal(first.status, 0, first.output);
  assert.equal(runs(first.output).get(PREP), 'ran', first.output);
  assert.deepEqual(cache.requests().slice(before), [], 'no request at all with --skip-remote-cache');
  const again = a.nx(['run', PREP], env(a, own));
  assert.equal(again.status, 0, again.output);
  assert.equal(runs(again.output).get(PREP), 'local', again.output);
  assert.deepEqual(cache.requests().slice(before).filter((q) => q.method === 'PUT'), [], 'a local hit is not uploaded');
});

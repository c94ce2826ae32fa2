import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { WEIGHTS_LOCK_FILE, pinnedWeights, readWeightsLock, weightsFrozen } from '../../plugins/modelzoo/src/lib/checkpoints/weights-lock';
import { resolveWeights } from '../../plugins/modelzoo/src/lib/checkpoints/weights';
import { exportCheckpoint } from '../../plugins/modelzoo/src/lib/export/checkpoint-source';

const files: Record<string, Buffer> = {
  '/a/mobilenet_v2.h5': Buffer.from('first publisher file '.repeat(1000)),
  '/b/MobileNetV2_pretrained.pdparams': Buffer.from('second publisher file '.repeat(800)),
};
const served: string[] = [];
let server: http.Server;
let base = '';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

before(async () => {
  server = http.createServer((req, res) => {
    served.push(req.url ?? '');
    const data = files[req.url ?? ''];
    if (!data) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': data.length }).end(data);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise((r) => server.close(r)));

function dirs() {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-lock-ws-'));
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-lock-cache-'));
  return { ws, cacheDir };
}

test('frozen mode is the default under CI and MODELZOO_WEIGHTS_FROZEN overrides it', () => {
  assert.equal(weightsFrozen({}), false);
  assert.equal(weightsFrozen({ CI: 'true' }), true);
  assert.equal(weightsFrozen({ CI: 'true', MODELZOO_WEIGHTS_FROZEN: '0' }), false);
  assert.equal(weightsFrozen({ MODELZOO_WEIGHTS_FROZEN: '1' }), true);
});

test('first use downloads, prints the sha256 and pins it; later uses verify against the pin without pinning again', async () => {
  const { ws, cacheDir } = dirs();
  const url = `${base}/a/mobilenet_v2.h5`;
  const want = sha(files['/a/mobilenet_v2.h5']!);
  const logs: string[] = [];
  served.length = 0;
  const pinned = await pinnedWeights({ url, sha256: null }, { workspaceRoot: ws, cacheDir, frozen: false, log: (l) => logs.push(l) });
  assert.deepEqual(pinned, { url, sha256: want });
  assert.match(logs.join('\n'), new RegExp(`pinned on first use: sha256 ${want} .*${WEIGHTS_LOCK_FILE.replace(/\./g, '\\.')}`));
  const lock = JSON.parse(fs.readFileSync(path.join(ws, WEIGHTS_LOCK_FILE), 'utf8'));
  assert.equal(lock.weights[url].sha256, want);
  assert.equal(lock.weights[url].size, files['/a/mobilenet_v2.h5']!.length);
  assert.deepEqual(fs.readdirSync(path.join(ws, 'models')), ['weights.lock.json'], 'no temp or mutex file left');
  // The verified resolve that follows finds the pinned download in the cache: one download in all.
  const file = await resolveWeights(pinned, { cacheDir });
  assert.equal(sha(fs.readFileSync(file)), want);
  assert.deepEqual(served, ['/a/mobilenet_v2.h5']);

  // Later runs (even frozen ones) take the pin, and a publisher who changes the file is caught.
  const again = await pinnedWeights({ url, sha256: null }, { workspaceRoot: ws, cacheDir, frozen: true, log: (l) => logs.push(l) });
  assert.deepEqual(again, pinned);
  assert.equal(logs.length, 1);
  const original = files['/a/mobilenet_v2.h5']!;
  files['/a/mobilenet_v2.h5'] = Buffer.from('a different file under the same URL');
  try {
    const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-lock-cache-'));
    await assert.rejects(resolveWeights(again, { cacheDir: fresh }), new RegExp(`checksum mismatch: expected sha256 ${want}`));
  } finally {
    files['/a/mobilenet_v2.h5'] = original;
  }
});

test('frozen mode refuses unpinned weights before any download and names the lock file', async () => {
  const { ws, cacheDir } = dirs();
  served.length = 0;
  await assert.rejects(
    pinnedWeights({ url: `${base}/a/mobilenet_v2.h5`, sha256: null }, { workspaceRoot: ws, cacheDir, frozen: true }),
    /no checksum is published and none is pinned in models\/weights\.lock\.json; frozen mode .*MODELZOO_WEIGHTS_FROZEN=0/,
  );
  assert.deepEqual(served, []);
  assert.ok(!fs.existsSync(path.join(ws, WEIGHTS_LOCK_FILE)));
  // Through the export path: the option is named, and CI=true alone freezes.
  const saved = { CI: process.env['CI'], F: process.env['MODELZOO_WEIGHTS_FROZEN'] };
  process.env['CI'] = 'true';
  delete process.env['MODELZOO_WEIGHTS_FROZEN'];
  try {
    await assert.rejects(
      exportCheckpoint({ weights: { url: `${base}/a/mobilenet_v2.h5`, sha256: null }, format: 'keras', inputSize: 224, opset: 13, baseDir: ws, cacheDir }),
      /option 'weights': weights http:\/\/127\.0\.0\.1:\d+\/a\/mobilenet_v2\.h5: no checksum is published/,
    );
  } finally {
    if (saved.CI === undefined) delete process.env['CI'];
    else process.env['CI'] = saved.CI;
    if (saved.F !== undefined) process.env['MODELZOO_WEIGHTS_FROZEN'] = saved.F;
  }
  assert.deepEqual(served, []);
});

test('two tasks pinning different weights at once both land in the lock; a corrupt lock is refused', async () => {
  const { ws, cacheDir } = dirs();
  const urls = [`${base}/a/mobilenet_v2.h5`, `${base}/b/MobileNetV2_pretrained.pdparams`];
  await Promise.all(urls.map((url) => pinnedWeights({ url }, { workspaceRoot: ws, cacheDir, frozen: false, log: () => {} })));
  const lock = await readWeightsLock(ws);
  assert.deepEqual(Object.keys(lock.weights).sort(), [...urls].sort());
  assert.equal(lock.weights[urls[1]!]!.sha256, sha(files['/b/MobileNetV2_pretrained.pdparams']!));
  fs.writeFileSync(path.join(ws, WEIGHTS_LOCK_FILE), '{"weights": {"x": {"sha256": "nothex"}}}');
  await assert.rejects(pinnedWeights({ url: urls[0]! }, { workspaceRoot: ws, cacheDir, frozen: false }), /weights\.lock\.json: x: 'sha256' must be 64 lowercase hex digits/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveWeights } from '../../plugins/modelzoo/src/lib/checkpoints/weights';

const BODY = Buffer.from('pretend checkpoint bytes '.repeat(5000));
const SHA = createHash('sha256').update(BODY).digest('hex');

async function withServer(fn: (base: string, hits: () => number) => Promise<void>): Promise<void> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    if (req.url === '/redirect/w.pth') {
      res.writeHead(302, { location: '/files/w.pth' });
      return res.end();
    }
    if (req.url === '/files/w.pth') {
      res.writeHead(200, { 'content-length': BODY.length });
      return res.end(BODY);
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, () => hits);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

const tmpDir = () => fs.mkdtemp(path.join(os.tmpdir(), 'mz-weights-'));

test('downloads once into the cache, verifies the sha256, then serves the cached file', async () => {
  const cacheDir = await tmpDir();
  await withServer(async (base, hits) => {
    const spec = { url: `${base}/redirect/w.pth`, sha256: SHA };
    const file = await resolveWeights(spec, { cacheDir });
    assert.ok(file.startsWith(cacheDir));
    assert.deepEqual(await fs.readFile(file), BODY);
    const before = hits();
    assert.equal(await resolveWeights(spec, { cacheDir }), file);
    assert.equal(hits(), before, 'second resolve must not hit the network');
    assert.deepEqual((await fs.readdir(cacheDir)).length, 1);
  });
});

test('accepts a published sha256 prefix (torch hub convention)', async () => {
  const cacheDir = await tmpDir();
  await withServer(async (base) => {
    const file = await resolveWeights({ url: `${base}/files/w.pth`, sha256: SHA.slice(0, 8) }, { cacheDir });
    assert.deepEqual(await fs.readFile(file), BODY);
  });
});

test('a checksum mismatch is an error and leaves nothing in the cache', async () => {
  const cacheDir = await tmpDir();
  await withServer(async (base) => {
    await assert.rejects(resolveWeights({ url: `${base}/files/w.pth`, sha256: '0'.repeat(64) }, { cacheDir }), /checksum mismatch.*got [0-9a-f]{64}/);
    assert.deepEqual(await fs.readdir(cacheDir), []);
  });
});

test('a corrupted cache entry is re-downloaded', async () => {
  const cacheDir = await tmpDir();
  await withServer(async (base, hits) => {
    const spec = { url: `${base}/files/w.pth`, sha256: SHA };
    const file = await resolveWeights(spec, { cacheDir });
    await fs.writeFile(file, 'tampered');
    const before = hits();
    assert.equal(await resolveWeights(spec, { cacheDir }), file);
    assert.equal(hits(), before + 1);
    assert.deepEqual(await fs.readFile(file), BODY);
  });
});

test('HTTP errors and unreachable hosts give clear errors', async () => {
  const cacheDir = await tmpDir();
  await withServer(async (base) => {
    await assert.rejects(resolveWeights({ url: `${base}/nope.pth`, sha256: SHA }, { cacheDir }), /HTTP 404/);
  });
  // A port nothing listens on: what an offline machine sees.
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  await assert.rejects(
    resolveWeights({ url: `http://127.0.0.1:${port}/w.pth`, sha256: SHA }, { cacheDir }),
    /cannot download \(ECONNREFUSED\).*offline.*local path/,
  );
});

test('local paths resolve against baseDir; URLs without a checksum are refused', async () => {
  const dir = await tmpDir();
  await fs.writeFile(path.join(dir, 'w.pth'), BODY);
  assert.equal(await resolveWeights('w.pth', { baseDir: dir }), path.join(dir, 'w.pth'));
  await assert.rejects(resolveWeights('missing.pth', { baseDir: dir }), /missing\.pth does not exist/);
  await assert.rejects(resolveWeights('https://example.com/w.pth'), /needs its sha256/);
  await assert.rejects(resolveWeights({ url: 'https://example.com/w.pth', sha256: 'xyz' }), /8 to 64 hex digits/);
});

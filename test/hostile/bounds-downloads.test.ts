import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { isLoopbackHost, resolveWeights } from '../../plugins/modelzoo/src/lib/checkpoints/weights';
import { captureStderr } from '../helpers/executor-context';

/** Hostile servers on 127.0.0.1: redirect loops, oversize bodies (announced or not), cut-off bodies, slow ones. */
const BODY = Buffer.alloc(64 * 1024, 7);
const SHA = createHash('sha256').update(BODY).digest('hex');

async function withServer(fn: (base: string) => Promise<void>): Promise<void> {
  const server = http.createServer((req, res) => {
    const u = req.url ?? '';
    if (u === '/loop') {
      res.writeHead(302, { location: '/loop' });
      return res.end();
    }
    if (u.startsWith('/hops/')) {
      const n = Number(u.slice(6));
      res.writeHead(302, { location: n > 0 ? `/hops/${n - 1}` : '/file' });
      return res.end();
    }
    if (u === '/to-plain-http') {
      res.writeHead(301, { location: 'http://example.invalid/w.pth' });
      return res.end();
    }
    if (u === '/file') {
      res.writeHead(200, { 'content-length': BODY.length });
      return res.end(BODY);
    }
    if (u === '/chunked') {
      // No Content-Length: only the streamed byte count can enforce the cap.
      res.writeHead(200);
      let sent = 0;
      const more = () => {
        while (sent < 8 * BODY.length) {
          sent += BODY.length;
          if (!res.write(BODY)) return void res.once('drain', more);
        }
        res.end();
      };
      return more();
    }
    if (u === '/cut') {
      res.writeHead(200, { 'content-length': BODY.length });
      res.write(BODY.subarray(0, 1000));
      return setTimeout(() => res.destroy(), 50);
    }
    if (u === '/slow') {
      res.writeHead(200, { 'content-length': BODY.length });
      let i = 0;
      const t = setInterval(() => {
        res.write(BODY.subarray(i * 4096, (i + 1) * 4096));
        if (++i * 4096 >= BODY.length) {
          clearInterval(t);
          res.end();
        }
      }, 160);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

const tmpDir = () => fs.mkdtemp(path.join(os.tmpdir(), 'bounds-dl-'));

/** Nothing under the final name, no temp file left behind. */
async function assertEmpty(dir: string): Promise<void> {
  assert.deepEqual(await fs.readdir(dir).catch(() => []), []);
}

test('plain http is refused unless the host is loopback, before any request; also after a redirect', async () => {
  const cacheDir = await tmpDir();
  for (const url of ['http://10.1.2.3/w.pth', 'http://example.com/w.pth', 'http://127.example.com/w.pth', 'ftp://127.0.0.1/w.pth']) {
    await assert.rejects(resolveWeights({ url, sha256: SHA }, { cacheDir }), /only https:\/\/ downloads are allowed|expected a local path or/, url);
  }
  for (const h of ['localhost', '127.0.0.1', '127.8.9.10', '[::1]']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['10.0.0.1', '128.0.0.1', '127.0.0.1.nip.io', 'example.com', '::ffff:1.2.3.4']) assert.equal(isLoopbackHost(h), false, h);
  await withServer(async (base) => {
    await assert.rejects(
      resolveWeights({ url: `${base}/to-plain-http`, sha256: SHA }, { cacheDir }),
      /redirected to http:\/\/example\.invalid\/w\.pth\): only https:\/\/ downloads are allowed/,
    );
  });
  await assertEmpty(cacheDir);
});

test('redirects are bounded: a loop fails, 5 hops are followed, 6 are not', async () => {
  const cacheDir = await tmpDir();
  await withServer(async (base) => {
    await assert.rejects(resolveWeights({ url: `${base}/loop`, sha256: SHA }, { cacheDir }), /too many redirects \(more than 5\)/);
    await assert.rejects(resolveWeights({ url: `${base}/hops/5`, sha256: SHA }, { cacheDir }), /too many redirects/);
    await assertEmpty(cacheDir);
    const file = await resolveWeights({ url: `${base}/hops/4`, sha256: SHA }, { cacheDir });
    assert.deepEqual(await fs.readFile(file), BODY);
  });
});

test('size cap: announced oversize refused before reading, unannounced oversize refused while streaming, nothing left', async () => {
  const cacheDir = await tmpDir();
  await withServer(async (base) => {
    await assert.rejects(
      resolveWeights({ url: `${base}/file`, sha256: SHA }, { cacheDir, maxBytes: 1000 }),
      /the server announces 64\.0 KiB, more than the download cap of 1000 B.*MODELZOO_MAX_DOWNLOAD_BYTES/,
    );
    process.env['MODELZOO_MAX_DOWNLOAD_BYTES'] = String(3 * BODY.length);
    try {
      await assert.rejects(resolveWeights({ url: `${base}/chunked`, sha256: SHA }, { cacheDir }), /the download passed .* more than the download cap of 192\.0 KiB/);
      process.env['MODELZOO_MAX_DOWNLOAD_BYTES'] = 'lots';
      await assert.rejects(resolveWeights({ url: `${base}/chunked`, sha256: SHA }, { cacheDir }), /MODELZOO_MAX_DOWNLOAD_BYTES: expected a positive integer/);
    } finally {
      delete process.env['MODELZOO_MAX_DOWNLOAD_BYTES'];
    }
  });
  await assertEmpty(cacheDir);
});

test('a body cut off mid-way leaves no file, and the error says so', async () => {
  const cacheDir = await tmpDir();
  await withServer(async (base) => {
    await assert.rejects(resolveWeights({ url: `${base}/cut`, sha256: SHA }, { cacheDir }), /download (interrupted|truncated)/);
  });
  await assertEmpty(cacheDir);
});

test('progress: throttled lines on stderr with size, percentage and a rate only after a second', async () => {
  const cacheDir = await tmpDir();
  const quiet = process.env['MODELZOO_QUIET'];
  delete process.env['MODELZOO_QUIET'];
  let file = '';
  try {
    const err = await captureStderr(() =>
      withServer(async (base) => {
        file = await resolveWeights({ url: `${base}/slow`, sha256: SHA }, { cacheDir });
      }),
    );
    const lines = err.split('\n').filter((l) => l.startsWith('[download slow]'));
    // 16 chunks 160 ms apart (~2.6 s): one line at the 2 s mark and the final one, not one per chunk.
    assert.ok(lines.length >= 1 && lines.length <= 3, err);
    for (const l of lines) assert.match(l, /^\[download slow\] [\d.]+ KiB of 64\.0 KiB \(\d+%\) at [\d.]+ (KiB|B)\/s$/);
    const rate = Number(/at ([\d.]+) KiB\/s/.exec(lines.at(-1)!)?.[1]);
    assert.ok(rate > 10 && rate < 60, `rate ${rate} KiB/s for 64 KiB over ~2.6 s`);
  } finally {
    if (quiet !== undefined) process.env['MODELZOO_QUIET'] = quiet;
  }
  assert.deepEqual(await fs.readFile(file), BODY);
});

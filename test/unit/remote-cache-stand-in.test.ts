import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { createRemoteCacheServer } from '../stand-ins/nx-remote-cache';

// The stand-in answers as Nx's self-hosted cache OpenAPI spec says, so the e2e test exercises Nx's
// real client against the contract a team's server implements.
let server: Server;
let base: string;
const RW = 'rw-token';
const RO = 'ro-token';
const put = (hash: string, body: Buffer, token?: string) =>
  fetch(`${base}/v1/cache/${hash}`, {
    method: 'PUT',
    body,
    headers: { 'content-type': 'application/octet-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
const get = (hash: string, token?: string) =>
  fetch(`${base}/v1/cache/${hash}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

before(async () => {
  server = createRemoteCacheServer({ token: RW, readOnlyToken: RO });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test('listens on loopback only, at an ephemeral port', () => {
  const a = server.address() as { address: string; port: number };
  assert.equal(a.address, '127.0.0.1');
  assert.ok(a.port > 0);
});

test('GET of an unknown hash is 404; PUT stores (200) and GET returns the same bytes', async () => {
  assert.equal((await get('123', RW)).status, 404);
  const body = Buffer.from([0, 1, 2, 250, 255]);
  assert.equal((await put('123', body, RW)).status, 200);
  const r = await get('123', RW);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/octet-stream');
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), body);
});

test('an existing record is never overwritten (409), and keeps its bytes', async () => {
  assert.equal((await put('456', Buffer.from('first'), RW)).status, 200);
  const r = await put('456', Buffer.from('second'), RW);
  assert.equal(r.status, 409);
  assert.equal(await (await get('456', RW)).text(), 'first');
});

test('no or a wrong bearer token is 401 for both verbs; a read-only token reads but cannot write (403)', async () => {
  assert.equal((await put('789', Buffer.from('x'))).status, 401);
  assert.equal((await put('789', Buffer.from('x'), 'nope')).status, 401);
  assert.equal((await get('123')).status, 401);
  assert.equal((await get('123', 'nope')).status, 401);
  assert.equal((await put('789', Buffer.from('x'), RO)).status, 403);
  assert.equal((await get('789', RW)).status, 404, 'the refused write stored nothing');
  assert.equal((await get('123', RO)).status, 200);
});

test('paths outside /v1/cache/{hash} are 404', async () => {
  assert.equal((await fetch(`${base}/v1/cache/../etc`, { headers: { authorization: `Bearer ${RW}` } })).status, 404);
  assert.equal((await fetch(`${base}/`, { headers: { authorization: `Bearer ${RW}` } })).status, 404);
});

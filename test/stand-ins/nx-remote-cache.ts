/**
 * Stand-in for a self-hosted Nx remote cache: the OpenAPI spec Nx ≥ 20.8 talks to when
 * NX_SELF_HOSTED_REMOTE_CACHE_SERVER is set (https://nx.dev/docs/guides/tasks--caching/self-hosted-caching).
 * Tests only: entries live in memory, it listens on 127.0.0.1 at an ephemeral port, and it is never
 * offered as a product (teams use Nx Cloud, Nx's cache packages or a real server of the spec).
 *
 *   PUT /v1/cache/{hash}  Content-Length required, body = Nx's tar archive
 *                         200 stored · 401 no/unknown bearer token · 403 read-only token · 409 exists
 *   GET /v1/cache/{hash}  200 application/octet-stream · 401 · 404 not found
 *
 * Run as a child process (a test blocked in spawnSync could not serve requests from its own event
 * loop): `node --import tsx test/stand-ins/nx-remote-cache.ts`, with env STANDIN_CACHE_TOKEN (read-write),
 * optional STANDIN_CACHE_READONLY_TOKEN, and STANDIN_CACHE_LOG (a file: one JSON line per request). It
 * prints {"url": ...} on stdout once listening.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';

/** Bounds memory: a request body larger than this is refused (413) before it is buffered. */
const MAX_ENTRY_BYTES = 512 * 1024 * 1024;

export interface StandInOptions {
  token: string;
  readOnlyToken?: string;
  log?: (entry: { method: string; hash: string; status: number; bytes: number }) => void;
}

export function createRemoteCacheServer(o: StandInOptions): http.Server {
  const entries = new Map<string, Buffer>();
  return http.createServer((req, res) => {
    const m = /^\/v1\/cache\/([A-Za-z0-9_-]{1,256})$/.exec(req.url ?? '');
    const reply = (status: number, body?: Buffer | string, type = 'text/plain') => {
      o.log?.({ method: req.method ?? '?', hash: m?.[1] ?? req.url ?? '', status, bytes: Buffer.isBuffer(body) ? body.length : 0 });
      res.writeHead(status, body === undefined ? {} : { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (!m) return reply(404, 'no such endpoint');
    const hash = m[1]!;
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const access = auth === o.token ? 'rw' : o.readOnlyToken !== undefined && auth === o.readOnlyToken ? 'ro' : undefined;
    if (!access) return reply(401, 'Missing or invalid authentication token.');
    if (req.method === 'GET') {
      const hit = entries.get(hash);
      return hit ? reply(200, hit, 'application/octet-stream') : reply(404, 'The record was not found');
    }
    if (req.method !== 'PUT') return reply(405, 'GET or PUT');
    if (access === 'ro') return reply(403, 'Access forbidden: read-only token used to write.');
    const length = Number(req.headers['content-length']);
    if (!Number.isSafeInteger(length) || length < 0) return reply(400, 'Content-Length header required');
    if (length > MAX_ENTRY_BYTES) return reply(413, `entry larger than ${MAX_ENTRY_BYTES} bytes`);
    if (entries.has(hash)) {
      req.resume();
      return reply(409, 'Cannot override an existing record');
    }
    const chunks: Buffer[] = [];
    let received = 0;
    req.on('data', (c: Buffer) => {
      received += c.length;
      if (received <= length) chunks.push(c);
    });
    req.on('end', () => {
      if (received !== length) return reply(400, `body has ${received} bytes, Content-Length says ${length}`);
      // A concurrent PUT of the same hash may have finished first: the first one wins.
      if (entries.has(hash)) return reply(409, 'Cannot override an existing record');
      entries.set(hash, Buffer.concat(chunks));
      reply(200);
    });
  });
}

if (require.main === module) {
  const token = process.env['STANDIN_CACHE_TOKEN'];
  if (!token) {
    process.stderr.write('nx-remote-cache stand-in: set STANDIN_CACHE_TOKEN\n');
    process.exit(2);
  }
  const logFile = process.env['STANDIN_CACHE_LOG'];
  const server = createRemoteCacheServer({
    token,
    readOnlyToken: process.env['STANDIN_CACHE_READONLY_TOKEN'] || undefined,
    log: logFile ? (e) => fs.appendFileSync(logFile, JSON.stringify(e) + '\n') : undefined,
  });
  server.listen(0, '127.0.0.1', () => {
    const a = server.address() as { port: number };
    process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${a.port}` }) + '\n');
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { exists, removeStaleTemps, sha256File } from '../common/atomic';
import { UserError } from '../common/errors';
import { formatBytes, readLimit } from '../common/limits';

/**
 * A variant's `weights`: a local path, or a URL pinned by its sha256. URLs are downloaded once into a
 * user cache (streamed to a temp sibling, hashed while writing, renamed into place only when the hash
 * matches), so concurrent tasks and killed downloads never leave a bad file under the final name.
 * Only https (plain http for loopback), at most 5 redirects, at most 1 GiB by default (see download).
 */
export type WeightsSpec = string | { url: string; sha256: string };

export interface ResolveOptions {
  /** Default: $MODELZOO_CACHE_DIR, else $XDG_CACHE_HOME/modelzoo/weights, else ~/.cache/modelzoo/weights. */
  cacheDir?: string;
  /** Relative local paths resolve against this (the workspace root). Default: cwd. */
  baseDir?: string;
  /** Per-request inactivity timeout. */
  timeoutMs?: number;
  /** Largest download accepted; default $MODELZOO_MAX_DOWNLOAD_BYTES, else 1 GiB. */
  maxBytes?: number;
  /** Redirects followed (default 5). */
  maxRedirects?: number;
}

export function defaultCacheDir(): string {
  const env = process.env['MODELZOO_CACHE_DIR'];
  if (env) return env;
  const xdg = process.env['XDG_CACHE_HOME'];
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache'), 'modelzoo', 'weights');
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

/**
 * sha256 must be the full 64 hex digits, or a prefix of at least 8 (torch hub's convention: the
 * `-b0353104` in torchvision's file names is the start of the file's sha256) when that is all the
 * publisher gives.
 */
function checkSha(sha: unknown, url: string): string {
  if (typeof sha !== 'string' || !/^[0-9a-f]{8,64}$/i.test(sha)) {
    throw new UserError(`weights ${url}: 'sha256' must be 8 to 64 hex digits (the file's sha256 or its published prefix), got ${JSON.stringify(sha)}`);
  }
  return sha.toLowerCase();
}

export async function resolveWeights(spec: WeightsSpec, opts: ResolveOptions = {}): Promise<string> {
  if (typeof spec === 'string') {
    if (isUrl(spec)) throw new UserError(`weights ${spec}: a URL needs its sha256 ({ url, sha256 }) so the download can be verified`);
    const file = path.resolve(opts.baseDir ?? process.cwd(), spec);
    if (!(await exists(file))) throw new UserError(`weights file ${file} does not exist`);
    return file;
  }
  if (!spec || typeof spec.url !== 'string' || !isUrl(spec.url)) {
    throw new UserError(`weights: expected a local path or { url: 'http(s)://...', sha256 }, got ${JSON.stringify(spec)}`);
  }
  const sha = checkSha(spec.sha256, spec.url);
  checkUrl(new URL(spec.url), spec.url);
  const limits = downloadLimits(opts);
  const dir = opts.cacheDir ?? defaultCacheDir();
  const base = decodeURIComponent(new URL(spec.url).pathname.split('/').pop() || 'weights').replace(/[^\w.+-]/g, '_');
  const target = path.join(dir, `${sha.slice(0, 16)}-${base}`);
  if (await exists(target)) {
    const got = await sha256File(target);
    if (got.startsWith(sha)) return target;
    // A cache entry that no longer matches (disk corruption, manual edit) is replaced, not trusted.
    await fs.rm(target, { force: true });
  }
  await fs.mkdir(dir, { recursive: true });
  await removeStaleTemps(target);
  const tmp = `${target}.tmp-${process.pid}-${Date.now().toString(36)}`;
  try {
    const got = await download(spec.url, tmp, limits).catch((err: unknown) => {
      // Offline: the verified cache entry is the other way in (it is re-hashed before use).
      if (err instanceof UserError && /looks offline/.test(err.message)) throw new UserError(`${err.message}, or copy it to ${target}`);
      throw err;
    });
    if (!got.startsWith(sha)) {
      throw new UserError(`weights ${spec.url}: checksum mismatch: expected sha256 ${sha}${sha.length < 64 ? '…' : ''}, got ${got}`);
    }
    await fs.rename(tmp, target);
  } finally {
    await fs.rm(tmp, { force: true });
  }
  return target;
}

/** Plain http is only for this machine (a local mirror, tests); everything else must be https. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return net.isIPv4(h) && h.startsWith('127.');
}

function checkUrl(u: URL, original: string): void {
  if (u.protocol === 'https:') return;
  if (u.protocol === 'http:' && isLoopbackHost(u.hostname)) return;
  const hop = u.href === original ? '' : ` (redirected to ${u.href})`;
  throw new UserError(
    `weights ${original}${hop}: only https:// downloads are allowed (plain http only from this machine: localhost, 127.0.0.0/8, ::1); ` +
      `use the https URL or download the file and set weights to its local path`,
  );
}

function downloadLimits(opts: ResolveOptions): DownloadLimits {
  return {
    timeoutMs: opts.timeoutMs ?? 60_000,
    maxBytes: opts.maxBytes ?? readLimit('MODELZOO_MAX_DOWNLOAD_BYTES', 2 ** 30),
    maxRedirects: opts.maxRedirects ?? 5,
  };
}

interface DownloadLimits {
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
}

/**
 * Follows at most `maxRedirects` redirects (each hop checked like the first URL), refuses a body
 * larger than `maxBytes` from its Content-Length before reading it and again as it streams (a server
 * may send none, or lie), and writes only `file` (the caller's temp name, removed on any failure).
 */
async function download(url: string, file: string, limits: DownloadLimits): Promise<string> {
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    checkUrl(current, url);
    const res = await request(current, url, limits.timeoutMs);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= limits.maxRedirects) throw new UserError(`weights ${url}: too many redirects (more than ${limits.maxRedirects})`);
      current = new URL(res.headers.location, current);
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new UserError(`weights ${url}: HTTP ${status} ${res.statusMessage ?? ''}`.trim());
    }
    return receive(res, url, file, limits.maxBytes);
  }
}

function request(u: URL, original: string, timeoutMs: number): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const get = u.protocol === 'https:' ? https.get : http.get;
    const req = get(u, { timeout: timeoutMs }, resolve);
    req.on('timeout', () => req.destroy(new Error(`no data for ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const offline = ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT'].includes(err.code ?? '');
      reject(
        new UserError(
          `weights ${original}: cannot download (${err.code ?? err.message})` +
            (offline ? '; this machine looks offline or the host is unreachable: download the file elsewhere and set weights to its local path' : ''),
        ),
      );
    });
  });
}

async function receive(res: http.IncomingMessage, url: string, file: string, maxBytes: number): Promise<string> {
  const declared = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : undefined;
  const tooBig = (n: number, how: string) =>
    new UserError(
      `weights ${url}: ${how} ${formatBytes(n)}, more than the download cap of ${formatBytes(maxBytes)}; ` +
        `refused (set MODELZOO_MAX_DOWNLOAD_BYTES to raise it)`,
    );
  if (declared !== undefined && Number.isFinite(declared) && declared > maxBytes) {
    res.destroy();
    throw tooBig(declared, 'the server announces');
  }
  const total = declared !== undefined && Number.isFinite(declared) ? declared : undefined;
  const hash = createHash('sha256');
  const progress = new DownloadProgress(path.basename(new URL(url).pathname) || url, total);
  let done = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      if (done > maxBytes) return cb(tooBig(done, 'the download passed'));
      hash.update(chunk);
      progress.update(done);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(res, meter, createWriteStream(file));
  } catch (err) {
    if (err instanceof UserError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.syscall) throw new UserError(`weights ${url}: cannot write ${file}: ${e.message}`);
    throw new UserError(`weights ${url}: download interrupted after ${formatBytes(done)}: ${e.message}`);
  }
  if (total !== undefined && done !== total) throw new UserError(`weights ${url}: download truncated (${done} of ${total} bytes)`);
  progress.finish(done);
  return hash.digest('hex');
}

/**
 * "<file>: 12.0 MiB of 13.6 MiB (88%) at 4.1 MiB/s" on stderr at most every 2 s (quiet under
 * MODELZOO_QUIET). A rate is shown only after a full second, so the first line is never a burst
 * extrapolated from one chunk.
 */
class DownloadProgress {
  private readonly start = Date.now();
  private last = this.start;
  constructor(
    private readonly name: string,
    private readonly total: number | undefined,
  ) {}

  update(done: number): void {
    const now = Date.now();
    if (now - this.last < 2000) return;
    this.last = now;
    this.print(done, now);
  }

  finish(done: number): void {
    // Short downloads stay silent; a long one ends with its final size and mean rate.
    if (this.last !== this.start) this.print(done, Date.now());
  }

  private print(done: number, now: number): void {
    if (process.env['MODELZOO_QUIET']) return;
    const secs = (now - this.start) / 1000;
    const of = this.total ? ` of ${formatBytes(this.total)} (${Math.floor((100 * done) / this.total)}%)` : '';
    const rate = secs >= 1 ? ` at ${formatBytes(done / secs)}/s` : '';
    process.stderr.write(`[download ${this.name}] ${formatBytes(done)}${of}${rate}\n`);
  }
}

/**
 * First use of weights whose publisher gives no checksum (weights-lock.ts pins what this returns):
 * downloads into the cache under the name resolveWeights gives that sha256, so the verified
 * resolveWeights({ url, sha256 }) that follows finds it instead of downloading again.
 */
export async function downloadUnpinned(url: string, opts: ResolveOptions = {}): Promise<{ file: string; sha256: string; size: number }> {
  if (!isUrl(url)) throw new UserError(`weights ${url}: expected an http(s) URL`);
  const dir = opts.cacheDir ?? defaultCacheDir();
  await fs.mkdir(dir, { recursive: true });
  const base = decodeURIComponent(new URL(url).pathname.split('/').pop() || 'weights').replace(/[^\w.+-]/g, '_');
  const tmp = path.join(dir, `unpinned-${process.pid}-${Date.now().toString(36)}-${base}`);
  try {
    checkUrl(new URL(url), url);
    const sha = await download(url, tmp, downloadLimits(opts));
    const size = (await fs.stat(tmp)).size;
    const file = path.join(dir, `${sha.slice(0, 16)}-${base}`);
    await fs.rename(tmp, file);
    return { file, sha256: sha, size };
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

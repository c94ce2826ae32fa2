import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { exists, removeStaleTemps, sha256File } from '../common/atomic';
import { UserError } from '../common/errors';
import { Progress } from '../common/progress';

/**
 * A variant's `weights`: a local path, or a URL pinned by its sha256. URLs are downloaded once into a
 * user cache (streamed to a temp sibling, hashed while writing, renamed into place only when the hash
 * matches), so concurrent tasks and killed downloads never leave a bad file under the final name.
 */
export type WeightsSpec = string | { url: string; sha256: string };

export interface ResolveOptions {
  /** Default: $MODELZOO_CACHE_DIR, else $XDG_CACHE_HOME/modelzoo/weights, else ~/.cache/modelzoo/weights. */
  cacheDir?: string;
  /** Relative local paths resolve against this (the workspace root). Default: cwd. */
  baseDir?: string;
  /** Per-request inactivity timeout. */
  timeoutMs?: number;
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
    const got = await download(spec.url, tmp, opts.timeoutMs ?? 60_000).catch((err: unknown) => {
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

function download(url: string, file: string, timeoutMs: number, redirects = 5): Promise<string> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? https.get : http.get;
    const req = get(url, { timeout: timeoutMs }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects <= 0) return reject(new UserError(`weights ${url}: too many redirects`));
        const next = new URL(res.headers.location, url).toString();
        download(next, file, timeoutMs, redirects - 1).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        return reject(new UserError(`weights ${url}: HTTP ${status} ${res.statusMessage ?? ''}`.trim()));
      }
      const total = Number(res.headers['content-length'] ?? 0);
      const progress = new Progress(`download ${path.basename(new URL(url).pathname)} KiB`, Math.ceil(total / 1024));
      const hash = createHash('sha256');
      const out = createWriteStream(file);
      let done = 0;
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        done += chunk.length;
        if (total > 0) progress.tick(Math.floor(done / 1024));
      });
      res.on('error', (err) => reject(new UserError(`weights ${url}: download interrupted: ${err.message}`)));
      res.pipe(out);
      out.on('error', (err) => reject(new UserError(`weights ${url}: cannot write ${file}: ${err.message}`)));
      out.on('finish', () => {
        if (total > 0 && done !== total) reject(new UserError(`weights ${url}: download truncated (${done} of ${total} bytes)`));
        else resolve(hash.digest('hex'));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no data for ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const offline = ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT'].includes(err.code ?? '');
      reject(
        new UserError(
          `weights ${url}: cannot download (${err.code ?? err.message})` +
            (offline ? '; this machine looks offline or the host is unreachable: download the file elsewhere and set weights to its local path' : ''),
        ),
      );
    });
  });
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
    const sha = await download(url, tmp, opts.timeoutMs ?? 60_000);
    const size = (await fs.stat(tmp)).size;
    const file = path.join(dir, `${sha.slice(0, 16)}-${base}`);
    await fs.rename(tmp, file);
    return { file, sha256: sha, size };
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

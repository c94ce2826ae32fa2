import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { REPO_ROOT } from './shared';

export interface CacheRequest {
  method: string;
  hash: string;
  status: number;
  bytes: number;
}

export interface RemoteCacheStandIn {
  url: string;
  token: string;
  readOnlyToken: string;
  /** Every request served so far, in order. */
  requests(): CacheRequest[];
  close(): Promise<void>;
}

/** Starts test/stand-ins/nx-remote-cache.ts in a child process (own event loop) and waits for its URL. */
export async function startRemoteCacheStandIn(): Promise<RemoteCacheStandIn> {
  const token = randomBytes(16).toString('hex');
  const readOnlyToken = randomBytes(16).toString('hex');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nx-remote-cache-'));
  const log = path.join(dir, 'requests.jsonl');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test', 'stand-ins', 'nx-remote-cache.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, STANDIN_CACHE_TOKEN: token, STANDIN_CACHE_READONLY_TOKEN: readOnlyToken, STANDIN_CACHE_LOG: log },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve(JSON.parse(line!).url);
    });
    child.on('exit', (code) => reject(new Error(`remote cache stand-in exited (${code}) before listening`)));
  });
  return {
    url,
    token,
    readOnlyToken,
    requests: () =>
      fs.existsSync(log)
        ? fs
            .readFileSync(log, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as CacheRequest)
        : [],
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

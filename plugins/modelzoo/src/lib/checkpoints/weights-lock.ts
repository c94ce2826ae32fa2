import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { writeFileAtomic } from '../common/atomic';
import { UserError } from '../common/errors';
import { type ResolveOptions, downloadUnpinned } from './weights';

/**
 * Pin on first use, like a lockfile. Keras and PaddleClas publish no checksum for their weights, so
 * the first `-c pretrained` run with network downloads the file, prints its sha256 and records it in
 * models/weights.lock.json (committed); every later run, on any machine, verifies the download against
 * that pin. In frozen mode (CI=true, or MODELZOO_WEIGHTS_FROZEN=1) an unpinned URL is refused instead,
 * so CI never trusts a file nobody has looked at. The lock is an input of the onnx-export targets that
 * read it, so a pin change reruns their export.
 */
export const WEIGHTS_LOCK_FILE = 'models/weights.lock.json';

export interface WeightsLock {
  /** URL -> the sha256 and size of the file first downloaded from it. */
  weights: Record<string, { sha256: string; size: number; pinned: string }>;
}

export function weightsFrozen(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env['MODELZOO_WEIGHTS_FROZEN'];
  if (v !== undefined && v !== '') return !/^(0|false|no|off)$/i.test(v);
  return /^(1|true)$/i.test(env['CI'] ?? '');
}

export async function readWeightsLock(workspaceRoot: string): Promise<WeightsLock> {
  const file = path.join(workspaceRoot, WEIGHTS_LOCK_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { weights: {} };
    throw new UserError(`${WEIGHTS_LOCK_FILE}: cannot read: ${(err as Error).message}`);
  }
  let lock: WeightsLock;
  try {
    lock = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${WEIGHTS_LOCK_FILE}: not valid JSON (${(err as Error).message}); restore it from git`);
  }
  if (!lock || typeof lock.weights !== 'object' || lock.weights === null) throw new UserError(`${WEIGHTS_LOCK_FILE}: expected { "weights": { "<url>": { "sha256": ... } } }`);
  for (const [url, e] of Object.entries(lock.weights)) {
    if (!e || typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) throw new UserError(`${WEIGHTS_LOCK_FILE}: ${url}: 'sha256' must be 64 lowercase hex digits`);
  }
  return lock;
}

/**
 * Records one pin. Tasks of one run-many pin different URLs in parallel, so the read-modify-write
 * holds an exclusive lock file (stale after 60 s) and the lock itself is replaced atomically.
 */
async function recordPin(workspaceRoot: string, url: string, entry: WeightsLock['weights'][string]): Promise<void> {
  const file = path.join(workspaceRoot, WEIGHTS_LOCK_FILE);
  const mutex = `${file}.writing`;
  await fs.mkdir(path.dirname(file), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      await (await fs.open(mutex, 'wx')).close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = await fs.stat(mutex).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 60_000) await fs.rm(mutex, { force: true });
      if (attempt > 600) throw new UserError(`${WEIGHTS_LOCK_FILE}: another process holds ${mutex}; remove it if no nx run is active`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    const lock = await readWeightsLock(workspaceRoot);
    const existing = lock.weights[url];
    if (existing && existing.sha256 !== entry.sha256) {
      throw new UserError(`weights ${url}: pinned meanwhile as sha256 ${existing.sha256} in ${WEIGHTS_LOCK_FILE}, but this download is ${entry.sha256}`);
    }
    lock.weights = Object.fromEntries(Object.entries({ ...lock.weights, [url]: existing ?? entry }).sort(([a], [b]) => (a < b ? -1 : 1)));
    await writeFileAtomic(file, JSON.stringify(lock, null, 2) + '\n');
  } finally {
    await fs.rm(mutex, { force: true });
  }
}

export interface PinOptions extends ResolveOptions {
  workspaceRoot: string;
  /** Default: weightsFrozen(). */
  frozen?: boolean;
  log?: (line: string) => void;
}

/**
 * The `{ url, sha256 }` to download and verify: the spec's own checksum when it has one, else the
 * lock's pin, else (not frozen) the sha256 of a first download, which is recorded in the lock.
 */
export async function pinnedWeights(spec: { url: string; sha256?: string | null }, o: PinOptions): Promise<{ url: string; sha256: string }> {
  if (spec.sha256) return { url: spec.url, sha256: spec.sha256 };
  const lock = await readWeightsLock(o.workspaceRoot);
  const pin = lock.weights[spec.url];
  if (pin) return { url: spec.url, sha256: pin.sha256 };
  if (o.frozen ?? weightsFrozen()) {
    throw new UserError(
      `weights ${spec.url}: no checksum is published and none is pinned in ${WEIGHTS_LOCK_FILE}; frozen mode ` +
        `(CI=true or MODELZOO_WEIGHTS_FROZEN=1) refuses unpinned weights. Run once with MODELZOO_WEIGHTS_FROZEN=0 ` +
        `on a trusted network, check the printed sha256, and commit ${WEIGHTS_LOCK_FILE}`,
    );
  }
  const got = await downloadUnpinned(spec.url, o);
  await recordPin(o.workspaceRoot, spec.url, { sha256: got.sha256, size: got.size, pinned: new Date().toISOString() });
  (o.log ?? ((l: string) => process.stderr.write(l + '\n')))(
    `weights ${spec.url}: pinned on first use: sha256 ${got.sha256} (${got.size} bytes) recorded in ${WEIGHTS_LOCK_FILE}; commit it`,
  );
  return { url: spec.url, sha256: got.sha256 };
}

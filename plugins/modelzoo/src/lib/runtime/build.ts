import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256 } from '../common/atomic';
import { type Model, encodeModel } from '../onnx/proto';
import { createSession } from './session';

/**
 * ONNX Runtime's offline optimization: the graph after constant folding, BN/Conv fusion and (for QDQ
 * models) the QLinear rewrites, saved so every later run loads the optimized model directly. 'extended'
 * keeps the saved model portable across x86 CPUs; layout-specific rewrites ('all') happen at load time.
 */
export async function optimizeOffline(model: Model, level: 'basic' | 'extended' = 'extended'): Promise<Uint8Array> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'modelzoo-opt-'));
  try {
    const out = path.join(dir, 'optimized.onnx');
    const session = await createSession(encodeModel(model), { level, optimizedModelFilePath: out, threads: 1 });
    await session.release();
    return new Uint8Array(await fs.readFile(out));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export function modelHash(bytes: Uint8Array): string {
  return sha256(bytes);
}

import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import { preprocessImage } from './preprocess';
import type { GeometrySpec } from './spec';

/** Worker side of PreprocessPool: decode + resample one image per message, reply with the tensor. */
export interface PreprocessTask {
  id: number;
  file: string | Uint8Array;
  geometry: GeometrySpec;
  maxPixels: number;
}
export type PreprocessReply = { id: number; data: Uint8Array } | { id: number; error: string };

// libvips' operation cache would keep decoded images alive across tasks; every input is read once.
sharp.cache(false);

parentPort!.on('message', (task: PreprocessTask) => {
  const input = typeof task.file === 'string' ? task.file : Buffer.from(task.file.buffer, task.file.byteOffset, task.file.byteLength);
  preprocessImage(input, task.geometry, task.maxPixels).then(
    (data) => parentPort!.postMessage({ id: task.id, data } satisfies PreprocessReply, [data.buffer as ArrayBuffer]),
    (err: unknown) => parentPort!.postMessage({ id: task.id, error: err instanceof Error ? err.message : String(err) } satisfies PreprocessReply),
  );
});

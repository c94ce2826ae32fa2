import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { validMaxPixels } from './limits';
import { simdAvailable } from './pillow-simd';
import { decodeForCrop, finishCrop } from './preprocess';
import type { GeometrySpec } from './spec';
import type { PreprocessReply, PreprocessTask } from './worker';

export interface PreprocessPoolOptions {
  geometry: GeometrySpec;
  /** Parallelism: worker threads, or (inline) decodes in flight; default os.availableParallelism(). */
  threads?: number;
  /** Images in flight per worker (or per inline lane), so one decodes (libuv thread) while another resamples (JS). */
  perWorker?: number;
  /**
   * 'inline': no worker threads; decodes run on libuv's threadpool and the SIMD resampler on the calling
   * thread. 'workers': decode and resample on worker threads. 'auto' (default): inline where the
   * geometry has the SIMD resampler (Pillow bilinear/bicubic) and threads <= 2, workers otherwise.
   */
  mode?: 'auto' | 'inline' | 'workers';
  /** Pixel limit (limits.ts): warn above it, refuse above twice it. Default Pillow's MAX_IMAGE_PIXELS. */
  maxPixels?: number;
}

/**
 * With the SIMD resampler an image costs the calling thread ~0.6 ms (decode call setup, resampling,
 * then hashing and writing in dataset-prep) against ~1 ms (native crop-window decoder) to ~2 ms
 * (sharp) of JPEG decoding on libuv's threadpool: one JS thread keeps up with two decoders, and worker
 * threads would only add start-up (sharp, and from source a TS compile, per worker) and a message round trip per image. With
 * more decoders that one thread becomes the bottleneck, so larger pools use workers.
 */
export function inlineCapable(g: GeometrySpec, threads: number): boolean {
  return threads <= 2 && g.backend === 'pillow' && (g.interpolation === 'bilinear' || g.interpolation === 'bicubic') && simdAvailable();
}

interface Pending {
  id: number;
  file: string | Uint8Array;
  resolve: (v: Uint8Array) => void;
  reject: (e: Error) => void;
}

/**
 * The worker module has this module's extension: .js once built; .ts when running from source under
 * tsx, whose loader a worker does not always inherit (`npx tsx` registers it without execArgv), so the
 * worker then registers tsx's CommonJS hook itself before loading the module.
 */
function spawnWorker(): Worker {
  const ext = path.extname(__filename);
  const script = path.join(__dirname, `worker${ext}`);
  if (ext !== '.ts') return new Worker(script);
  return new Worker(`require('tsx/cjs'); require(${JSON.stringify(script)});`, { eval: true });
}

/**
 * Preprocesses images with bounded parallelism. Inline mode (see inlineCapable) keeps everything on the
 * calling thread but the decodes; worker mode is for the JS resamplers (cv2, nearest), which are
 * CPU-bound and on one thread would use one core however many images sharp decodes in parallel.
 * Results come back per call, in any order.
 */
export class PreprocessPool {
  private readonly workers: { w: Worker; busy: Map<number, Pending> }[] = [];
  private readonly queue: Pending[] = [];
  private readonly perWorker: number;
  private readonly inline: boolean;
  /** Inline mode: decodes in flight at once. */
  private readonly inlineLimit: number;
  private inlineActive = 0;
  private nextId = 0;
  private closed = false;
  private failure: Error | undefined;
  private readonly maxPixels: number;

  constructor(private readonly opts: PreprocessPoolOptions) {
    this.maxPixels = validMaxPixels(opts.maxPixels);
    const threads = Math.max(1, opts.threads ?? os.availableParallelism());
    this.perWorker = Math.max(1, opts.perWorker ?? 2);
    const mode = opts.mode ?? 'auto';
    this.inline = mode === 'inline' || (mode === 'auto' && inlineCapable(opts.geometry, threads));
    // The same in-flight budget as worker mode (threads x perWorker): while one image of a lane is
    // being resampled on this thread, its next one already decodes. libuv's pool (4 threads unless
    // UV_THREADPOOL_SIZE says otherwise) runs the decodes.
    this.inlineLimit = threads * this.perWorker;
    if (this.inline) {
      // libvips' operation cache would keep decoded images alive across tasks; every input is read once.
      sharp.cache(false);
      return;
    }
    for (let i = 0; i < threads; i++) {
      const w = spawnWorker();
      const slot = { w, busy: new Map<number, Pending>() };
      w.on('message', (msg: PreprocessReply) => {
        const p = slot.busy.get(msg.id);
        if (!p) return;
        slot.busy.delete(msg.id);
        if ('error' in msg) p.reject(new Error(msg.error));
        else p.resolve(msg.data);
        this.pump();
      });
      w.on('error', (err) => this.fail(err));
      w.on('exit', (code) => {
        if (!this.closed) this.fail(new Error(`preprocess worker exited with code ${code}`));
      });
      w.unref();
      this.workers.push(slot);
    }
  }

  /** CHW RGB uint8 tensor of one image (a path, or the file's bytes). */
  run(file: string | Uint8Array): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('preprocess pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, file, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.inline) {
      while (this.queue.length > 0 && this.inlineActive < this.inlineLimit) {
        const p = this.queue.shift()!;
        this.inlineActive++;
        const g = this.opts.geometry;
        // The slot is the decode: freed (and the next decode started) before this image is resampled.
        decodeForCrop(p.file, g, this.maxPixels).then(
          (d) => {
            this.inlineActive--;
            this.pump();
            try {
              p.resolve(finishCrop(d, g));
            } catch (err) {
              p.reject(err as Error);
            }
          },
          (err: unknown) => {
            this.inlineActive--;
            this.pump();
            p.reject(err instanceof Error ? err : new Error(String(err)));
          },
        );
      }
      return;
    }
    while (this.queue.length > 0) {
      let best: (typeof this.workers)[number] | undefined;
      for (const s of this.workers) if (s.busy.size < this.perWorker && (!best || s.busy.size < best.busy.size)) best = s;
      if (!best) return;
      const p = this.queue.shift()!;
      best.busy.set(p.id, p);
      best.w.ref();
      const task: PreprocessTask = { id: p.id, file: p.file, geometry: this.opts.geometry, maxPixels: this.maxPixels };
      best.w.postMessage(task);
    }
    for (const s of this.workers) if (s.busy.size === 0) s.w.unref();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const s of this.workers) {
      for (const p of s.busy.values()) p.reject(err);
      s.busy.clear();
    }
    for (const p of this.queue.splice(0)) p.reject(err);
  }

  async close(): Promise<void> {
    this.closed = true;
    // Images not started yet are not worth decoding; those already decoding finish on their own.
    for (const p of this.queue.splice(0)) p.reject(new Error('preprocess pool is closed'));
    await Promise.all(this.workers.map((s) => s.w.terminate()));
  }
}

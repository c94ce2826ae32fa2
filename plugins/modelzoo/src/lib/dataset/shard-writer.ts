import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/**
 * Appends fixed-size image tensors to shards/shard-NNNNN.bin under a directory, rotating every
 * `shardSize` images and hashing as it writes, so a shard is never read back to checksum it. Tensors
 * are written in batches with one writev each: a write per 150 KB image costs more in per-call overhead
 * than in copying.
 */
export class ShardWriter {
  readonly shards: { file: string; count: number; sha256: string }[] = [];
  private handle: fs.FileHandle | undefined;
  private hash: Hash | undefined;
  private count = 0;
  private file = '';
  private pending: Uint8Array[] = [];
  private static readonly BATCH = 32;

  constructor(
    private readonly dir: string,
    private readonly shardSize: number,
    private readonly imageBytes: number,
  ) {
    if (!Number.isInteger(shardSize) || shardSize < 1) throw new Error(`dataset: invalid shardSize ${shardSize}`);
  }

  /** Queues `image` for the current shard; it is kept by reference until written, so must not change. */
  async append(image: Uint8Array): Promise<void> {
    if (image.length !== this.imageBytes) {
      throw new Error(`dataset: image tensor has ${image.length} bytes, expected ${this.imageBytes}`);
    }
    if (!this.handle) await this.open();
    this.hash!.update(image);
    this.pending.push(image);
    if (this.pending.length >= ShardWriter.BATCH) await this.flush();
    if (++this.count === this.shardSize) await this.finishShard();
  }

  private async open(): Promise<void> {
    this.file = `shards/shard-${String(this.shards.length).padStart(5, '0')}.bin`;
    await fs.mkdir(path.join(this.dir, 'shards'), { recursive: true });
    this.handle = await fs.open(path.join(this.dir, this.file), 'w');
    this.hash = createHash('sha256');
    this.count = 0;
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    let bytes = batch.reduce((n, b) => n + b.length, 0);
    // writev may write less than asked (signals, quotas): continue from where it stopped.
    let views = batch;
    while (bytes > 0) {
      const { bytesWritten } = await this.handle!.writev(views);
      if (bytesWritten <= 0) throw new Error(`dataset: ${this.file}: write made no progress`);
      bytes -= bytesWritten;
      if (bytes === 0) break;
      let skip = bytesWritten;
      const rest: Uint8Array[] = [];
      for (const v of views) {
        if (skip >= v.length) skip -= v.length;
        else {
          rest.push(skip > 0 ? v.subarray(skip) : v);
          skip = 0;
        }
      }
      views = rest;
    }
  }

  private async finishShard(): Promise<void> {
    await this.flush();
    await this.handle!.close();
    this.shards.push({ file: this.file, count: this.count, sha256: this.hash!.digest('hex') });
    this.handle = undefined;
  }

  /** Closes the last (partial) shard. */
  async finish(): Promise<void> {
    if (this.handle) await this.finishShard();
  }

  /** Closes without recording, after a failure. */
  async abort(): Promise<void> {
    this.pending = [];
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }
}

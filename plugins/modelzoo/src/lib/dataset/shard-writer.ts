import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/**
 * Appends fixed-size image tensors to shards/shard-NNNNN.bin under a directory, rotating every
 * `shardSize` images and hashing as it writes, so a shard is never read back to checksum it.
 */
export class ShardWriter {
  readonly shards: { file: string; count: number; sha256: string }[] = [];
  private handle: fs.FileHandle | undefined;
  private hash: Hash | undefined;
  private count = 0;
  private file = '';

  constructor(
    private readonly dir: string,
    private readonly shardSize: number,
    private readonly imageBytes: number,
  ) {
    if (!Number.isInteger(shardSize) || shardSize < 1) throw new Error(`dataset: invalid shardSize ${shardSize}`);
  }

  async append(image: Uint8Array): Promise<void> {
    if (image.length !== this.imageBytes) {
      throw new Error(`dataset: image tensor has ${image.length} bytes, expected ${this.imageBytes}`);
    }
    if (!this.handle) await this.open();
    await this.handle!.write(image);
    this.hash!.update(image);
    if (++this.count === this.shardSize) await this.finishShard();
  }

  private async open(): Promise<void> {
    this.file = `shards/shard-${String(this.shards.length).padStart(5, '0')}.bin`;
    await fs.mkdir(path.join(this.dir, 'shards'), { recursive: true });
    this.handle = await fs.open(path.join(this.dir, this.file), 'w');
    this.hash = createHash('sha256');
    this.count = 0;
  }

  private async finishShard(): Promise<void> {
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
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ShardWriter } from '../../plugins/modelzoo/src/lib/dataset/shard-writer';

test('shard writer: batched writes keep order, rotate at shardSize and hash what is on disk', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shards-'));
  const imageBytes = 1000;
  // 150 images in shards of 70: batches (32) straddle shard ends and the last shard is partial.
  const images = Array.from({ length: 150 }, (_, i) => new Uint8Array(imageBytes).map((_, k) => (i * 7 + k) & 255));
  const w = new ShardWriter(dir, 70, imageBytes);
  for (const img of images) await w.append(img);
  await w.finish();
  assert.deepEqual(w.shards.map((s) => [s.file, s.count]), [
    ['shards/shard-00000.bin', 70],
    ['shards/shard-00001.bin', 70],
    ['shards/shard-00002.bin', 10],
  ]);
  let first = 0;
  for (const s of w.shards) {
    const bytes = fs.readFileSync(path.join(dir, s.file));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), s.sha256, s.file);
    const expected = Buffer.concat(images.slice(first, first + s.count));
    assert.equal(Buffer.compare(bytes, expected), 0, `${s.file}: images in append order`);
    first += s.count;
  }
  await assert.rejects(w.append(new Uint8Array(3)), /3 bytes, expected 1000/);
  fs.rmSync(dir, { recursive: true, force: true });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { openDataset } from '../../plugins/modelzoo/src/lib/dataset/reader';
import { fromFp16Bits, roundFp16, toFp16Bits } from '../../plugins/modelzoo/src/lib/vastai/fp16';
import { decodeNpz, encodeNpz, npyToFloat64 } from '../../plugins/modelzoo/src/lib/vastai/npy';
import { writeTinyDataset } from '../helpers/tiny-dataset';
import { NPZ_DATALIST, NPZ_LABELS, writeNpzDataset } from '../../plugins/modelzoo/src/lib/vastai/npz-dataset';

const PY = '/usr/bin/python3';
const hasNumpy = fs.existsSync(PY) && spawnSync(PY, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
const skipNumpy = hasNumpy ? false : 'python3 with numpy not available';

test('fp16 conversion rounds as numpy float16 does (the zoo files\' bit patterns)', () => {
  const cases: [number, number][] = [
    [0.485, 14275], [0.456, 14156], [0.406, 13951], [0.229, 13140], [0.224, 13099], [0.225, 13107],
    [123.675, 22459], [116.28, 22340], [103.53, 22136], [58.395, 21325], [57.12, 21284], [57.375, 21292],
    [1, 15360], [127.5, 22520], [0, 0], [65504, 31743], [1e6, 31744], [-2, 49152], [6e-8, 1],
  ];
  for (const [v, bits] of cases) assert.equal(toFp16Bits(v), bits, `fp16(${v})`);
  assert.equal(fromFp16Bits(14275), 0.485107421875);
  assert.equal(roundFp16(0.229), 0.22900390625);
  // ties go to even: 2049 lies halfway between 2048 and 2050.
  assert.equal(roundFp16(2049), 2048);
  assert.equal(roundFp16(2051), 2052);
});

test('npz round trip: uint8 input, float16 and float32 outputs', () => {
  const u8 = new Uint8Array(3 * 4 * 5).map((_, i) => i);
  const f16 = new Uint8Array(4);
  new DataView(f16.buffer).setUint16(0, toFp16Bits(1.5), true);
  new DataView(f16.buffer).setUint16(2, toFp16Bits(-0.25), true);
  const bytes = encodeNpz({ input_0: { dtype: '|u1', shape: [3, 4, 5], data: u8 }, output_0: { dtype: '<f2', shape: [1, 2], data: f16 } });
  const back = decodeNpz(bytes, 'mem');
  assert.deepEqual(back['input_0']!.shape, [3, 4, 5]);
  assert.deepEqual(Array.from(back['input_0']!.data), Array.from(u8));
  assert.deepEqual(Array.from(npyToFloat64(back['output_0']!)), [1.5, -0.25]);
  assert.throws(() => decodeNpz(new Uint8Array([1, 2, 3]), 'junk.npz'), /junk\.npz: not a readable \.npz/);
});

test('numpy.load reads our npz and we read numpy\'s (savez and savez_compressed)', { skip: skipNumpy }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'npz-'));
  const u8 = new Uint8Array(3 * 2 * 2).map((_, i) => 10 * i);
  fs.writeFileSync(path.join(dir, 'ours.npz'), encodeNpz({ input_0: { dtype: '|u1', shape: [3, 2, 2], data: u8 } }));
  const script = [
    'import numpy as np, sys',
    `d = np.load(sys.argv[1] + "/ours.npz")`,
    'a = d["input_0"]',
    'print(a.dtype, a.shape, int(a[2,1,1]), a.flags["C_CONTIGUOUS"])',
    `np.savez(sys.argv[1] + "/theirs.npz", output_0=np.arange(6, dtype=np.float16).reshape(1, 6) / 4)`,
    `np.savez_compressed(sys.argv[1] + "/theirs_c.npz", output_0=np.arange(6, dtype=np.float32).reshape(1, 6) * 2)`,
  ].join('\n');
  const r = spawnSync(PY, ['-c', script, dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'uint8 (3, 2, 2) 110 True');
  const theirs = decodeNpz(fs.readFileSync(path.join(dir, 'theirs.npz')), 'theirs')['output_0']!;
  assert.equal(theirs.dtype, '<f2');
  assert.deepEqual(theirs.shape, [1, 6]);
  assert.deepEqual(Array.from(npyToFloat64(theirs)), [0, 0.25, 0.5, 0.75, 1, 1.25]);
  const compressed = decodeNpz(fs.readFileSync(path.join(dir, 'theirs_c.npz')), 'theirs_c')['output_0']!;
  assert.deepEqual(Array.from(npyToFloat64(compressed)), [0, 2, 4, 6, 8, 10]);
});

test('writeNpzDataset: one npz per image with input_0, absolute datalist, labels, resumable', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'npzds-'));
  writeTinyDataset(path.join(root, 'ds'), { count: 7, size: 16, classes: 3, names: 'imagenet', calibration: 4, shardSize: Math.ceil(7 / 2), resizeSize: 16 + 8 });
  const ds = await openDataset(path.join(root, 'ds'));
  try {
    const out = path.join(root, 'npz');
    const first = await writeNpzDataset(ds, out);
    assert.equal(first.written, 7);
    assert.equal(first.skipped, 0);
    const list = fs.readFileSync(path.join(out, NPZ_DATALIST), 'utf8').trim().split('\n');
    assert.equal(list.length, 7);
    assert.ok(list.every((p) => path.isAbsolute(p) && p.endsWith('.npz') && fs.existsSync(p)));
    assert.match(list[4]!, /npz\/n00000001\/ILSVRC2012_val_00000005\.npz$/);
    const expected = await ds.readImages([4]);
    const arr = decodeNpz(fs.readFileSync(list[4]!), list[4]!)['input_0']!;
    assert.equal(arr.dtype, '|u1');
    assert.deepEqual(arr.shape, [3, 16, 16]);
    assert.deepEqual(Buffer.from(arr.data), Buffer.from(expected));
    assert.equal(fs.readFileSync(path.join(out, NPZ_LABELS), 'utf8').trim().split('\n')[4], `${list[4]} 1`);

    // A killed run leaves some files missing and maybe a stale temp; the rerun writes only those.
    fs.rmSync(list[2]!);
    fs.writeFileSync(list[3]!, 'truncated');
    const again = await writeNpzDataset(ds, out);
    assert.equal(again.written, 2);
    assert.equal(again.skipped, 5);
    assert.deepEqual(decodeNpz(fs.readFileSync(list[3]!), 'x')['input_0']!.shape, [3, 16, 16]);
  } finally {
    await ds.close();
  }
  // Another dataset into the same directory is refused, not mixed in.
  writeTinyDataset(path.join(root, 'other'), { count: 7, size: 16, classes: 3, seed: 99, names: 'imagenet', calibration: 4, shardSize: Math.ceil(7 / 2), resizeSize: 16 + 8 });
  const other = await openDataset(path.join(root, 'other'));
  try {
    await assert.rejects(writeNpzDataset(other, path.join(root, 'npz')), /written from another dataset/);
  } finally {
    await other.close();
  }
});

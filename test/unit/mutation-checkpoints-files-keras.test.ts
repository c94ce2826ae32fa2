import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HDF5_MAGIC, isHdf5, readKerasH5 } from '../../plugins/modelzoo/src/lib/checkpoints/keras-h5';
import { kerasLayer, writeH5 } from '../helpers/mutation-checkpoints-files-builders';

// Keras HDF5 weights: h5py-written fixtures (test/fixtures/mutation-checkpoints-files/make_fixtures.py)
// against the values numpy held, then h5wasm-written files for the layouts a reader must refuse.
const FIX = path.join(__dirname, '../fixtures/mutation-checkpoints-files');
const expected = (JSON.parse(fs.readFileSync(path.join(FIX, 'expected.json'), 'utf8')) as Record<string, Record<string, { shape: number[]; values: number[] }>>)['keras']!;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mz-ckfl-keras-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const tmp = (name: string) => path.join(dir, `${n++}-${name}`);

async function withEnv<T>(name: string, value: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env[name];
  process.env[name] = value;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  }
}

for (const [fixture, fullModel, version] of [
  ['weights.h5', false, '2.11.0'],
  ['full.h5', true, '2.11.0'],
] as const) {
  test(`${fixture}: every weight keyed <layer>/<variable> with numpy's shape and values (fullModel ${fullModel})`, async () => {
    const file = path.join(FIX, fixture);
    const k = await readKerasH5(file);
    assert.equal(k.fullModel, fullModel);
    assert.equal(k.kerasVersion, version, 'the file-level keras_version wins over model_weights/');
    assert.deepEqual(k.layerNames, ['input_1', 'Conv1', 'bn_Conv1']);
    assert.deepEqual([...k.state.keys()], ['Conv1/kernel', 'bn_Conv1/gamma', 'bn_Conv1/beta', 'bn_Conv1/moving_mean']);
    for (const [key, w] of Object.entries(expected)) {
      const t = k.state.get(key)!;
      assert.deepEqual(t.shape, w.shape, key);
      assert.deepEqual(t.strides, w.shape.length === 4 ? [6, 6, 3, 1] : [1], key);
      assert.equal(t.offset, 0);
      assert.deepEqual([...t.toFloat32()], w.values.map(Math.fround), key);
    }
    assert.equal(k.state.get('Conv1/kernel')!.dtype, 'float32');
    assert.equal(k.state.get('bn_Conv1/gamma')!.dtype, 'float64');
    assert.equal(k.state.get('bn_Conv1/beta')!.dtype, 'float32', "'>f4' reads as float32");
    assert.equal(k.state.get('bn_Conv1/moving_mean')!.dtype, 'float64', "'>f8' reads as float64");
    assert.equal(k.state.get('Conv1/kernel')!.storage.name, `${file}:Conv1/Conv1/kernel:0`);
    assert.equal(k.state.get('bn_Conv1/gamma')!.storage.bytes!.byteLength, 24);
  });
}

test('half floats and integers are not weights: refused naming the weight and the HDF5 type', async () => {
  const f16 = path.join(FIX, 'float16.h5');
  await assert.rejects(
    readKerasH5(f16),
    (e: Error) =>
      e.message ===
      `${f16}: weight 'Conv1/Conv1/kernel:0': unsupported dataset type <e (expected float32 or float64 weights; float16 datasets cannot be read, re-save the weights as float32)`,
  );
  // uint16 once read as float16 bit patterns: 3 would have become 1.8e-7.
  const u16 = path.join(FIX, 'uint16.h5');
  await assert.rejects(readKerasH5(u16), (e: Error) => e.message === `${u16}: weight 'Conv1/Conv1/kernel:0': unsupported dataset type <H (expected float32 or float64 weights)`);
  const i32 = tmp('int.h5');
  await writeH5(i32, (f) => {
    f.create_attribute('layer_names', ['d']);
    kerasLayer(f, 'd', [['d/kernel:0', Int32Array.from([1, 2]), [2]]]);
  });
  await assert.rejects(readKerasH5(i32), (e: Error) => e.message === `${i32}: weight 'd/d/kernel:0': unsupported dataset type <i (expected float32 or float64 weights)`);
});

test('layer and weight names: the variable is the last path part without its :N suffix; weightless layers are listed', async () => {
  const file = tmp('names.h5');
  await writeH5(file, (f) => {
    f.create_attribute('layer_names', ['a', 'empty', 'nown', 'b']);
    kerasLayer(f, 'a', [
      ['a/x/kernel:0', Float32Array.from([1, 2]), [2]],
      ['bias', Float32Array.from([3]), [1]],
      ['a/v:12', Float32Array.from([4]), [1]],
      ['a/w:0x', Float32Array.from([5]), [1]],
      ['a/s:0', Float32Array.from([6]), []],
      ['a/d:0', 0.1, [], '<d'],
    ]);
    kerasLayer(f, 'empty', []);
    f.create_group('nown');
    kerasLayer(f, 'b', [['b/m:0', new Float64Array(0), [2, 0, 3]]]);
    f.create_attribute('keras_version', '3.1');
  });
  const k = await readKerasH5(file);
  assert.equal(k.fullModel, false);
  assert.equal(k.kerasVersion, '3.1');
  assert.deepEqual(k.layerNames, ['a', 'empty', 'nown', 'b']);
  assert.deepEqual([...k.state.keys()], ['a/kernel', 'a/bias', 'a/v', 'a/w:0x', 'a/s', 'a/d', 'b/m']);
  assert.deepEqual([...k.state.get('a/kernel')!.toFloat32()], [1, 2]);
  assert.deepEqual([...k.state.get('a/bias')!.toFloat32()], [3]);
  assert.deepEqual(k.state.get('a/s')!.shape, []);
  assert.deepEqual([...k.state.get('a/s')!.toFloat32()], [6]);
  // Scalars read as plain numbers, kept at their own width: 0.1 as a float64 is not float32's 0.1.
  assert.equal(k.state.get('a/s')!.dtype, 'float32');
  assert.equal(k.state.get('a/s')!.storage.bytes!.byteLength, 4);
  assert.equal(k.state.get('a/d')!.dtype, 'float64');
  assert.deepEqual([...new Float64Array(k.state.get('a/d')!.storage.bytes!.slice().buffer)], [0.1]);
  assert.deepEqual(k.state.get('b/m')!.shape, [2, 0, 3]);
  assert.deepEqual(k.state.get('b/m')!.strides, [0, 3, 1]);
  assert.equal(k.state.get('b/m')!.size, 0);
});

test('which group holds the layers: model_weights/ only with model_config; versions from the file, else the root, else none', async () => {
  const both = tmp('both.h5');
  await writeH5(both, (f) => {
    f.create_attribute('model_config', '{}');
    f.create_group('model_weights');
    const mw = f.get('model_weights')!;
    mw.create_attribute('layer_names', ['in']);
    mw.create_attribute('keras_version', '2.2.4');
    kerasLayer(mw, 'in', [['in/k:0', Float32Array.from([7]), [1]]]);
    f.create_attribute('layer_names', ['out']);
    kerasLayer(f, 'out', [['out/k:0', Float32Array.from([8]), [1]]]);
  });
  const full = await readKerasH5(both);
  assert.equal(full.fullModel, true);
  assert.deepEqual([...full.state.keys()], ['in/k']);
  assert.equal(full.kerasVersion, '2.2.4', 'from model_weights/ when the file has none');

  // model_weights/ without model_config: a weights file that happens to have such a group.
  const noConfig = tmp('noconfig.h5');
  await writeH5(noConfig, (f) => {
    f.create_group('model_weights');
    f.get('model_weights')!.create_attribute('layer_names', ['in']);
    f.create_attribute('layer_names', ['out']);
    kerasLayer(f, 'out', [['out/k:0', Float32Array.from([8]), [1]]]);
  });
  const w = await readKerasH5(noConfig);
  assert.equal(w.fullModel, false);
  assert.deepEqual([...w.state.keys()], ['out/k']);
  assert.equal(w.kerasVersion, undefined);

  // model_config without model_weights/: the root.
  const noGroup = tmp('nogroup.h5');
  await writeH5(noGroup, (f) => {
    f.create_attribute('model_config', '{}');
    f.create_attribute('layer_names', 'out');
    kerasLayer(f, 'out', [['out/k:0', Float32Array.from([8]), [1]]]);
  });
  const g = await readKerasH5(noGroup);
  assert.equal(g.fullModel, false);
  assert.deepEqual(g.layerNames, ['out'], 'a scalar layer_names names one layer');
  assert.deepEqual([...g.state.keys()], ['out/k']);

  // Numeric layer names name groups by their digits.
  const numeric = tmp('numeric.h5');
  await writeH5(numeric, (f) => {
    f.create_attribute('layer_names', Int32Array.from([12, 3]), [2], '<i');
    kerasLayer(f, '12', [['12/k:0', Float32Array.from([1]), [1]]]);
    kerasLayer(f, '3', []);
  });
  assert.deepEqual((await readKerasH5(numeric)).layerNames, ['12', '3']);
});

test('files that are not Keras weights are refused by name', async () => {
  const bare = tmp('bare.h5');
  await writeH5(bare, (f) => f.create_group('x'));
  await assert.rejects(
    readKerasH5(bare),
    (e: Error) =>
      e.message === `${bare}: not a Keras HDF5 weights file (no 'layer_names' attribute); Keras 3 '.weights.h5' files are not supported, re-save with model.save('x.h5')`,
  );
  const fullBare = tmp('fullbare.h5');
  await writeH5(fullBare, (f) => {
    f.create_attribute('model_config', '{}');
    f.create_attribute('layer_names', ['x']);
    f.create_group('model_weights');
  });
  await assert.rejects(readKerasH5(fullBare), (e: Error) => e.message.startsWith(`${fullBare}: not a Keras HDF5 weights file (no 'layer_names' attribute in model_weights); Keras 3`));

  const noGroup = tmp('nolayer.h5');
  await writeH5(noGroup, (f) => {
    f.create_attribute('layer_names', ['a', 'ghost']);
    kerasLayer(f, 'a', []);
  });
  await assert.rejects(readKerasH5(noGroup), (e: Error) => e.message === `${noGroup}: layer 'ghost' listed in layer_names has no group`);

  const noWeight = tmp('noweight.h5');
  await writeH5(noWeight, (f) => {
    f.create_attribute('layer_names', ['a']);
    f.create_group('a');
    f.get('a')!.create_attribute('weight_names', ['a/k:0', 'a/sub']);
    f.get('a')!.create_group('a');
    f.get('a')!.create_dataset({ name: 'a/k:0', data: Float32Array.from([1]), shape: [1] });
    f.get('a')!.create_group('a/sub');
  });
  await assert.rejects(readKerasH5(noWeight), (e: Error) => e.message === `${noWeight}: weight 'a/a/sub' is missing`);
  const ghostWeight = tmp('ghostweight.h5');
  await writeH5(ghostWeight, (f) => {
    f.create_attribute('layer_names', ['a']);
    f.create_group('a');
    f.get('a')!.create_attribute('weight_names', ['a/none:0']);
  });
  await assert.rejects(readKerasH5(ghostWeight), (e: Error) => e.message === `${ghostWeight}: weight 'a/a/none:0' is missing`);

  // HDF5's signature, then nothing HDF5 can read; and no file at all.
  const fake = tmp('fake.h5');
  fs.writeFileSync(fake, Buffer.concat([Buffer.from(HDF5_MAGIC), Buffer.alloc(100, 7)]));
  await assert.rejects(readKerasH5(fake), (e: Error) => e.message === `${fake}: not a readable HDF5 file (damaged, truncated, or not HDF5 past its signature)`);
  const folder = tmp('folder.h5');
  fs.mkdirSync(folder);
  await assert.rejects(readKerasH5(folder), (e: Error) => e.message === `${folder}: not a readable HDF5 file (damaged, truncated, or not HDF5 past its signature)`);
  const none = path.join(dir, 'none.h5');
  await assert.rejects(readKerasH5(none), (e: Error) => e.message === `cannot read Keras weights ${none}: no such file`);
});

test('the file size cap and the declared-bytes cap: equal passes, one more is refused naming the weight', async () => {
  const file = tmp('caps.h5');
  await writeH5(file, (f) => {
    f.create_attribute('layer_names', ['a', 'b']);
    kerasLayer(f, 'a', [['a/k:0', new Float32Array(6), [2, 3]]]);
    kerasLayer(f, 'b', [['b/k:0', new Float32Array(4), [4]], ['b/j:0', new Float32Array(1), [1]]]);
  });
  // Declared bytes count 8 per element, summed over the weights read so far: 48, 80, 88.
  assert.equal((await withEnv('MODELZOO_MAX_ARCHIVE_BYTES', '88', () => readKerasH5(file))).state.size, 3);
  await assert.rejects(
    withEnv('MODELZOO_MAX_ARCHIVE_BYTES', '87', () => readKerasH5(file)),
    (e: Error) => e.message === `${file}: weights up to 'b/b/j:0' declare more than 87 B; refused (set MODELZOO_MAX_ARCHIVE_BYTES to raise the cap for a trusted file)`,
  );
  await assert.rejects(withEnv('MODELZOO_MAX_ARCHIVE_BYTES', '79', () => readKerasH5(file)), /weights up to 'b\/b\/k:0' declare more than 79 B/);
  await assert.rejects(withEnv('MODELZOO_MAX_ARCHIVE_BYTES', '47', () => readKerasH5(file)), /weights up to 'a\/a\/k:0' declare more than 47 B/);
  assert.equal((await withEnv('MODELZOO_MAX_ARCHIVE_BYTES', '120', () => readKerasH5(path.join(FIX, 'weights.h5')))).state.size, 4);

  const size = fs.statSync(file).size;
  assert.equal((await withEnv('MODELZOO_MAX_FILE_BYTES', String(size), () => readKerasH5(file))).state.size, 3);
  await assert.rejects(
    withEnv('MODELZOO_MAX_FILE_BYTES', String(size - 1), () => readKerasH5(file)),
    (e: Error) => e.message === `${file} is ${(size / 1024).toFixed(1)} KiB, more than ${((size - 1) / 1024).toFixed(1)} KiB; refused (set MODELZOO_MAX_FILE_BYTES to raise the cap)`,
  );
});

test('a dataset declaring 2^60 elements is refused from its shape, before any read', async () => {
  const file = path.join(FIX, 'huge.h5');
  await assert.rejects(readKerasH5(file), (e: Error) => e.message === `${file}: weight 'a/a/k:0' has a bad shape [1152921504606847000]`);
});

test('names stored as variable-length byte sequences are decoded as UTF-8', async () => {
  const k = await readKerasH5(path.join(FIX, 'vlen-names.h5'));
  assert.deepEqual(k.layerNames, ['b\u00e9']);
  assert.deepEqual([...k.state.keys()], ['b\u00e9/k']);
  assert.deepEqual([...k.state.get('b\u00e9/k')!.toFloat32()], [1.5]);
});

test('the file is closed after reading, whether it succeeded or failed: HDF5 can then rewrite it', async () => {
  const file = tmp('rewrite.h5');
  const write = (v: number) =>
    writeH5(file, (f) => {
      f.create_attribute('layer_names', ['a']);
      kerasLayer(f, 'a', [['a/k:0', Float32Array.from([v]), [1]]]);
    });
  await write(1);
  assert.deepEqual([...(await readKerasH5(file)).state.get('a/k')!.toFloat32()], [1]);
  await write(2);
  assert.deepEqual([...(await readKerasH5(file)).state.get('a/k')!.toFloat32()], [2]);
  await writeH5(file, (f) => f.create_attribute('layer_names', ['gone']));
  await assert.rejects(readKerasH5(file), /layer 'gone' listed in layer_names has no group/);
  await write(3);
  assert.deepEqual([...(await readKerasH5(file)).state.get('a/k')!.toFloat32()], [3]);
});

test('isHdf5: all eight signature bytes, at the start', () => {
  assert.deepEqual(HDF5_MAGIC, [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(isHdf5(Uint8Array.from(HDF5_MAGIC)), true);
  assert.equal(isHdf5(Uint8Array.from([...HDF5_MAGIC, 0])), true);
  for (let i = 0; i < 8; i++) {
    const head = Uint8Array.from(HDF5_MAGIC);
    head[i] ^= 0x01;
    assert.equal(isHdf5(head), false, `byte ${i}`);
  }
  assert.equal(isHdf5(Uint8Array.from(HDF5_MAGIC.slice(0, 7))), false);
  assert.equal(isHdf5(Uint8Array.from([0, ...HDF5_MAGIC])), false);
});

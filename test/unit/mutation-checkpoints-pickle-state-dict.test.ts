import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NdArray } from '../../plugins/modelzoo/src/lib/checkpoints/ndarray';
import { NUMPY_GLOBALS, NpArray } from '../../plugins/modelzoo/src/lib/checkpoints/numpy-globals';
import { OrderedDict, SETSTATE } from '../../plugins/modelzoo/src/lib/checkpoints/pickle';
import { extractStateDict, permute } from '../../plugins/modelzoo/src/lib/checkpoints/state-dict';

const t = (...v: number[]) => new NdArray({ dtype: 'float32', bytes: new Uint8Array(Float32Array.from(v).buffer), name: 'x' }, [v.length], [1], 0);
const dict = (...entries: [unknown, unknown][]) => new Map<unknown, unknown>(entries);
const WRAPPERS = 'state_dict, model_state_dict, model, net, params';

test('top level that is not a dict: the error names the file and what was found', () => {
  const cases: [unknown, string][] = [
    [null, 'None'],
    [[t(1)], 'a list'],
    [[], 'a list'],
    [t(1), 'a single tensor'],
    [5, 'number'],
    ['w', 'string'],
    [undefined, 'undefined'],
    [{ a: t(1) }, 'object'],
    [new Set([t(1)]), 'object'],
  ];
  for (const [v, what] of cases) {
    assert.throws(() => extractStateDict(v, 'ck.pth'), (e: Error) => e.message === `ck.pth: expected a dict of tensors at the top level, got ${what}`, what);
  }
});

test('a bare state dict: tensors in file order, string keys only, non-tensors skipped, no wrapper or meta', () => {
  const a = t(1);
  const b = t(2);
  const np = new NpArray();
  np[SETSTATE]([1, [1], NUMPY_GLOBALS['numpy.dtype']!.call(['f4']), false, new Uint8Array(4)]);
  const obj = dict(['z.weight', a], ['name_table', dict(['z', 'y'])], [7, t(3)], ['a.bias', b], ['np', np], ['meta', { epoch: 3 }], ['none', null]);
  const r = extractStateDict(obj, 'ck.pth');
  assert.deepEqual([...r.state.keys()], ['z.weight', 'a.bias', 'np']);
  assert.equal(r.state.get('z.weight'), a);
  assert.equal(r.state.get('np'), np.array);
  assert.equal(r.wrapper, undefined);
  assert.equal(r.meta, undefined);
  // an OrderedDict (torch's state dict type) is a dict too
  const od = new OrderedDict();
  od.set('w', a);
  assert.deepEqual([...extractStateDict(od, 'ck.pth').state.keys()], ['w']);
});

test('wrapped state dicts: each wrapper key, most specific first, only when it holds tensors; meta comes along', () => {
  for (const k of ['state_dict', 'model_state_dict', 'model', 'net', 'params']) {
    const inner = dict(['w', t(1)]);
    const r = extractStateDict(dict(['epoch', 3], [k, inner], ['meta', 'M']), 'ck.pth');
    assert.equal(r.wrapper, k);
    assert.equal(r.meta, 'M');
    assert.deepEqual([...r.state.keys()], ['w']);
  }
  const order = dict(['params', dict(['p', t(1)])], ['net', dict(['n', t(1)])], ['model', dict(['m', t(1)])], ['model_state_dict', dict(['msd', t(1)])], ['state_dict', dict(['sd', t(1)])]);
  const r1 = extractStateDict(order, 'ck.pth');
  assert.deepEqual([r1.wrapper, [...r1.state.keys()], r1.meta], ['state_dict', ['sd'], undefined]);
  // a wrapper key that is not a dict, or a dict without tensors, is passed over
  const r2 = extractStateDict(dict(['state_dict', [t(1)]], ['model_state_dict', dict(['x', 1])], ['model', 'resnet'], ['net', dict(['n', t(1)])]), 'ck.pth');
  assert.deepEqual([r2.wrapper, [...r2.state.keys()]], ['net', ['n']]);
  // tensors at the top level win over any wrapper key
  const r3 = extractStateDict(dict(['state_dict', dict(['sd', t(1)])], ['top', t(2)], ['meta', 'M']), 'ck.pth');
  assert.deepEqual([r3.wrapper, [...r3.state.keys()], r3.meta], [undefined, ['top'], undefined]);
});

test('no state dict anywhere: the error lists the top-level keys and the wrappers looked for', () => {
  assert.throws(
    () => extractStateDict(dict(['epoch', 3], [4, 'x'], ['state_dict', dict(['a', 1])], ['ema', [t(1)]]), 'ck.pth'),
    (e: Error) => e.message === `ck.pth: no state dict found (top-level keys: epoch, 4, state_dict, ema; looked for ${WRAPPERS})`,
  );
  assert.throws(() => extractStateDict(new Map(), 'e.pth'), (e: Error) => e.message === `e.pth: no state dict found (top-level keys: none; looked for ${WRAPPERS})`);
});

test("DataParallel's module. prefix is dropped only when every tensor key has it", () => {
  const a = t(1);
  const r = extractStateDict(dict(['module.conv.weight', a], ['module.fc.bias', t(2)], ['modulex', 'not a tensor']), 'ck.pth');
  assert.deepEqual([...r.state.keys()], ['conv.weight', 'fc.bias']);
  assert.equal(r.state.get('conv.weight'), a);
  assert.equal(r.meta, undefined);
  const mixed = extractStateDict(dict(['module.conv.weight', a], ['fc.bias', t(2)]), 'ck.pth');
  assert.deepEqual([...mixed.state.keys()], ['module.conv.weight', 'fc.bias']);
  const noDot = extractStateDict(dict(['moduleconv.weight', a], ['module.fc', t(2)]), 'ck.pth');
  assert.deepEqual([...noDot.state.keys()], ['moduleconv.weight', 'module.fc']);
  const wrapped = extractStateDict(dict(['state_dict', dict(['module.w', a])], ['meta', 'M']), 'ck.pth');
  assert.deepEqual([wrapped.wrapper, [...wrapped.state.keys()], wrapped.meta], ['state_dict', ['w'], 'M']);
  // a dict whose only tensor has a non-string key yields an empty state
  const none = extractStateDict(dict([1, a], ['meta', 'M']), 'ck.pth');
  assert.deepEqual([none.state.size, none.wrapper, none.meta], [0, undefined, undefined]);
});

test('permute: a view with axes reordered over the same storage; the rank must match', () => {
  const bytes = new Uint8Array(Float32Array.from({ length: 30 }, (_, i) => i).buffer);
  const a = new NdArray({ dtype: 'float32', bytes, name: 's' }, [2, 3, 4], [12, 4, 1], 5, false);
  const p = permute(a, [2, 0, 1]);
  assert.deepEqual([p.shape, p.strides, p.offset, p.littleEndian], [[4, 2, 3], [1, 12, 4], 5, false]);
  assert.equal(p.storage, a.storage);
  const le = new NdArray({ dtype: 'float32', bytes, name: 's' }, [2, 3], [3, 1], 1);
  const tr = permute(le, [1, 0]);
  assert.equal(tr.littleEndian, true);
  assert.deepEqual([...tr.toFloat32()], [1, 4, 2, 5, 3, 6]);
  assert.throws(() => permute(a, [1, 0]), (e: Error) => e.message === 'cannot permute a 3-d tensor with [1,0]');
  assert.throws(() => permute(le, [0, 1, 2]), (e: Error) => e.message === 'cannot permute a 2-d tensor with [0,1,2]');
});

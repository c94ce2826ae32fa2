import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_GLOBALS, PyObject, UnpicklingError, unpickle } from '../../plugins/modelzoo/src/lib/checkpoints/pickle';
import { pk } from '../helpers/mutation-checkpoints-pickle-fixtures';

const load = (data: Uint8Array, where = 'f.pkl') => unpickle(data, { globals: BASE_GLOBALS, where }).value;
const failsWith = (message: string) => (e: unknown) => {
  assert.ok(e instanceof UnpicklingError, String(e));
  assert.equal(e.message, message);
  return true;
};

test('MODELZOO_MAX_PICKLE_OPS caps the opcodes one pickle may run: the cap itself is allowed, one more is refused', () => {
  const saved = process.env.MODELZOO_MAX_PICKLE_OPS;
  process.env.MODELZOO_MAX_PICKLE_OPS = '3';
  try {
    assert.equal(load(pk('K\x01K\x02.')), 2); // 3 opcodes
    assert.throws(
      () => load(pk('K\x01K\x02\x86.'), 'ops.pkl'), // 4 opcodes: refused before the 4th is read
      failsWith('ops.pkl: more than 3 pickle operations; refused (set MODELZOO_MAX_PICKLE_OPS to raise the cap for a trusted file) (pickle offset 5)'),
    );
    process.env.MODELZOO_MAX_PICKLE_OPS = '1';
    assert.throws(() => load(pk('N.'), 'one.pkl'), failsWith('one.pkl: more than 1 pickle operations; refused (set MODELZOO_MAX_PICKLE_OPS to raise the cap for a trusted file) (pickle offset 1)'));
  } finally {
    if (saved === undefined) delete process.env.MODELZOO_MAX_PICKLE_OPS;
    else process.env.MODELZOO_MAX_PICKLE_OPS = saved;
  }
});

test('a negative BINSTRING length is refused with the offset, before it can move the read position back', () => {
  assert.throws(() => load(pk('T\xff\xff\xff\xff.'), 'neg.pkl'), failsWith('neg.pkl: negative length -1 (pickle offset 5)'));
  assert.throws(() => load(pk('K\x01T\xfe\xff\xff\xffab.'), 'neg.pkl'), failsWith('neg.pkl: negative length -2 (pickle offset 7)'));
});

test('text integers may carry the spaces Python\'s int() accepts; anything else is malformed', () => {
  assert.deepEqual(load(pk('(I 12 \nL -3L\nI\t+4\nl.')), [12, -3, 4]);
  assert.deepEqual(load(pk('K\x05p 3\n0g3 \n.')), 5);
  assert.throws(() => load(pk('I1 2\n.')), failsWith("f.pkl: malformed integer '1 2' (pickle offset 5)"));
  assert.throws(() => load(pk('I \n.')), failsWith("f.pkl: malformed integer ' ' (pickle offset 3)"));
});

test('EMPTY_LIST and EMPTY_TUPLE both push a fresh empty array; lists grow by APPEND', () => {
  const v = load(pk('(]K\x01a)]l.')) as unknown[][];
  assert.deepEqual(v, [[1], [], []]);
  assert.notEqual(v[1], v[2]);
});

test('calling a value that is not an allowlisted global is refused, whatever it looks like', () => {
  // an inert stand-in has a qualname but no call; a dict has neither
  assert.throws(() => load(pk('cargparse\nNamespace\n)\x81)R.'), 'c.pkl'), failsWith('c.pkl: REDUCE on a value that is not an allowlisted global (pickle offset 24)'));
  assert.throws(() => load(pk('})R.'), 'c.pkl'), failsWith('c.pkl: REDUCE on a value that is not an allowlisted global (pickle offset 3)'));
  assert.throws(() => load(pk('K\x01)R.'), 'c.pkl'), failsWith('c.pkl: REDUCE on a value that is not an allowlisted global (pickle offset 4)'));
  assert.throws(() => load(pk('N)R.'), 'c.pkl'), failsWith('c.pkl: REDUCE on a value that is not an allowlisted global (pickle offset 3)'));
  assert.ok(load(pk('cargparse\nNamespace\n)\x81.')) instanceof PyObject);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnpicklingError, unpickle } from '../../plugins/modelzoo/src/lib/checkpoints/pickle';

// Found by the unpickler fuzz property: BINSTRING's 4-byte length is signed, and a negative one used to
// move the read position backwards into a TypeError instead of a refusal.
test('a negative BINSTRING length is an UnpicklingError naming the file, not a crash', () => {
  const data = (op: number) => Uint8Array.from([0x80, 2, op, 0, 0, 0, 0x97, 0x2e]);
  assert.throws(() => unpickle(data(0x54), { globals: {}, where: 'neg.pkl' }), (e: Error) => e instanceof UnpicklingError && /^neg\.pkl: negative length -\d+/.test(e.message));
  // BINBYTES' length is unsigned: the same bytes claim 2.5 GB and are refused as truncated.
  assert.throws(() => unpickle(data(0x42), { globals: {}, where: 'big.pkl' }), (e: Error) => e instanceof UnpicklingError && /^big\.pkl: truncated pickle/.test(e.message));
  // The same opcode with a short, valid length still reads.
  assert.equal(unpickle(Uint8Array.from([0x80, 2, 0x54, 2, 0, 0, 0, 0x68, 0x69, 0x2e]), { globals: {}, where: 'ok.pkl' }).value, 'hi');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeNpy, decodeNpz, encodeNpy, npyToFloat64 } from '../../plugins/modelzoo/src/lib/vastai/npy';

// Hand-made .npy/.npz bytes at the edges of what decodeNpy/decodeNpz accept.
function npyWithHeader(header: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const h = Buffer.from(header, 'latin1');
  const out = new Uint8Array(10 + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
  out.set(h, 10);
  out.set(data, 10 + h.length);
  return out;
}
const hdr = (descr: string, shape: string) => `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape}), }\n`;

test('ten bytes (magic, version, an empty header) are an .npy with an unreadable header, not "not an .npy"', () => {
  assert.throws(() => decodeNpy(npyWithHeader(''), 'f'), { message: 'f: unreadable .npy header ""' });
  assert.throws(() => decodeNpy(npyWithHeader('').subarray(0, 9), 'f'), { message: 'f: not an .npy array' });
});

test('byte dtypes of either byte order are read as |u1 / |i1', () => {
  for (const [descr, want] of [['<u1', '|u1'], ['>u1', '|u1'], ['|u1', '|u1'], ['<i1', '|i1']] as const) {
    const a = decodeNpy(npyWithHeader(hdr(descr, '2,'), Uint8Array.from([7, 255])), 'f');
    assert.equal(a.dtype, want);
    assert.deepEqual([...npyToFloat64(a)], want === '|u1' ? [7, 255] : [7, -1]);
  }
});

test('shapes must be whole non-negative numbers', () => {
  for (const s of ['-1,', '1.5,', 'a,', '9007199254740992,']) {
    assert.throws(() => decodeNpy(npyWithHeader(hdr('<f4', s)), 'f'), { message: `f: bad .npy shape (${s})` });
  }
  assert.deepEqual(decodeNpy(npyWithHeader(hdr('<f4', '0, 3')), 'f').shape, [0, 3]);
});

test('<i8 values decode as numbers (no fall-through to other dtypes)', () => {
  const data = new Uint8Array(16);
  const v = new DataView(data.buffer);
  v.setBigInt64(0, 70000n, true);
  v.setBigInt64(8, -5n, true);
  const a = decodeNpy(encodeNpy({ dtype: '<i8', shape: [2], data }), 'f');
  assert.deepEqual([...npyToFloat64(a)], [70000, -5]);
});

test('decodeNpz: the zip signature is checked first; a signed but broken zip says why', () => {
  const sig = 'f: not a readable .npz (zip) file: no zip signature';
  assert.throws(() => decodeNpz(Uint8Array.from([0x50, 0x4b, 3]), 'f'), { message: sig });
  assert.throws(() => decodeNpz(Uint8Array.from([0x50, 0x58, 3, 4, 0, 0]), 'f'), { message: sig });
  assert.throws(() => decodeNpz(Uint8Array.from([0x51, 0x4b, 3, 4, 0, 0]), 'f'), { message: sig });
  assert.throws(() => decodeNpz(Uint8Array.from([0x50, 0x4b, 3, 4]), 'f'), (e: Error) => {
    assert.ok(e.message.startsWith('f: not a readable .npz (zip) file: '), e.message);
    assert.ok(!e.message.endsWith('no zip signature'), e.message);
    return true;
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type NpyDtype, npyToFloat64 } from '../../plugins/modelzoo/src/lib/vastai/npy';

// Every dtype read at fixed values, so each `case` is covered on every run: the property test in
// npy-fp16.property.test.ts draws dtypes at random, and a run that draws none of one dtype would leave
// its line uncovered (a mutation run once reported '<i4' as "no coverage" that way).
// Expected values are written out by hand from the little-endian bytes, not read back through a DataView.
const cases: Array<[NpyDtype, number[], number[]]> = [
  ['|u1', [0x00, 0x7f, 0x80, 0xff], [0, 127, 128, 255]],
  ['|i1', [0x00, 0x7f, 0x80, 0xff], [0, 127, -128, -1]],
  ['<u2', [0x01, 0x02, 0xff, 0xff], [0x0201, 65535]],
  ['<i2', [0x01, 0x02, 0x00, 0x80], [0x0201, -32768]],
  ['<i4', [0x01, 0x02, 0x03, 0x04, 0xfe, 0xff, 0xff, 0xff], [0x04030201, -2]],
  ['<i8', [0x01, 0x02, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0x0201, -1]],
  ['<f2', [0x00, 0x3c, 0x00, 0xc0], [1, -2]],
  ['<f4', [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc1], [1, -10]],
  ['<f8', [0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0x08, 0xc0], [1, -3]],
];

for (const [dtype, bytes, expected] of cases) {
  test(`npyToFloat64 reads ${dtype} little-endian, element by element`, () => {
    const got = npyToFloat64({ dtype, shape: [expected.length], data: Uint8Array.from(bytes) });
    assert.deepEqual(Array.from(got), expected);
  });
}

test('npyToFloat64 reads from the array view, not from the start of its buffer', () => {
  const buf = Uint8Array.from([0xaa, 0xbb, 0x01, 0x02, 0x03, 0x04]);
  assert.deepEqual(Array.from(npyToFloat64({ dtype: '<i4', shape: [1], data: buf.subarray(2) })), [0x04030201]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { zipSync } from 'fflate';
import { ZipLimitError } from '../../plugins/modelzoo/src/lib/common/bounded-zip';
import { decodeNpy, decodeNpz, encodeNpy } from '../../plugins/modelzoo/src/lib/vastai/npy';

function npyWithHeader(header: string): Uint8Array {
  const h = Buffer.from(header, 'latin1');
  const out = new Uint8Array(10 + h.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
  out.set(h, 10);
  return out;
}

test('an .npy header without fortran_order is unreadable (numpy requires all three keys)', () => {
  const header = "{'descr': '<f4', 'shape': (0,), }\n";
  assert.throws(() => decodeNpy(npyWithHeader(header), 'a.npy'), { message: `a.npy: unreadable .npy header ${JSON.stringify(header)}` });
});

test('an .npy header without a shape is unreadable (not a TypeError)', () => {
  const header = "{'descr': '<f4', 'fortran_order': False, }\n";
  assert.throws(() => decodeNpy(npyWithHeader(header), 'b.npy'), { message: `b.npy: unreadable .npy header ${JSON.stringify(header)}` });
});

test('an npz over the member cap is refused with the cap\'s own message, not re-wrapped as unreadable', () => {
  const arr = encodeNpy({ dtype: '|u1', shape: [1], data: Uint8Array.from([1]) });
  const zip = zipSync({ 'a.npy': arr, 'b.npy': arr });
  const saved = process.env['MODELZOO_MAX_ARCHIVE_ENTRIES'];
  process.env['MODELZOO_MAX_ARCHIVE_ENTRIES'] = '1';
  try {
    assert.throws(
      () => decodeNpz(zip, 'o.npz'),
      (e: Error) =>
        e instanceof ZipLimitError &&
        e.message === 'o.npz: archive has more than 1 members; refused (set MODELZOO_MAX_ARCHIVE_ENTRIES to raise the cap)',
    );
  } finally {
    if (saved === undefined) delete process.env['MODELZOO_MAX_ARCHIVE_ENTRIES'];
    else process.env['MODELZOO_MAX_ARCHIVE_ENTRIES'] = saved;
  }
  assert.deepEqual(Object.keys(decodeNpz(zip, 'o.npz')), ['a', 'b']);
});

test('npz members that are not .npy (a readme, a directory entry) are skipped, not decoded', () => {
  const arr = encodeNpy({ dtype: '|u1', shape: [2], data: Uint8Array.from([4, 5]) });
  const zip = zipSync({ 'x.npy': arr, 'README.txt': new TextEncoder().encode('not an array'), 'x.npy.bak': new Uint8Array([1, 2, 3]) });
  const got = decodeNpz(zip, 'o.npz');
  assert.deepEqual(Object.keys(got), ['x']);
  assert.deepEqual([...got['x']!.data], [4, 5]);
});

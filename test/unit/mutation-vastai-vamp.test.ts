import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVampOutput } from '../../plugins/modelzoo/src/lib/vastai/vamp-output';

// parseVampOutput's line clean-up and its key: value pattern, at the edges the other vamp files leave
// open: blanks before a "- " bullet, a "- " that is not a bullet, the blanks after the bullet, and a
// line that still holds a bare carriage return (a progress counter rewritten in place).

test('a "- " bullet is removed after any leading blanks, and only at the start of the line', () => {
  const r = parseVampOutput(['   - batch size: 2', '\t-\tsamples: 64', 'model: resnet - v2', 'a - b: 1', '- - x: y'].join('\n'));
  assert.equal(r.batch, 2);
  assert.equal(r.samples, 64);
  // Not bullets: a "- " inside the line, and the second of two bullets, stay in the key or value.
  assert.deepEqual(r.other, { model: 'resnet - v2', 'a - b': '1', '- x': 'y' });
});

test('every blank after the bullet goes, so a bold "** key: value **" line under a bullet is still read', () => {
  const r = parseVampOutput('-   ** batch size: 4 **\n-  **throughput (qps): 12.5**\n');
  assert.equal(r.batch, 4);
  assert.equal(r.throughputQps, 12.5);
  assert.deepEqual(r.other, {});
});

test('a line holding a bare carriage return is not a key: value line: it is skipped, not read up to the CR', () => {
  const r = parseVampOutput('progress: 10%\rprogress: 100%\nbatch size: 8\r\nthroughput (qps): 5\r7\ndevices: [0]\n');
  // The CRLF line ending is a line ending; the CR inside a line is not.
  assert.equal(r.batch, 8);
  assert.equal(r.throughputQps, undefined);
  assert.deepEqual(r.devices, [0]);
  assert.deepEqual(r.other, {});
});

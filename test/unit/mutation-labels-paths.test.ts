import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../../plugins/modelzoo/src/lib/common/errors';
import { normalizeLabelPath, parseLabels, readLabels } from '../../plugins/modelzoo/src/lib/dataset/labels';

// Exact messages of labels.ts: they are the user's only guide to the bad line, and they must never
// echo what the line holds (the option may point at any file).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fsm = require('node:fs/promises') as Record<string, unknown>;
const EXAMPLE = `e.g. 'ILSVRC2012_val_00000001.JPEG 65'`;
const LIMIT = 256 * 1024 * 1024;
const tmp = () => fs.mkdtemp(path.join(os.tmpdir(), 'mut-labels-'));

function refused(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof UserError, `not a UserError: ${e.message}`);
    assert.equal(e.message, message);
    return true;
  });
}

async function refusedAsync(p: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof UserError, `not a UserError: ${e.message}`);
    assert.equal(e.message, message);
    return true;
  });
}

async function withStat<T>(fake: (orig: (...a: unknown[]) => Promise<unknown>) => (...a: unknown[]) => Promise<unknown>, fn: () => Promise<T>): Promise<T> {
  const orig = fsm['stat'] as (...a: unknown[]) => Promise<unknown>;
  fsm['stat'] = fake(orig);
  try {
    return await fn();
  } finally {
    fsm['stat'] = orig;
  }
}

test('readLabels: a folder is not a label file', async () => {
  const dir = await tmp();
  await refusedAsync(readLabels(dir, 10), `labels ${dir}: not a file (expected 'FILE INDEX' lines, ${EXAMPLE})`);
});

test('readLabels: a missing file names the error code; an error without a code its message', async () => {
  const missing = path.join(await tmp(), 'nope.txt');
  await refusedAsync(readLabels(missing, 10), `labels ${missing}: cannot read: ENOENT`);
  await withStat(() => async () => { throw new Error('strange failure'); }, async () => {
    await refusedAsync(readLabels(missing, 10), `labels ${missing}: cannot read: strange failure`);
  });
});

test('readLabels: more than 256 MiB is refused before reading; exactly 256 MiB is read', async () => {
  const dir = await tmp();
  const big = path.join(dir, 'big.txt');
  await fs.writeFile(big, '');
  await fs.truncate(big, LIMIT + 1); // sparse: nothing is allocated
  await refusedAsync(readLabels(big, 10), `labels ${big}: ${LIMIT + 1} bytes, more than a label file can be (limit ${LIMIT}); check option 'labelsFile'`);
  const small = path.join(dir, 'ok.txt');
  await fs.writeFile(small, 'a.JPEG 1\n');
  // The size the check sees is the stat's; a file of exactly the limit passes the check.
  await withStat((orig) => async (...a) => {
    const st = (await orig(...a)) as { size: number };
    return Object.assign(Object.create(Object.getPrototypeOf(st)), st, { size: LIMIT });
  }, async () => {
    assert.deepEqual(await readLabels(small, 10), [{ file: 'a.JPEG', label: 1, line: 1 }]);
  });
});

test('a NUL byte marks a binary file, whatever else it holds', () => {
  refused(() => parseLabels('a.JPEG 1\0\n', 'L', 10), `L: a binary file, not a label file (expected 'FILE INDEX' lines, ${EXAMPLE})`);
});

test('a line without an index says why, and never shows the line', () => {
  refused(() => parseLabels('a.JPEG 1\nsecret-token\n', 'L', 10),
    `L:2: expected 'FILE INDEX' (${EXAMPLE}), but this line has no class index after the file name; is option 'labelsFile' the right file?`);
  refused(() => parseLabels('root:x:0:0:root:/root:/bin/bash x\n', 'L', 10),
    `L:1: expected 'FILE INDEX' (${EXAMPLE}), but this line does not end in a class index (a whole number); is option 'labelsFile' the right file?`);
});

test('the whole line must be FILE INDEX: trailing text, or a carriage return inside, is refused', () => {
  const bad = `L:1: expected 'FILE INDEX' (${EXAMPLE}), but this line does not end in a class index (a whole number); is option 'labelsFile' the right file?`;
  refused(() => parseLabels('a.JPEG 5 x\n', 'L', 10), bad);
  refused(() => parseLabels('a.JPEG 5x\n', 'L', 10), bad);
  // A lone \r is not a line break: `a\rb.JPEG 5` is one line whose start cannot be a file name.
  refused(() => parseLabels('a\rb.JPEG 5\n', 'L', 10), bad);
  // CRLF line ends are fine.
  assert.deepEqual(parseLabels('a.JPEG 5\r\nb.JPEG 6\r\n', 'L', 10), [
    { file: 'a.JPEG', label: 5, line: 1 },
    { file: 'b.JPEG', label: 6, line: 2 },
  ]);
});

test('an out-of-range index is shown, cut to 12 digits when longer', () => {
  refused(() => parseLabels('a.JPEG 100000000000\n', 'L', 10), `L:1: class index 100000000000 out of range (classes: 10) for 'a.JPEG'`);
  refused(() => parseLabels('a.JPEG 1234567890123\n', 'L', 10), `L:1: class index 123456789012… out of range (classes: 10) for 'a.JPEG'`);
  refused(() => parseLabels('a.JPEG 10\n', 'L', 10), `L:1: class index 10 out of range (classes: 10) for 'a.JPEG'`);
  refused(() => parseLabels('a.JPEG -1\n', 'L', 10), `L:1: negative class index for 'a.JPEG'`);
});

test('file names in messages: control characters become ?, more than 80 characters are cut to 77 + ...', () => {
  refused(() => parseLabels('a\x01b\x7fc.JPEG -1\n', 'L', 10), `L:1: negative class index for 'a?b?c.JPEG'`);
  const n80 = 'x'.repeat(75) + '.JPEG';
  refused(() => parseLabels(`${n80} -1\n`, 'L', 10), `L:1: negative class index for '${n80}'`);
  const n81 = 'y'.repeat(76) + '.JPEG';
  refused(() => parseLabels(`${n81} -1\n`, 'L', 10), `L:1: negative class index for '${'y'.repeat(76)}....'`);
});

test('a file listed twice: the message says which earlier line, and names the normalized file when spelt differently', () => {
  refused(() => parseLabels('x.JPEG 1\n\nx.JPEG 2\n', 'L', 10), `L:3: 'x.JPEG' already listed on line 1; list each image once`);
  refused(() => parseLabels('x.JPEG 1\n./x.JPEG 2\n', 'L', 10), `L:2: './x.JPEG' (the same file as 'x.JPEG') already listed on line 1; list each image once`);
  refused(() => parseLabels('d/x.JPEG 1\nd\\e\\..\\x.JPEG 2\n', 'L', 10),
    `L:2: 'd\\e\\..\\x.JPEG' (the same file as 'd/x.JPEG') already listed on line 1; list each image once`);
});

test('paths leaving the images folder are refused with their line', () => {
  for (const p of ['/etc/passwd', 'C:\\x.JPEG', 'c:/x.JPEG', '../x.JPEG', 'a/../../x.JPEG', '.', '..', './', 'a/..']) {
    refused(() => parseLabels(`ok.JPEG 1\n${p} 2\n`, 'L', 10), `L:2: '${p}' must be a relative path inside the images folder`);
  }
});

test('normalizeLabelPath: one spelling per file; drive letters only at the start', () => {
  assert.equal(normalizeLabelPath('x/'), 'x');
  assert.equal(normalizeLabelPath('x//'), 'x');
  assert.equal(normalizeLabelPath('./a//b/./x.JPEG'), 'a/b/x.JPEG');
  assert.equal(normalizeLabelPath('a\\b\\x.JPEG'), 'a/b/x.JPEG');
  assert.equal(normalizeLabelPath('..x.JPEG'), '..x.JPEG');
  assert.equal(normalizeLabelPath('a/C:/x.JPEG'), 'a/C:/x.JPEG');
  assert.equal(normalizeLabelPath('1:/x.JPEG'), '1:/x.JPEG');
  assert.equal(normalizeLabelPath('Z:/x.JPEG'), undefined);
  assert.equal(normalizeLabelPath('C:x.JPEG'), 'C:x.JPEG');
  assert.equal(normalizeLabelPath('..'), undefined);
  assert.equal(normalizeLabelPath('.'), undefined);
  assert.equal(normalizeLabelPath('../a'), undefined);
});

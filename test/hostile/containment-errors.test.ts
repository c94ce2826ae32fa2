import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeError, UserError } from '../../plugins/modelzoo/src/lib/common/errors';

// What a failed task prints for the file-system errors a user's paths cause: a sentence naming the
// path and the fix, never a stack trace (those only with MODELZOO_DEBUG=1).
const STACK = /^\s+at .+:\d+:\d+\)?$/m;

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

test('ENOENT, a dangling link, ELOOP, ENOTDIR and EISDIR are sentences naming the path', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'errors-'));
  fs.writeFileSync(path.join(dir, 'file'), 'x');
  fs.symlinkSync(path.join(dir, 'gone'), path.join(dir, 'dangling'));
  fs.symlinkSync('loop2', path.join(dir, 'loop1'));
  fs.symlinkSync('loop1', path.join(dir, 'loop2'));
  const cases: [() => Promise<unknown>, RegExp][] = [
    [() => fsp.readFile(path.join(dir, 'missing')), /\/missing does not exist: check the path/],
    [() => fsp.readFile(path.join(dir, 'dangling')), /\/dangling is a symbolic link to a path that does not exist: fix or remove the link/],
    [() => fsp.readFile(path.join(dir, 'loop1')), /\/loop1 is a loop of symbolic links/],
    [() => fsp.readFile(path.join(dir, 'file', 'x')), /\/file\/x: a part of this path is a file where a folder was expected/],
    [() => fsp.writeFile(dir, 'x'), new RegExp(`${dir} is a folder where a file was expected`)],
  ];
  for (const [p, re] of cases) {
    const text = describeError(await errorOf(p()));
    assert.match(text, re);
    assert.doesNotMatch(text, STACK);
    assert.doesNotMatch(text, /MODELZOO_DEBUG/, 'a described fs error needs no debug hint');
  }
  fs.rmSync(dir, { recursive: true });
});

test('EACCES names the path (synthetic: tests run as root, which no permission stops)', () => {
  const err = Object.assign(new Error("EACCES: permission denied, open '/data/val'"), { code: 'EACCES', path: '/data/val', errno: -13 });
  assert.equal(describeError(err), 'permission denied on /data/val: check its permissions (and its folder\'s)');
});

test('any other error prints its message and a hint, the stack only with MODELZOO_DEBUG=1', () => {
  const err = new TypeError('cannot read properties of undefined');
  const text = describeError(err);
  assert.match(text, /^cannot read properties of undefined \(set MODELZOO_DEBUG=1 to see where it was raised\)$/);
  assert.equal(describeError(new UserError('option x: bad')), 'option x: bad');
  const prev = process.env['MODELZOO_DEBUG'];
  process.env['MODELZOO_DEBUG'] = '1';
  try {
    assert.match(describeError(err), STACK);
  } finally {
    if (prev === undefined) delete process.env['MODELZOO_DEBUG'];
    else process.env['MODELZOO_DEBUG'] = prev;
  }
});

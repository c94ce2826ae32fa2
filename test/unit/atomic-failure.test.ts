import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../../plugins/modelzoo/src/lib/common/atomic';

const atomicModule = path.resolve(__dirname, '../../plugins/modelzoo/src/lib/common/atomic.ts');

// node's writeFile also takes an (async) iterable of chunks; one that throws after its first chunk is a
// write failing midway (a disk error, a source that breaks), after bytes already reached the file.
async function* breaksAfterOneChunk(): AsyncGenerator<Uint8Array> {
  yield Buffer.from('NEW-PARTIAL-');
  throw new Error('source broke midway');
}

test('a write that fails midway keeps the previous file intact and leaves no temp file', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'atomic-fail-'));
  const target = path.join(root, 'datalist.txt');
  await writeFileAtomic(target, 'old content\n');
  await assert.rejects(writeFileAtomic(target, breaksAfterOneChunk() as unknown as Uint8Array), /source broke midway/);
  assert.equal(await fs.readFile(target, 'utf8'), 'old content\n');
  assert.deepEqual(await fs.readdir(root), ['datalist.txt']);
});

test('a failed first write leaves no file at all', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'atomic-fail-'));
  const target = path.join(root, 'sub', 'manifest.json');
  await assert.rejects(writeFileAtomic(target, breaksAfterOneChunk() as unknown as Uint8Array), /source broke midway/);
  assert.deepEqual(await fs.readdir(path.dirname(target)), []);
});

test('a process killed mid-write leaves the previous file intact', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'atomic-kill-'));
  const target = path.join(root, 'calib.npz');
  await writeFileAtomic(target, 'old content\n');
  // The child writes a first chunk, reports it, then hangs mid-write until it is killed.
  const script = `
    const { writeFileAtomic } = require(${JSON.stringify(atomicModule)});
    async function* chunks() {
      yield Buffer.from('NEW-PARTIAL-');
      process.stdout.write('wrote\\n');
      await new Promise(() => setInterval(() => {}, 1000));
    }
    writeFileAtomic(${JSON.stringify(target)}, chunks());
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('wrote')) resolve();
      });
      child.on('exit', () => reject(new Error(`child exited before writing: ${out}`)));
    });
    // The first chunk is on disk somewhere (the temp sibling) before the kill.
    const names = await fs.readdir(root);
    const tmp = names.find((n) => n !== 'calib.npz');
    assert.ok(tmp, `a temp sibling exists mid-write (found ${names.join(', ')})`);
    assert.equal(await fs.readFile(path.join(root, tmp!), 'utf8'), 'NEW-PARTIAL-');
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    assert.equal(await fs.readFile(target, 'utf8'), 'old content\n');
  } finally {
    child.kill('SIGKILL'); // never leave the child hanging when an assertion fails first
  }
});

test('writeJsonAtomic writes pretty JSON with a trailing newline, replacing the old file', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'atomic-json-'));
  const target = path.join(root, 'a.json');
  await writeJsonAtomic(target, { a: 1 });
  await writeJsonAtomic(target, { b: [1, 2] });
  assert.equal(await fs.readFile(target, 'utf8'), '{\n  "b": [\n    1,\n    2\n  ]\n}\n');
  assert.deepEqual(await fs.readdir(root), ['a.json']);
});

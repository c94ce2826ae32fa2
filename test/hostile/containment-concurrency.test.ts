import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { holdDirLock, withAtomicDir, writeFileAtomic } from '../../plugins/modelzoo/src/lib/common/atomic';
import { OUTPUT_MARKER } from '../../plugins/modelzoo/src/lib/common/containment';

// Two processes writing the same output directory: no spurious failure, never a mixed directory.
const WORKER = path.join(__dirname, '..', 'helpers', 'concurrent-writer.ts');

function runWorkers(mode: 'swaps' | 'export', where: string, count: number): Promise<{ code: number; result: any; output: string }[]> {
  const barrier = fs.mkdtempSync(path.join(os.tmpdir(), 'barrier-'));
  const one = (id: string) =>
    new Promise<{ code: number; result: any; output: string }>((resolve) => {
      const p = spawn(process.execPath, ['--import', 'tsx', WORKER, mode, where, id, String(count), barrier], {
        env: { ...process.env, MODELZOO_QUIET: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      p.stdout.on('data', (d) => (output += d));
      p.stderr.on('data', (d) => (output += d));
      p.on('close', (code) => {
        const last = output.trim().split('\n').filter((l) => l.startsWith('{')).pop();
        resolve({ code: code ?? 1, result: last ? JSON.parse(last) : undefined, output });
      });
    });
  return Promise.all([one('1'), one('2')]).finally(() => fs.rmSync(barrier, { recursive: true, force: true }));
}

test('2 processes × 300 swaps of one directory: no failure, every directory seen whole and from one writer', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'swaps-'));
  const target = path.join(root, 'out');
  const results = await runWorkers('swaps', target, 300);
  for (const r of results) {
    assert.equal(r.code, 0, r.output);
    assert.equal(r.result.swaps, 300, r.output);
  }
  // The writers really overlapped: each saw the other's directory after one of its own swaps.
  assert.ok(results.some((r) => r.result.sawOther > 0), JSON.stringify(results.map((r) => r.result)));
  const names = fs.readdirSync(target);
  assert.equal(names.length, 8);
  assert.equal(new Set(names.map((n) => fs.readFileSync(path.join(target, n), 'utf8'))).size, 1);
  assert.deepEqual(fs.readdirSync(root), ['out'], 'no temp directory or lock file left');
  fs.rmSync(root, { recursive: true, force: true });
});

test('two executor processes exporting into the same outputPath both succeed; the result is one run, whole', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'two-exports-'));
  const results = await runWorkers('export', root, 4);
  for (const r of results) assert.equal(r.code, 0, r.output);
  const out = path.join(root, 'dist', 'shared');
  const card = JSON.parse(fs.readFileSync(path.join(out, 'model-card.json'), 'utf8'));
  const model = fs.readFileSync(path.join(out, 'model.onnx'));
  assert.equal(createHash('sha256').update(model).digest('hex'), card.sha256, 'the card describes the model beside it');
  assert.ok(fs.existsSync(path.join(out, OUTPUT_MARKER)));
  assert.deepEqual(fs.readdirSync(path.join(root, 'dist')), ['shared'], 'no temp directory or lock file left');
  fs.rmSync(root, { recursive: true, force: true });
});

test('a lock left by a killed process (dead pid) is broken; a live one is waited for', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'locks-'));
  const target = path.join(root, 'out');
  // A pid that is not running: spawn a process and wait for it to exit.
  const dead = await new Promise<number>((resolve) => {
    const p = spawn(process.execPath, ['-e', '0']);
    p.on('exit', () => resolve(p.pid!));
  });
  fs.writeFileSync(`${target}.lock`, JSON.stringify({ pid: dead, token: 'killed' }));
  const t0 = Date.now();
  await withAtomicDir(target, async (d) => fs.writeFileSync(path.join(d, 'a'), '1'));
  assert.ok(Date.now() - t0 < 5000);
  assert.deepEqual(fs.readdirSync(root), ['out']);

  const release = await holdDirLock(target);
  let done = false;
  const second = withAtomicDir(target, async (d) => fs.writeFileSync(path.join(d, 'a'), '2')).then(() => (done = true));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(done, false, 'the swap waits for the lock holder');
  assert.equal(fs.readFileSync(path.join(target, 'a'), 'utf8'), '1');
  await release();
  await second;
  assert.equal(fs.readFileSync(path.join(target, 'a'), 'utf8'), '2');
  assert.deepEqual(fs.readdirSync(root), ['out']);
  fs.rmSync(root, { recursive: true, force: true });
});

test('writeFileAtomic: a failed write keeps the old file and leaves no temp file', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wfa-'));
  const file = path.join(root, 'x.json');
  await writeFileAtomic(file, 'old');
  // A data source that fails half way, as a full disk or a killed producer would.
  async function* failing() {
    yield Buffer.from('half');
    throw new Error('disk full');
  }
  await assert.rejects(writeFileAtomic(file, failing() as unknown as Uint8Array), /disk full/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'old');
  assert.deepEqual(fs.readdirSync(root), ['x.json']);
  fs.rmSync(root, { recursive: true, force: true });
});

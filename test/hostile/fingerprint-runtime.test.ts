import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { REPO_ROOT } from '../helpers/shared';

// Nx 24 hashes a runtime input's stdout+stderr whatever its exit code, so every runtime input the plugin
// adds must print a value that never repeats when it cannot read what it hashes (a new task hash every
// run: never a cache hit), and a stable value when it can.
const SCRIPT = path.join(REPO_ROOT, 'tools', 'fingerprint.mjs');
function fp(args: string[], cwd = REPO_ROOT, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { cwd, encoding: 'utf8', env: { ...process.env, MODELZOO_IMAGENET_VAL: undefined, ...env } as NodeJS.ProcessEnv });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('every runtime input mode fails closed: unreadable input -> exit 1, a never-repeating value, the reason on stderr', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-runtime-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'dangling.onnx'));
  fs.mkdirSync(path.join(dir, 'results', 'a'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'results', 'a', 'eval.json'), '{}');
  fs.symlinkSync('..', path.join(dir, 'results', 'a', 'loop'));
  const cases: [string, string[], string, RegExp][] = [
    ['file, missing', ['file', path.join(dir, 'missing.onnx')], REPO_ROOT, /missing\.onnx \(ENOENT\)/],
    ['file, dangling symlink', ['file', path.join(dir, 'dangling.onnx')], REPO_ROOT, /dangling\.onnx/],
    ['weights, missing', ['weights', path.join(dir, 'w.pth')], REPO_ROOT, /w\.pth/],
    ['results, symlink loop', ['results', path.join(dir, 'results')], REPO_ROOT, /symlink loop/],
    ['dataset, no project graph', ['dataset'], dir, /project graph/],
    ['no mode', [], REPO_ROOT, /usage/],
  ];
  for (const [name, args, cwd, reason] of cases) {
    const a = fp(args, cwd);
    const b = fp(args, cwd);
    assert.equal(a.status, 1, `${name}: ${a.stdout}${a.stderr}`);
    assert.match(a.stdout, /^unreadable [0-9a-f]{32}\n$/, name);
    assert.notEqual(a.stdout, b.stdout, `${name}: the value repeats, so Nx would replay the cache`);
    assert.match(a.stderr, reason, name);
    assert.doesNotMatch(a.stderr, /\n\s+at /, `${name}: stack trace`);
  }
  fs.writeFileSync(path.join(dir, 'ok.onnx'), 'bytes');
  const ok = [fp(['file', path.join(dir, 'ok.onnx')]), fp(['file', path.join(dir, 'ok.onnx')])];
  assert.equal(ok[0]!.status, 0);
  assert.match(ok[0]!.stdout, /^[0-9a-f]{64}\n$/);
  assert.equal(ok[0]!.stdout, ok[1]!.stdout);
  // Content only: the same bytes elsewhere hash the same (a checkpoint in another clone).
  fs.copyFileSync(path.join(dir, 'ok.onnx'), path.join(dir, 'copy.onnx'));
  assert.equal(fp(['file', path.join(dir, 'copy.onnx')]).stdout, ok[0]!.stdout);

  // env-file (the report's optional baseline): unset is a stable value, a named file is hashed by
  // content, a named file that cannot be read fails closed like the rest.
  const envFile = (v: string | undefined) => fp(['env-file', 'MZ_BASELINE'], REPO_ROOT, { MZ_BASELINE: v });
  assert.deepEqual([envFile(undefined).status, envFile(undefined).stdout, envFile('').stdout], [0, 'unset\n', 'unset\n']);
  assert.equal(envFile(path.join(dir, 'copy.onnx')).stdout, createHash('sha256').update('bytes').digest('hex') + '\n');
  const [m1, m2] = [envFile(path.join(dir, 'gone.json')), envFile(path.join(dir, 'gone.json'))];
  assert.equal(m1.status, 1);
  assert.match(m1.stdout, /^unreadable [0-9a-f]{32}\n$/);
  assert.notEqual(m1.stdout, m2.stdout);
  assert.match(m1.stderr, /gone\.json, named by MZ_BASELINE \(ENOENT\)/);
});

test('measured on Nx itself: a failing runtime command is hashed like a value; fingerprint.mjs never repeats', (t) => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-runtime-nx-'));
  t.after(() => fs.rmSync(ws, { recursive: true, force: true }));
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(ws, 'node_modules'));
  fs.writeFileSync(path.join(ws, 'package.json'), '{"name":"probe","private":true}');
  const naive = `node -e "process.stderr.write('cannot read');process.exit(1)"`;
  fs.writeFileSync(
    path.join(ws, 'nx.json'),
    JSON.stringify({
      targetDefaults: {
        naive: { cache: true, inputs: [{ runtime: naive }] },
        ours: { cache: true, inputs: [{ runtime: `node ${JSON.stringify(SCRIPT)} file ${JSON.stringify(path.join(ws, 'missing.onnx'))}` }] },
      },
    }),
  );
  fs.mkdirSync(path.join(ws, 'p'));
  const cmd = { executor: 'nx:run-commands', options: { command: 'echo ran' } };
  fs.writeFileSync(path.join(ws, 'p', 'project.json'), JSON.stringify({ name: 'p', targets: { naive: cmd, ours: cmd } }));
  const nx = (target: string) => {
    const r = spawnSync(process.execPath, [require.resolve('nx/bin/nx', { paths: [REPO_ROOT] }), 'run', `p:${target}`, '--outputStyle=stream'], {
      cwd: ws,
      encoding: 'utf8',
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_CACHE_DIRECTORY: path.join(ws, '.cache') },
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    return /local cache|existing outputs match/.test(r.stdout) ? 'cache' : 'ran';
  };
  assert.deepEqual([nx('naive'), nx('naive')], ['ran', 'cache'], 'Nx no longer hashes a failing runtime input: the nonce may be unnecessary');
  assert.deepEqual([nx('ours'), nx('ours')], ['ran', 'ran']);
});

test('dataset-prep refuses a source whose content differs from what the runtime input recorded for it', async (t) => {
  const { recordRuntimeFingerprints, checkRuntimeFingerprint } = await import('../../plugins/modelzoo/src/lib/nx/dataset-source');
  const idx = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-seen-'));
  t.after(() => fs.rmSync(idx, { recursive: true, force: true }));
  const src = { imagesDir: '/data/val', labelsFile: '/data/val/val_label.txt' };
  await recordRuntimeFingerprints(idx, [{ ...src, fingerprint: 'a'.repeat(64) }]);
  await checkRuntimeFingerprint(idx, { ...src, fingerprint: 'a'.repeat(64) }, true);
  await checkRuntimeFingerprint(idx, { imagesDir: '/other', labelsFile: '/other/l.txt', fingerprint: 'b'.repeat(64) }, false);
  // Under Nx, a source the runtime input never saw is refused: its content is not in the task's hash.
  await assert.rejects(
    checkRuntimeFingerprint(idx, { imagesDir: '/other', labelsFile: '/other/l.txt', fingerprint: 'b'.repeat(64) }, true),
    /never fingerprinted by the runtime input/,
  );
  await assert.rejects(checkRuntimeFingerprint(idx, { ...src, fingerprint: 'b'.repeat(64) }), /not the one Nx hashed for this task.*Nothing was cached/s);
});

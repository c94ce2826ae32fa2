import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/shared';

const npm = (args: string[]) => spawnSync('npm', args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });

test('npm prints no config warning in this repo (no unknown .npmrc key)', () => {
  const r = npm(['config', 'list']);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /Unknown (project|user|builtin)? ?config/i);
  assert.doesNotMatch(r.stderr, /npm warn/i);
});

test("onnxruntime-node's CUDA download is denied through package.json allowScripts; every install script is reviewed", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.allowScripts['onnxruntime-node'], false);
  // What the denied script would do: on linux/x64 it fetches only CUDA provider libraries.
  const meta = require(path.join(REPO_ROOT, 'node_modules/onnxruntime-node/script/install-metadata.js'));
  assert.deepEqual(meta.requirements['linux/x64'], ['cuda12']);
  const r = npm(['approve-scripts', '--allow-scripts-pending']);
  if (r.status !== 0 && /Unknown command|not a valid npm command/i.test(r.stdout + r.stderr)) return; // npm < 11.19
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /No packages with unreviewed install scripts/);
});

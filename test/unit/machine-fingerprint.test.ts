import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/shared';

// The benchmark targets' runtime input: stable on one machine, different as soon as anything that
// changes a figure differs (here: the label a runner adds), so a figure never replays elsewhere.
const machine = (env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'tools', 'fingerprint.mjs'), 'machine'], {
    encoding: 'utf8',
    env: { ...process.env, MODELZOO_MACHINE_LABEL: undefined, ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
};

test('the machine fingerprint is stable, and MODELZOO_MACHINE_LABEL only separates', () => {
  const a = machine();
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.equal(machine(), a);
  const b = machine({ MODELZOO_MACHINE_LABEL: 'bench-runner-2' });
  assert.notEqual(b, a);
  assert.equal(machine({ MODELZOO_MACHINE_LABEL: 'bench-runner-2' }), b);
});

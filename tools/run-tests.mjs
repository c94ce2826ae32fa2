#!/usr/bin/env node
// Runs every test file under test/ with node's test runner (TypeScript through tsx).
// Usage: node tools/run-tests.mjs [unit|e2e|hostile|realdata ...]   (default: all tiers)
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const tiers = process.argv.slice(2);
const roots = (tiers.length ? tiers : ['unit', 'e2e', 'hostile', 'realdata']).map((t) => join('test', t));
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) files.push(p);
  }
};
for (const r of roots) walk(r);
if (files.length === 0) {
  console.error('no test files found under', roots.join(', '));
  process.exit(1);
}
const env = { ...process.env, MODELZOO_QUIET: process.env.MODELZOO_QUIET ?? '1', NX_DAEMON: 'false' };
const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env },
);
process.exit(res.status ?? 1);

#!/usr/bin/env node
// Audits the `// Stryker disable` comments: in a scratch checkout of HEAD with every disable comment
// lifted, it mutates only the lines those comments covered and reports, for each mutant the committed run
// ignored, whether the tests kill it once it is no longer ignored.
//  - killed: a sibling the comment hid (same mutator, same line) that the tests catch anyway; no weakness;
//  - survived / no coverage: the mutant the comment claims is equivalent (its reason says why).
// A claimed equivalent can only be checked by reading; a hidden but killable mutant is what this rules out.
//
//   node tools/mutation/audit-ignored.mjs [areas...] [--concurrency N]
// Writes docs/mutation/ignored-audit.{json,md}. Slow-ish: one Stryker run per area over the covered lines.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { areas, lib } from './areas.mjs';

const args = process.argv.slice(2);
const ci = args.indexOf('--concurrency');
const concurrency = ci >= 0 ? args[ci + 1] : '2';
const chosen = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--concurrency');
const names = chosen.length ? chosen : Object.keys(areas);
const root = resolve('.');
const committed = JSON.parse(readFileSync('docs/mutation/mutation.json', 'utf8'));

const git = (...a) => {
  const r = spawnSync('git', a, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${a.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

// Lines each disable comment covers: `disable next-line` the following line, `disable` .. `restore` the
// lines between. Returned 1-based, per file.
function coveredLines(text) {
  const lines = text.split('\n');
  const covered = new Set();
  let open = -1;
  lines.forEach((line, i) => {
    if (/\/\/\s*Stryker disable next-line/.test(line)) covered.add(i + 2);
    else if (/\/\/\s*Stryker disable\b/.test(line)) open = i + 1;
    else if (/\/\/\s*Stryker restore\b/.test(line) && open >= 0) {
      for (let l = open + 1; l <= i + 1; l++) covered.add(l);
      open = -1;
    }
  });
  return [...covered].sort((a, b) => a - b);
}

const scratch = mkdtempSync(join(tmpdir(), 'mz-audit-'));
const results = [];
try {
  git('worktree', 'add', '--detach', scratch, 'HEAD');
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'));
  if (existsSync(join(root, 'plugins/modelzoo/build'))) {
    cpSync(join(root, 'plugins/modelzoo/build'), join(scratch, 'plugins/modelzoo/build'), { recursive: true });
  }
  for (const name of names) {
    const ranges = [];
    for (const file of areas[name].mutate) {
      const path = join(scratch, file);
      const text = readFileSync(path, 'utf8');
      const covered = coveredLines(text);
      if (!covered.length) continue;
      // Same line count and columns as before, so the committed run's locations still match.
      writeFileSync(path, text.replace(/\/\/(\s*)Stryker (disable|restore)/g, (m) => '//' + ' '.repeat(m.length - 2)));
      for (const l of covered) ranges.push(`${file}:${l}-${l}`);
    }
    if (!ranges.length) continue;
    console.log(`=== audit ${name}: ${ranges.length} lines`);
    const run = spawnSync(
      'npx',
      ['stryker', 'run', '--concurrency', concurrency, '--force', '--mutate', ranges.join(','), '--reporters', 'json,progress'],
      { cwd: scratch, stdio: 'inherit', env: { ...process.env, MODELZOO_MUTATION_AREA: name } },
    );
    if (run.status !== 0) throw new Error(`stryker failed for area ${name} (exit ${run.status})`);
    const report = JSON.parse(readFileSync(join(scratch, `reports/mutation/${name}.json`), 'utf8'));
    for (const [file, f] of Object.entries(report.files)) {
      const ignored = (committed.files[file]?.mutants ?? []).filter((m) => m.status === 'Ignored');
      for (const m of ignored) {
        const same = f.mutants.find(
          (x) =>
            x.mutatorName === m.mutatorName &&
            x.replacement === m.replacement &&
            x.location.start.line === m.location.start.line &&
            x.location.start.column === m.location.start.column,
        );
        results.push({
          area: name,
          where: `${file.replace(`${lib}/`, '')}:${m.location.start.line}`,
          mutator: m.mutatorName,
          replacement: m.replacement,
          reason: m.statusReason ?? '',
          lifted: same ? same.status : 'NotFound',
        });
      }
    }
  }
} finally {
  spawnSync('git', ['worktree', 'remove', '--force', scratch], { cwd: root });
  rmSync(scratch, { recursive: true, force: true });
}

// Areas not audited this time keep their earlier rows (valid while their sources and tests are unchanged).
if (existsSync('docs/mutation/ignored-audit.json')) {
  const earlier = JSON.parse(readFileSync('docs/mutation/ignored-audit.json', 'utf8'));
  results.unshift(...earlier.results.filter((r) => !names.includes(r.area)));
}
results.sort((a, b) => a.area.localeCompare(b.area) || a.where.localeCompare(b.where, undefined, { numeric: true }));
const audited = [...new Set(results.map((r) => r.area))];
const tally = {};
for (const r of results) tally[r.lifted] = (tally[r.lifted] ?? 0) + 1;
writeFileSync('docs/mutation/ignored-audit.json', JSON.stringify({ areas: audited, tally, results }, null, 1) + '\n');
const cell = (s) => String(s).replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 140);
const md = [
  '# Ignored mutants with their disable comments lifted',
  '',
  'Generated by `node tools/mutation/audit-ignored.mjs`: every `// Stryker disable` comment removed in a scratch',
  'checkout, only the lines they covered mutated. "Killed" means the comment hid a mutant the tests catch anyway',
  '(a sibling on the same line); "Survived" is a mutant the comment claims is equivalent, for the reason given.',
  '',
  `Areas: ${audited.join(', ')}. Totals: ${Object.entries(tally).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
  '',
  '| where | mutator | replacement | lifted | reason |',
  '|---|---|---|---|---|',
  ...results.map((r) => `| ${r.where} | ${r.mutator} | \`${cell(r.replacement).slice(0, 50)}\` | ${r.lifted} | ${cell(r.reason)} |`),
  '',
];
writeFileSync('docs/mutation/ignored-audit.md', md.join('\n'));
console.log(JSON.stringify(tally));

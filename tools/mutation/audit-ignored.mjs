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

const git = (...a) => {
  const r = spawnSync('git', a, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${a.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

// What each disable comment covers: `disable next-line` the following line, `disable` .. `restore` the
// lines between; per 1-based line, the mutators it names ('all' for every one) and its reason.
function coveredLines(text) {
  const lines = text.split('\n');
  const covered = new Map();
  const parse = (line) => {
    const m = /\/\/\s*Stryker disable(?: next-line)?\s+([\w,]+)\s*:?\s*(.*)$/.exec(line);
    return m ? { mutators: m[1].split(','), reason: m[2].trim() } : { mutators: ['all'], reason: '' };
  };
  let open;
  lines.forEach((line, i) => {
    if (/\/\/\s*Stryker disable next-line/.test(line)) covered.set(i + 2, parse(line));
    else if (/\/\/\s*Stryker disable\b/.test(line)) open = { from: i + 2, ...parse(line) };
    else if (/\/\/\s*Stryker restore\b/.test(line) && open) {
      for (let l = open.from; l <= i; l++) covered.set(l, open);
      open = undefined;
    }
  });
  return covered;
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
    const disabled = new Map();
    for (const file of areas[name].mutate) {
      const path = join(scratch, file);
      const text = readFileSync(path, 'utf8');
      const covered = coveredLines(text);
      if (!covered.size) continue;
      disabled.set(file, covered);
      // Same line count and columns, so the locations read as in the source.
      writeFileSync(path, text.replace(/\/\/(\s*)Stryker (disable|restore)/g, (m) => '//' + ' '.repeat(m.length - 2)));
      for (const l of covered.keys()) ranges.push(`${file}:${l}-${l}`);
    }
    if (!ranges.length) continue;
    console.log(`=== audit ${name}: ${ranges.length} lines`);
    // Without the incremental file: it would carry over the committed run's "ignored" verdicts.
    rmSync(join(scratch, `docs/mutation/incremental/${name}.json`), { force: true });
    const run = spawnSync(
      'npx',
      ['stryker', 'run', '--concurrency', concurrency, '--force', '--mutate', ranges.join(','), '--reporters', 'json,progress'],
      { cwd: scratch, stdio: 'inherit', env: { ...process.env, MODELZOO_MUTATION_AREA: name } },
    );
    if (run.status !== 0) throw new Error(`stryker failed for area ${name} (exit ${run.status})`);
    const report = JSON.parse(readFileSync(join(scratch, `reports/mutation/${name}.json`), 'utf8'));
    for (const [file, f] of Object.entries(report.files)) {
      const covered = disabled.get(file);
      for (const m of f.mutants) {
        const c = covered?.get(m.location.start.line);
        if (!c || !(c.mutators.includes('all') || c.mutators.includes(m.mutatorName))) continue;
        results.push({
          area: name,
          where: `${file.replace(`${lib}/`, '')}:${m.location.start.line}`,
          mutator: m.mutatorName,
          replacement: m.replacement,
          reason: c.reason,
          lifted: m.status,
          ...(m.status === 'Ignored' ? { liftedReason: m.statusReason } : {}),
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

#!/usr/bin/env node
// Runs Stryker over the correctness core, one run per area (tools/mutation/areas.mjs), then merges the
// areas' JSON reports into reports/mutation/mutation.json and prints one table: the score per module,
// per area and over all of them. Fails (exit 1) when the score over all measured modules is under 90%.
//
//   node tools/mutation/run.mjs                       # every area, incremental
//   node tools/mutation/run.mjs quant-graph           # one area
//   node tools/mutation/run.mjs eval --mutate plugins/modelzoo/src/lib/eval/metrics.ts
//   node tools/mutation/run.mjs --report              # only merge the reports already written
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { areas, lib } from './areas.mjs';

const BREAK = 90;
const args = process.argv.slice(2);
const reportOnly = args.includes('--report');
// Leading words name areas; everything from the first option on goes to Stryker.
const firstOption = args.findIndex((a) => a.startsWith('-'));
const chosen = (firstOption < 0 ? args : args.slice(0, firstOption)).filter((a) => a !== '--report');
const passThrough = (firstOption < 0 ? [] : args.slice(firstOption)).filter((a) => a !== '--report');
for (const a of chosen) {
  if (!areas[a]) {
    console.error(`unknown mutation area "${a}": one of ${Object.keys(areas).join(', ')}`);
    process.exit(2);
  }
}
const names = chosen.length ? chosen : Object.keys(areas);

let failed = [];
if (!reportOnly) {
  for (const name of names) {
    console.log(`\n=== mutation area ${name} (${areas[name].mutate.length} modules)`);
    const t0 = Date.now();
    const res = spawnSync('npx', ['stryker', 'run', ...passThrough], {
      stdio: 'inherit',
      env: { ...process.env, MODELZOO_MUTATION_AREA: name },
    });
    console.log(`=== area ${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s, exit ${res.status}`);
    if (res.status !== 0) failed.push(name);
  }
}

// Stryker's score: detected (killed + timeout) over valid mutants (those plus survived and no coverage);
// compile and runtime errors and ignored mutants are left out.
const count = (mutants) => {
  const c = { total: 0, killed: 0, timeout: 0, survived: 0, noCoverage: 0 };
  for (const m of mutants) {
    if (m.status === 'Killed') c.killed++;
    else if (m.status === 'Timeout') c.timeout++;
    else if (m.status === 'Survived') c.survived++;
    else if (m.status === 'NoCoverage') c.noCoverage++;
    else continue;
    c.total++;
  }
  return c;
};
const add = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, a[k] + b[k]]));
const score = (c) => (c.total ? (100 * (c.killed + c.timeout)) / c.total : 100);
const row = (label, c) =>
  `| ${label} | ${c.total} | ${c.killed} | ${c.timeout} | ${c.survived} | ${c.noCoverage} | ${score(c).toFixed(1)}% |`;

const merged = { schemaVersion: '2', thresholds: { high: 90, low: 80, break: BREAK }, files: {}, testFiles: {} };
const lines = ['| module | mutants | killed | timeout | survived | no coverage | score |', '|---|---|---|---|---|---|---|'];
let all = count([]);
const missing = [];
for (const name of Object.keys(areas)) {
  const file = `reports/mutation/${name}.json`;
  if (!existsSync(file)) {
    missing.push(name);
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  let areaCount = count([]);
  for (const [path, f] of Object.entries(report.files)) {
    merged.files[path] = f;
    const c = count(f.mutants);
    areaCount = add(areaCount, c);
    lines.push(row(path.replace(`${lib}/`, ''), c));
  }
  Object.assign(merged.testFiles, report.testFiles ?? {});
  lines.push(row(`**area ${name}**`, areaCount));
  all = add(all, areaCount);
}
lines.push(row('**total**', all));
mkdirSync('reports/mutation', { recursive: true });
writeFileSync('reports/mutation/mutation.json', JSON.stringify(merged));
console.log(`\n${lines.join('\n')}\n`);
if (missing.length) console.log(`not measured (no report yet): ${missing.join(', ')}`);
console.log(`mutation score over ${Object.keys(merged.files).length} modules: ${score(all).toFixed(2)}% (break ${BREAK}%)`);
if (failed.length) {
  console.error(`Stryker failed in: ${failed.join(', ')}`);
  process.exit(1);
}
if (score(all) < BREAK) {
  console.error(`mutation score ${score(all).toFixed(2)}% is under ${BREAK}%`);
  process.exit(1);
}

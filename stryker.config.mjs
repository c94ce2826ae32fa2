// Mutation testing of the correctness core (docs/mutation.md). `npm run test:mutation` runs every area
// through tools/mutation/run.mjs, which sets MODELZOO_MUTATION_AREA for each Stryker run and merges the
// reports; `npm run test:mutation -- <area> [--mutate <file>]` runs one area (narrowed to one module).
import { areas, testFilesOf } from './tools/mutation/areas.mjs';

const name = process.env.MODELZOO_MUTATION_AREA;
if (!name || !areas[name]) {
  throw new Error(
    `stryker.config.mjs: set MODELZOO_MUTATION_AREA to one of ${Object.keys(areas).join(', ')} ` +
      '(or run `npm run test:mutation`, which runs them all)',
  );
}

// Property tests run fewer random cases per mutant (test/helpers/property.ts); the test runner's child
// processes inherit this.
process.env.MODELZOO_PROPERTY_RUNS ??= '40';
// ...with a fixed seed, so each run's coverage (which test file reaches which line) is the same.
process.env.MODELZOO_PROPERTY_SEED ??= '20261201';
process.env.MODELZOO_QUIET ??= '1';
process.env.NX_DAEMON ??= 'false';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner'],
  // The tap runner records coverage per test file, so each mutant runs only the unit test files that
  // execute its code, in this order, stopping at the first that fails. Fast unit files only (a few
  // seconds each): checkpoint.test.ts (~15-90 s) and quant.test.ts (~25 s), and the tiers that run whole
  // stages, would dominate the run; the focused mutation-* files cover the same code.
  tap: {
    testFiles: testFilesOf(name),
    nodeArgs: ['--import', 'tsx', '--test-reporter=tap', '-r', '{{hookFile}}', '{{testFile}}'],
    forceBail: true,
  },
  coverageAnalysis: 'perTest',
  mutate: areas[name].mutate,
  // The sandbox needs sources, tests, test helpers and the small data the unit tests read.
  ignorePatterns: ['dist', 'plugins/*/dist', '.nx', 'tmp', 'reports', 'docs/mutation', '.stryker-tmp*', 'stryker.*.tmp.mjs'],
  concurrency: 2,
  timeoutMS: 10000,
  timeoutFactor: 2,
  incremental: true,
  incrementalFile: `docs/mutation/incremental/${name}.json`,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  // tools/mutation/run.mjs fails the whole run below 90% over all areas; one area alone only reports.
  thresholds: { high: 90, low: 80, break: null },
  cleanTempDir: 'always',
  tempDirName: `.stryker-tmp-${name}`,
};

import fc from 'fast-check';

/**
 * fast-check run counts. Mutation testing (stryker.config.mjs) sets MODELZOO_PROPERTY_RUNS low: it reruns
 * the covering test files once per mutant, and a few dozen random cases per property still kill what
 * the property can see; `npm test` runs the full counts.
 */
export function runs(n: number): number {
  const cap = Number(process.env['MODELZOO_PROPERTY_RUNS']);
  return Number.isInteger(cap) && cap > 0 ? Math.min(n, cap) : n;
}

// Stryker records which lines each test file reaches in its dry run; with fresh random cases each run,
// a line only some draws reach is covered in one run and "no coverage" in the next. Mutation testing
// therefore fixes the seed (MODELZOO_PROPERTY_SEED, set by stryker.config.mjs); `npm test` keeps
// fast-check's random seed, which it prints with any counterexample.
const seed = Number(process.env['MODELZOO_PROPERTY_SEED']);
if (process.env['MODELZOO_PROPERTY_SEED'] !== undefined && Number.isInteger(seed)) {
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
}

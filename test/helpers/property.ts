/**
 * fast-check run counts. Mutation testing (stryker.config.mjs) sets MODELZOO_PROPERTY_RUNS low: it reruns
 * the covering test files once per mutant, and a few dozen random cases per property still kill what
 * the property can see; `npm test` runs the full counts.
 */
export function runs(n: number): number {
  const cap = Number(process.env['MODELZOO_PROPERTY_RUNS']);
  return Number.isInteger(cap) && cap > 0 ? Math.min(n, cap) : n;
}

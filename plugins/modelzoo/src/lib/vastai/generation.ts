/** VastAI tool-format generations: 2023 (`vamc build`, vdsp `vdsp_op_type`) and 2025 (`vamc compile`, vdsp `OpType`). */
export type Generation = '2023' | '2025';
export const GENERATIONS: readonly Generation[] = ['2023', '2025'];

export function checkGeneration(g: unknown, where = 'vastai.generation'): Generation {
  if (g === '2023' || g === '2025') return g;
  if (g === 2023 || g === 2025) return String(g) as Generation;
  throw new Error(`${where} must be '2023' (vamc build) or '2025' (vamc compile), got ${JSON.stringify(g)}`);
}

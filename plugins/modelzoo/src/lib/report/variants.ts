import type { ProjectConfiguration } from '@nx/devkit';

/** Seed-table figures a variant project carries in its metadata (the zoo page's columns). */
export interface ZooReference {
  top1?: number;
  top5?: number;
  flopsM?: number;
  paramsM?: number;
  inputSize?: number;
  /** 1-based position of the row on the zoo page; the report lists rows in this order (then by name). */
  order?: number;
}

export interface VariantOutputs {
  project: string;
  model: string;
  variant: string;
  reference: ZooReference;
  exportDir?: string;
  /**
   * One per precision and backend. benchDir is the variant's one paired bench (both precisions measured
   * in one run), so fp32 and int8 of a backend share it; the row's figures are its `label` in bench.json.
   */
  builds: { precision: string; backend?: 'onnxruntime' | 'vastai'; buildDir?: string; benchDir?: string; evalDir?: string }[];
}

/**
 * The report finds each variant's results through its own targets' outputPath options, so it never
 * guesses a folder layout: a variant's int8 targets are `*-int8`, fp32 the plain names, and the one
 * `vamp-bench` target measures both. Variants come in the zoo page's order (metadata.zoo.order), then by name.
 */
export function variantsFromProjects(
  projects: Record<string, ProjectConfiguration>,
  tag: string,
  resolve: (p: string) => string,
): VariantOutputs[] {
  const out: VariantOutputs[] = [];
  for (const [name, p] of Object.entries(projects).sort(([a], [b]) => a.localeCompare(b))) {
    if (!(p.tags ?? []).includes(tag)) continue;
    const targets = p.targets ?? {};
    const outPath = (t: string, configuration?: string) => {
      const base = targets[t]?.options as { outputPath?: string } | undefined;
      const o = configuration ? { ...base, ...(targets[t]?.configurations?.[configuration] as { outputPath?: string } | undefined) } : base;
      return o?.outputPath ? resolve(o.outputPath) : undefined;
    };
    const exportOpts = (targets['onnx-export']?.options ?? {}) as { model?: string; variant?: string };
    const meta = (p.metadata ?? {}) as { zoo?: ZooReference };
    const builds: VariantOutputs['builds'] = [];
    for (const suffix of ['', '-int8']) {
      if (!targets[`vamc-build${suffix}`]) continue;
      builds.push({
        precision: suffix ? 'int8' : 'fp32',
        buildDir: outPath(`vamc-build${suffix}`),
        benchDir: outPath('vamp-bench'),
        evalDir: outPath(`vamp-eval${suffix}`),
      });
    }
    // The `vastai` configuration's outputs (-c vastai); rows appear only where it has results.
    for (const suffix of ['', '-int8']) {
      if (!targets[`vamc-build${suffix}`]?.configurations?.['vastai']) continue;
      builds.push({
        precision: suffix ? 'int8' : 'fp16',
        backend: 'vastai',
        buildDir: outPath(`vamc-build${suffix}`, 'vastai'),
        benchDir: outPath('vamp-bench', 'vastai'),
        evalDir: outPath(`vamp-eval${suffix}`, 'vastai'),
      });
    }
    out.push({
      project: name,
      model: exportOpts.model ?? 'mobilenetv2',
      variant: exportOpts.variant ?? name,
      reference: meta.zoo ?? {},
      exportDir: outPath('onnx-export'),
      builds,
    });
  }
  const order = (v: VariantOutputs) => v.reference.order ?? Number.POSITIVE_INFINITY;
  return out.sort((a, b) => order(a) - order(b) || a.project.localeCompare(b.project));
}

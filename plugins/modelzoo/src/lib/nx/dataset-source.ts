import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { UserError } from '../common/errors';
import { type DatasetFingerprint, fingerprintDataset } from '../dataset/fingerprint';
import schema from '../../executors/dataset-prep/schema.json';

export interface DatasetSourceOptions {
  imagesDirEnv: string;
  labelsFileEnv: string;
  imagesDir?: string;
  labelsFile?: string;
  demoDir: string;
}

export interface DatasetSource {
  imagesDir: string;
  labelsFile: string;
  demo: boolean;
  /** Content fingerprint (lib/dataset/fingerprint.ts), when computed. */
  fingerprint?: string;
}

/** The options that name a dataset: all of them must be visible to the cache input. */
export const SOURCE_OPTIONS = ['imagesDir', 'labelsFile', 'demoDir', 'imagesDirEnv', 'labelsFileEnv'] as const;

/** Workspace folder of the per-file hash index (gitignored). */
export const FINGERPRINT_INDEX_DIR = '.modelzoo/fingerprint-index';

/** schema.json's defaults for the source options, so a graph node without them resolves like the executor. */
export function withSourceDefaults(o: Record<string, unknown>): DatasetSourceOptions {
  const props = (schema as { properties: Record<string, { default?: unknown }> }).properties;
  const out: Record<string, unknown> = {};
  for (const k of SOURCE_OPTIONS) out[k] = o[k] ?? props[k]?.default;
  return out as unknown as DatasetSourceOptions;
}

/**
 * Where the images come from: an explicit option, else the environment variable (ImageNet val lives
 * outside the workspace and is never committed), else the redistributable demo set in the repo. Pure
 * (no file access), so the runtime cache input resolves every target exactly as its executor will.
 */
export function datasetSourcePaths(
  o: DatasetSourceOptions,
  env: NodeJS.ProcessEnv,
  resolve: (p: string) => string,
): DatasetSource & { what: string } {
  const fromEnv = env[o.imagesDirEnv];
  const configured = o.imagesDir ?? (fromEnv && fromEnv.trim() ? fromEnv.trim() : undefined);
  const demo = !configured;
  const imagesDir = resolve(configured ?? o.demoDir);
  const labelsEnv = env[o.labelsFileEnv];
  const labelsFile = o.labelsFile
    ? resolve(o.labelsFile)
    : !demo && labelsEnv && labelsEnv.trim()
      ? resolve(labelsEnv.trim())
      : path.join(imagesDir, 'val_label.txt');
  const what = o.imagesDir ? "option 'imagesDir'" : demo ? "option 'demoDir'" : `environment variable ${o.imagesDirEnv}`;
  return { imagesDir, labelsFile, demo, what };
}

/**
 * datasetSourcePaths, checked to exist, with the content fingerprint dataset-prep records. A source the
 * fingerprint cannot read fails here, with the reason, before any output is written.
 */
export async function resolveDatasetSource(
  o: DatasetSourceOptions,
  env: NodeJS.ProcessEnv,
  resolve: (p: string) => string,
  indexDir?: string,
): Promise<DatasetSource & { stats: DatasetFingerprint }> {
  const { imagesDir, labelsFile, demo, what } = datasetSourcePaths(o, env, resolve);
  const stat = await fs.stat(imagesDir).catch(() => undefined);
  if (!stat?.isDirectory()) throw new UserError(`${what}: image folder ${imagesDir} does not exist`);
  await fs.access(labelsFile).catch(() => {
    throw new UserError(
      `label file ${labelsFile} not found (set option 'labelsFile' or ${o.labelsFileEnv}; expected ILSVRC2012 'FILE INDEX' lines)`,
    );
  });
  const stats = await fingerprintDataset(imagesDir, labelsFile, { indexDir });
  return { imagesDir, labelsFile, demo, fingerprint: stats.fingerprint, stats };
}

/** One target's declared options and configurations, as the project graph holds them. */
export interface DeclaredTarget {
  project: string;
  projectRoot: string;
  target: string;
  options: Record<string, unknown>;
  configurations: Record<string, Record<string, unknown>>;
}

/**
 * Every (target, configuration) of a dataset-prep executor with its source options: what the runtime
 * cache input must hash. Nx runtime inputs see no options, so the input hashes every dataset any target
 * or configuration can name; the executor refuses a source named where this list cannot see it.
 */
export function declaredSources(targets: DeclaredTarget[]): { key: string; target: DeclaredTarget; configuration?: string; options: DatasetSourceOptions }[] {
  const out: { key: string; target: DeclaredTarget; configuration?: string; options: DatasetSourceOptions }[] = [];
  for (const t of targets) {
    out.push({ key: `${t.project}:${t.target}`, target: t, options: withSourceDefaults(t.options) });
    for (const [c, co] of Object.entries(t.configurations ?? {})) {
      out.push({ key: `${t.project}:${t.target}:${c}`, target: t, configuration: c, options: withSourceDefaults({ ...t.options, ...co }) });
    }
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * A source option given on the command line (`--imagesDir=...`) is in the task's hash only as a
 * string, never as the content of the folder it names, so a later run would replay shards of images
 * that have since changed. Refused: the value must come from project.json (options or a
 * configuration) or the environment, which the runtime input fingerprints by content.
 */
export function assertSourceDeclared(
  given: Record<string, unknown>,
  declared: { options?: Record<string, unknown>; configurations?: Record<string, Record<string, unknown>> } | undefined,
  configuration: string | undefined,
): void {
  if (!declared) return;
  const merged = withSourceDefaults({ ...(declared.options ?? {}), ...((configuration && declared.configurations?.[configuration]) || {}) });
  const effective = withSourceDefaults(given);
  for (const k of SOURCE_OPTIONS) {
    if (effective[k] !== merged[k]) {
      throw new UserError(
        `option '${k}' = ${JSON.stringify(effective[k])} was given on the command line; Nx's cache input hashes the dataset only ` +
          `for values in project.json. Set '${k}' in the target's options or in a configuration (-c), or use the ` +
          `${merged.imagesDirEnv} / ${merged.labelsFileEnv} environment variables.`,
      );
    }
  }
}

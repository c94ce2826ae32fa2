import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { UserError } from '../common/errors';

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
  fingerprint?: string;
}

/**
 * Where the images come from: an explicit option, else the environment variable (ImageNet val lives
 * outside the workspace and is never committed), else the redistributable demo set in the repo.
 */
export async function resolveDatasetSource(
  o: DatasetSourceOptions,
  env: NodeJS.ProcessEnv,
  resolve: (p: string) => string,
): Promise<DatasetSource> {
  const fromEnv = env[o.imagesDirEnv];
  const configured = o.imagesDir ?? (fromEnv && fromEnv.trim() ? fromEnv : undefined);
  const demo = !configured;
  const imagesDir = resolve(configured ?? o.demoDir);
  const labelsEnv = env[o.labelsFileEnv];
  const labelsFile = o.labelsFile
    ? resolve(o.labelsFile)
    : !demo && labelsEnv && labelsEnv.trim()
      ? resolve(labelsEnv)
      : path.join(imagesDir, 'val_label.txt');
  const what = o.imagesDir ? "option 'imagesDir'" : demo ? "option 'demoDir'" : `environment variable ${o.imagesDirEnv}`;
  const stat = await fs.stat(imagesDir).catch(() => undefined);
  if (!stat?.isDirectory()) throw new UserError(`${what}: image folder ${imagesDir} does not exist`);
  await fs.access(labelsFile).catch(() => {
    throw new UserError(
      `label file ${labelsFile} not found (set option 'labelsFile' or ${o.labelsFileEnv}; expected ILSVRC2012 'FILE INDEX' lines)`,
    );
  });
  return { imagesDir, labelsFile, demo };
}

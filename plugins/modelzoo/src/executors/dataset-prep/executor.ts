import * as path from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { prepareDataset } from '../../lib/dataset/prepare';
import { runStage } from '../../lib/nx/run-executor';
import { resolveDatasetSource } from '../../lib/nx/dataset-source';
import { resolvePreset } from '../../lib/preprocess/spec';
import schema from './schema.json';

export interface DatasetPrepOptions {
  imagesDirEnv: string;
  labelsFileEnv: string;
  imagesDir?: string;
  labelsFile?: string;
  demoDir: string;
  preprocess: string;
  classes: number;
  calibrationSize: number;
  shardSize: number;
  concurrency: number;
  skipCorrupt: boolean;
  limit?: number;
  outputPath: string;
}

export default async function datasetPrep(options: DatasetPrepOptions, context: ExecutorContext) {
  return runStage<DatasetPrepOptions>(schema, options, context, async (o, ctx) => {
    const source = await resolveDatasetSource(o, process.env, ctx.resolve);
    const manifest = await prepareDataset({
      imagesDir: source.imagesDir,
      labelsFile: source.labelsFile,
      outDir: ctx.resolve(o.outputPath),
      geometry: resolvePreset(o.preprocess, 'dataset-prep').geometry,
      calibrationSize: o.calibrationSize,
      classes: o.classes,
      shardSize: o.shardSize,
      concurrency: o.concurrency || undefined,
      skipCorrupt: o.skipCorrupt,
      demo: source.demo,
      fingerprint: source.fingerprint,
      limit: o.limit,
    });
    process.stdout.write(
      `${ctx.project}:${ctx.target}: ${manifest.count} images from ${path.relative(ctx.workspaceRoot, source.imagesDir) || source.imagesDir}` +
        `${source.demo ? ' (DEMO set: set ' + o.imagesDirEnv + ' to use ImageNet val)' : ''}, ` +
        `${manifest.calibration.count} calibration, ${manifest.skipped.length} skipped\n`,
    );
  });
}

import * as path from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { prepareDataset } from '../../lib/dataset/prepare';
import { runStage } from '../../lib/nx/run-executor';
import { FINGERPRINT_INDEX_DIR, assertSourceDeclared, resolveDatasetSource } from '../../lib/nx/dataset-source';
import { resolvePreset } from '../../lib/preprocess/spec';
import { setAsideNpz, writeDatasetNpz } from '../../lib/vastai/stages';
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
  /** npz: also write <outputPath>/npz (one .npz per image + vamp's datalist) for the VastAI backend. */
  format: 'uint8' | 'npz';
  outputPath: string;
}

export default async function datasetPrep(options: DatasetPrepOptions, context: ExecutorContext) {
  return runStage<DatasetPrepOptions>(schema, options, context, async (o, ctx) => {
    const declared = context.projectsConfigurations?.projects[ctx.project]?.targets?.[ctx.target];
    assertSourceDeclared(o as unknown as Record<string, unknown>, declared, context.configurationName);
    const source = await resolveDatasetSource(o, process.env, ctx.resolve, ctx.resolve(FINGERPRINT_INDEX_DIR));
    const outDir = ctx.resolve(o.outputPath);
    if (o.format === 'npz') await setAsideNpz(outDir);
    const manifest = await prepareDataset({
      imagesDir: source.imagesDir,
      labelsFile: source.labelsFile,
      outDir,
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
    if (o.format === 'npz') {
      // After the uint8 shards (the npz files are written from them, so both hold the same pixels).
      const npz = await writeDatasetNpz(outDir);
      process.stdout.write(
        `${ctx.project}:${ctx.target}: ${npz.count} npz inputs for vamp in ${path.relative(ctx.workspaceRoot, npz.dir) || npz.dir}` +
          `${npz.resumed ? ` (${npz.resumed} kept from an interrupted run, ${npz.written} written)` : ''}\n`,
      );
    }
  });
}

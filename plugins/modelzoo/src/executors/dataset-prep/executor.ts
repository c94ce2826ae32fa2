import * as path from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { prepareDataset } from '../../lib/dataset/prepare';
import { runStage } from '../../lib/nx/run-executor';
import { UserError } from '../../lib/common/errors';
import {
  FINGERPRINT_INDEX_DIR,
  assertSourceDeclared,
  checkRuntimeFingerprint,
  resolveDatasetSource,
} from '../../lib/nx/dataset-source';
import { fingerprintDataset } from '../../lib/dataset/fingerprint';
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
  /** Pillow's MAX_IMAGE_PIXELS: warn above it, refuse an image above twice it (checked from its header). */
  maxImagePixels: number;
  limit?: number;
  /** npz: also write <outputPath>/npz (one .npz per image + vamp's datalist) for the VastAI backend. */
  format: 'uint8' | 'npz';
  outputPath: string;
}

export default async function datasetPrep(options: DatasetPrepOptions, context: ExecutorContext) {
  return runStage<DatasetPrepOptions>(schema, options, context, async (o, ctx) => {
    const declared = context.projectsConfigurations?.projects[ctx.project]?.targets?.[ctx.target];
    assertSourceDeclared(o as unknown as Record<string, unknown>, declared, context.configurationName);
    const indexDir = ctx.resolve(FINGERPRINT_INDEX_DIR);
    const source = await resolveDatasetSource(o, process.env, ctx.resolve, indexDir);
    await checkRuntimeFingerprint(indexDir, source);
    const outDir = ctx.resolve(o.outputPath);
    await ctx.contain({ outputPath: outDir }, { 'image folder': source.imagesDir, 'label file': source.labelsFile });
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
      maxImagePixels: o.maxImagePixels,
      demo: source.demo,
      fingerprint: source.fingerprint,
      limit: o.limit,
    });
    // Images changed while they were read would be cached under the hash of what was there before.
    const after = await fingerprintDataset(source.imagesDir, source.labelsFile, { indexDir });
    if (after.fingerprint !== source.fingerprint) {
      throw new UserError(`the images in ${source.imagesDir} or their labels changed while dataset-prep read them; nothing was cached, run it again`);
    }
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

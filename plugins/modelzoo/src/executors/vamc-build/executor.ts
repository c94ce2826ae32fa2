import type { ExecutorContext } from '@nx/devkit';
import { type BuildOptions, buildModel } from '../../lib/build/build-model';
import { runStage } from '../../lib/nx/run-executor';
import { int8Quantizer } from '../../lib/build/int8';
import schema from './schema.json';

type VamcBuildOptions = BuildOptions & { backend: 'onnxruntime' };

export default async function vamcBuild(options: VamcBuildOptions, context: ExecutorContext) {
  return runStage<VamcBuildOptions>(schema, options, context, async (o, ctx) => {
    const manifest = await buildModel(
      { ...o, model: ctx.resolve(o.model), dataset: ctx.resolve(o.dataset), outputPath: ctx.resolve(o.outputPath) },
      int8Quantizer,
    );
    process.stdout.write(`${ctx.project}: built ${manifest.precision} model (${manifest.backend}), sha256 ${manifest.sha256.slice(0, 12)}\n`);
  });
}

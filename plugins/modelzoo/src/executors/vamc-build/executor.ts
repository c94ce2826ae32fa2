import type { ExecutorContext } from '@nx/devkit';
import { type BuildOptions, buildModel } from '../../lib/build/build-model';
import { runStage } from '../../lib/nx/run-executor';
import { producerOf } from '../../lib/nx/producer';
import { int8Quantizer } from '../../lib/build/int8';
import { type VastaiBuildOptionsObject, vastaiBuild } from '../../lib/vastai/stages';
import { requireBackendOptions } from '../../lib/vastai/backend-option';
import schema from './schema.json';

type VamcBuildOptions = BuildOptions & { backend: 'onnxruntime' | 'vastai'; vastai?: VastaiBuildOptionsObject };

export default async function vamcBuild(options: VamcBuildOptions, context: ExecutorContext) {
  return runStage<VamcBuildOptions>(schema, options, context, async (o, ctx) => {
    const paths = { model: ctx.resolve(o.model), dataset: ctx.resolve(o.dataset), outputPath: ctx.resolve(o.outputPath) };
    const vastai = requireBackendOptions(o, ctx);
    const manifest = vastai
      ? await vastaiBuild({ ...o, ...paths, vastai: vastai as VastaiBuildOptionsObject })
      : await buildModel({ ...o, ...paths, producers: { model: producerOf(context, o.model), dataset: producerOf(context, o.dataset) } }, int8Quantizer);
    process.stdout.write(
      `${ctx.project}: built ${manifest.precision} model (${manifest.backend}${manifest.stand_in ? ', STAND-IN vamc' : ''}), sha256 ${manifest.sha256.slice(0, 12)}\n`,
    );
  });
}

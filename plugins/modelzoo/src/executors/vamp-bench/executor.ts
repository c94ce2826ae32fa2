import type { ExecutorContext } from '@nx/devkit';
import { type BenchModelOptions, benchModel } from '../../lib/bench/bench-model';
import { producerOf } from '../../lib/nx/producer';
import { runStage } from '../../lib/nx/run-executor';
import { requireBackendOptions } from '../../lib/vastai/backend-option';
import { type VampToolOptions, vastaiBench } from '../../lib/vastai/stages';
import schema from './schema.json';

type VampBenchOptions = BenchModelOptions & { backend: 'onnxruntime' | 'vastai'; vastai?: VampToolOptions };

export default async function vampBench(options: VampBenchOptions, context: ExecutorContext) {
  return runStage<VampBenchOptions>(schema, options, context, async (o, ctx) => {
    const paths = { models: o.models.map((m) => ctx.resolve(m)), outputPath: ctx.resolve(o.outputPath) };
    await ctx.contain({ outputPath: paths.outputPath }, Object.fromEntries(paths.models.map((m, i) => [`model ${i + 1}`, m])));
    const vastai = requireBackendOptions(o, ctx);
    if (vastai) await vastaiBench({ ...o, ...paths, vastai });
    else await benchModel({ ...o, ...paths, producers: o.models.map((m) => producerOf(context, m)) });
  });
}

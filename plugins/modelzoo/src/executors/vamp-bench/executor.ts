import type { ExecutorContext } from '@nx/devkit';
import { type BenchModelOptions, benchModel } from '../../lib/bench/bench-model';
import { runStage } from '../../lib/nx/run-executor';
import schema from './schema.json';

type VampBenchOptions = BenchModelOptions & { backend: 'onnxruntime' };

export default async function vampBench(options: VampBenchOptions, context: ExecutorContext) {
  return runStage<VampBenchOptions>(schema, options, context, async (o, ctx) => {
    await benchModel({ ...o, model: ctx.resolve(o.model), outputPath: ctx.resolve(o.outputPath) });
  });
}

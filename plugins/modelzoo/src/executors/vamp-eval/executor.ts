import type { ExecutorContext } from '@nx/devkit';
import { type EvaluateOptions, evaluateModel } from '../../lib/eval/evaluate-model';
import { runStage } from '../../lib/nx/run-executor';
import { producerOf } from '../../lib/nx/producer';
import { requireBackendOptions } from '../../lib/vastai/backend-option';
import { type VampToolOptions, vastaiEval } from '../../lib/vastai/stages';
import schema from './schema.json';

type VampEvalOptions = EvaluateOptions & { backend: 'onnxruntime' | 'vastai'; vastai?: VampToolOptions & { npzDir?: string } };

export default async function vampEval(options: VampEvalOptions, context: ExecutorContext) {
  return runStage<VampEvalOptions>(schema, options, context, async (o, ctx) => {
    const paths = { model: ctx.resolve(o.model), dataset: ctx.resolve(o.dataset), outputPath: ctx.resolve(o.outputPath) };
    const vastai = requireBackendOptions(o, ctx);
    if (vastai) {
      await vastaiEval({ ...o, ...paths, vastai: { ...vastai, npzDir: vastai.npzDir ? ctx.resolve(vastai.npzDir) : undefined } });
    } else {
      const producers = { model: producerOf(context, o.model), dataset: producerOf(context, o.dataset) };
      await evaluateModel({ ...o, ...paths, modelName: o.model, producers });
    }
  });
}

import type { ExecutorContext } from '@nx/devkit';
import { type EvaluateOptions, evaluateModel } from '../../lib/eval/evaluate-model';
import { runStage } from '../../lib/nx/run-executor';
import schema from './schema.json';

type VampEvalOptions = EvaluateOptions & { backend: 'onnxruntime' };

export default async function vampEval(options: VampEvalOptions, context: ExecutorContext) {
  return runStage<VampEvalOptions>(schema, options, context, async (o, ctx) => {
    await evaluateModel({
      ...o,
      model: ctx.resolve(o.model),
      dataset: ctx.resolve(o.dataset),
      outputPath: ctx.resolve(o.outputPath),
    });
  });
}

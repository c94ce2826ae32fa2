import type { ExecutorContext } from '@nx/devkit';
import { type ExportOptions, exportModel } from '../../lib/export/export-model';
import { runStage } from '../../lib/nx/run-executor';
import schema from './schema.json';

export default async function onnxExport(options: ExportOptions, context: ExecutorContext) {
  return runStage<ExportOptions>(schema, options, context, async (o, ctx) => {
    const file = o.file ? ctx.resolve(o.file) : undefined;
    const outputPath = ctx.resolve(o.outputPath);
    await ctx.contain(
      { outputPath },
      { file, weights: typeof o.weights === 'string' && o.weights ? ctx.resolve(o.weights) : undefined, cacheDir: o.cacheDir ? ctx.resolve(o.cacheDir) : undefined },
    );
    const card = await exportModel({ ...o, file, baseDir: ctx.workspaceRoot, outputPath });
    const lib = card.libraryParams !== undefined ? `; the library counts ${(card.libraryParams / 1e6).toFixed(3)} M params` : '';
    process.stdout.write(
      `${ctx.project}: ${(card.params / 1e6).toFixed(3)} M params, ${(card.macs / 1e6).toFixed(1)} M MACs, input [${card.input.shape}], weights ${card.weights}${lib}\n`,
    );
  });
}

import type { ExecutorContext } from '@nx/devkit';
import { runStage } from '../../lib/nx/run-executor';
import { type ReportOptions, writeReport } from '../../lib/report/report';
import { variantsFromProjects } from '../../lib/report/variants';
import schema from './schema.json';

export default async function report(options: ReportOptions, context: ExecutorContext) {
  return runStage<ReportOptions>(schema, options, context, async (o, ctx) => {
    const variants = variantsFromProjects(context.projectsConfigurations?.projects ?? {}, o.tag, ctx.resolve);
    const outputPath = ctx.resolve(o.outputPath);
    const read = variants.flatMap((v) => [
      [`${v.project}'s export`, v.exportDir],
      ...v.builds.flatMap((b) => [
        [`${v.project}'s ${b.precision} build`, b.buildDir],
        [`${v.project}'s ${b.precision} bench`, b.benchDir],
        [`${v.project}'s ${b.precision} eval`, b.evalDir],
      ]),
    ]);
    await ctx.contain({ outputPath }, Object.fromEntries(read));
    const { markdown } = await writeReport(variants, { ...o, outputPath });
    process.stdout.write(markdown + '\n');
  });
}

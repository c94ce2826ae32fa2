import type { ExecutorContext } from '@nx/devkit';
import { runStage } from '../../lib/nx/run-executor';
import { type ReportRunOptions, runReport } from '../../lib/report/run';
import { variantsFromProjects } from '../../lib/report/variants';
import schema from './schema.json';

export default async function report(options: ReportRunOptions, context: ExecutorContext) {
  return runStage<ReportRunOptions>(schema, options, context, async (o, ctx) => {
    const variants = variantsFromProjects(context.projectsConfigurations?.projects ?? {}, o.tag, ctx.resolve);
    const read = variants.flatMap((v) => [
      [`${v.project}'s export`, v.exportDir],
      ...v.builds.flatMap((b) => [
        [`${v.project}'s ${b.precision} build`, b.buildDir],
        [`${v.project}'s ${b.precision} bench`, b.benchDir],
        [`${v.project}'s ${b.precision} eval`, b.evalDir],
      ]),
    ]);
    const baseline = o.baseline ?? process.env['MODELZOO_REPORT_BASELINE'];
    if (baseline) read.push(['the baseline report', ctx.resolve(baseline)]);
    await ctx.contain({ outputPath: ctx.resolve(o.outputPath) }, Object.fromEntries(read));
    const { markdown, summary } = await runReport(variants, o, ctx.resolve, ctx.workspaceRoot);
    process.stdout.write(markdown + '\n' + summary);
  });
}

import type { ExecutorContext } from '@nx/devkit';
import { runStage } from '../../lib/nx/run-executor';
import { type ReportRunOptions, runReport } from '../../lib/report/run';
import { variantsFromProjects } from '../../lib/report/variants';
import schema from './schema.json';

export default async function report(options: ReportRunOptions, context: ExecutorContext) {
  return runStage<ReportRunOptions>(schema, options, context, async (o, ctx) => {
    const variants = variantsFromProjects(context.projectsConfigurations?.projects ?? {}, o.tag, ctx.resolve);
    const { markdown, summary } = await runReport(variants, o, ctx.resolve, ctx.workspaceRoot);
    process.stdout.write(markdown + '\n' + summary);
  });
}

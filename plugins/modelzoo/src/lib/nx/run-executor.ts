import * as path from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { describeError } from '../common/errors';
import { validateOptions } from '../common/options';

export interface StageContext {
  workspaceRoot: string;
  project: string;
  target: string;
  projectRoot: string;
  /** Resolve a path option: absolute stays, relative is from the workspace root (as Nx shows it). */
  resolve(p: string): string;
}

/**
 * The one place where Nx meets the plain pipeline functions: validate options against schema.json,
 * run, and turn any failure into a clear message and `success: false` (a non-zero exit for Nx).
 */
export async function runStage<T>(
  schema: object,
  rawOptions: unknown,
  context: ExecutorContext,
  run: (options: T, ctx: StageContext) => Promise<void>,
): Promise<{ success: boolean }> {
  const project = context.projectName ?? '(unknown project)';
  const target = context.targetName ?? '(unknown target)';
  const projectRoot = context.projectsConfigurations?.projects[project]?.root ?? '.';
  const ctx: StageContext = {
    workspaceRoot: context.root,
    project,
    target,
    projectRoot,
    resolve: (p) => (path.isAbsolute(p) ? p : path.join(context.root, p)),
  };
  try {
    const options = validateOptions<T>(schema, rawOptions, { project, target });
    await run(options, ctx);
    return { success: true };
  } catch (err) {
    process.stderr.write(`\n✖ ${project}:${target} failed: ${describeError(err)}\n`);
    return { success: false };
  }
}

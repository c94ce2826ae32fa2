import * as path from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { holdDirLock } from '../common/atomic';
import { assertReplaceable, checkOutputs, currentScope, runInOutputScope } from '../common/containment';
import { describeError } from '../common/errors';
import { validateOptions } from '../common/options';

/** Paths by option name (as the user wrote the option), already resolved; undefined entries are skipped. */
export type PathsByOption = Record<string, string | undefined>;

export interface StageContext {
  workspaceRoot: string;
  project: string;
  target: string;
  projectRoot: string;
  /** Resolve a path option: absolute stays, relative is from the workspace root (as Nx shows it). */
  resolve(p: string): string;
  /**
   * Declares the task's outputs and inputs; call it before writing anything. Refuses (a clear error,
   * nothing touched) unless every output is contained (lib/common/containment.ts), then holds each
   * output's lock until the stage ends, so a concurrent run of the same output waits instead of
   * interleaving. Only declared outputs can be written (withAtomicDir checks).
   */
  contain(outputs: PathsByOption, inputs: PathsByOption): Promise<void>;
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
  const executor = (schema as { title?: string }).title ?? target;
  const releases: (() => Promise<void>)[] = [];
  const ctx: StageContext = {
    workspaceRoot: context.root,
    project,
    target,
    projectRoot,
    resolve: (p) => (path.isAbsolute(p) ? p : path.join(context.root, p)),
    async contain(outputs, inputs) {
      const list = (m: PathsByOption) =>
        Object.entries(m).flatMap(([what, p]) => (p === undefined ? [] : [{ what: what.includes(' ') ? what : `option '${what}'`, path: p }]));
      const outs = list(outputs);
      const ins = list(inputs).map((i) => ({ ...i, what: `the task's input (${i.what})` }));
      const real = await checkOutputs({ workspaceRoot: context.root, executor, outputs: outs, inputs: ins });
      const scope = currentScope()!;
      for (const [i, o] of outs.entries()) {
        scope.claimed.add(path.resolve(o.path));
        scope.claimed.add(real[i]!);
        releases.push(await holdDirLock(real[i]!));
        // Checked again under the lock: another run may have changed it while this one waited.
        await assertReplaceable(real[i]!, executor);
      }
    },
  };
  try {
    const options = validateOptions<T>(schema, rawOptions, { project, target });
    await runInOutputScope(executor, () => run(options, ctx));
    return { success: true };
  } catch (err) {
    process.stderr.write(`\n✖ ${project}:${target} failed: ${describeError(err)}\n`);
    return { success: false };
  } finally {
    for (const release of releases.reverse()) await release();
  }
}

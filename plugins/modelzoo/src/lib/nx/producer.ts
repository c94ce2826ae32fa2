import * as path from 'node:path';
import type { ExecutorContext } from '@nx/devkit';

/**
 * `project:target[:configuration]` whose outputPath is `dir`: the task to rerun when an artefact in
 * `dir` fails its sha256 check. Undefined when no target of the workspace writes there.
 */
export function producerOf(context: Pick<ExecutorContext, 'root' | 'projectsConfigurations'>, dir: string): string | undefined {
  const want = path.resolve(context.root, dir);
  const at = (p: unknown) => typeof p === 'string' && path.resolve(context.root, p) === want;
  for (const [project, cfg] of Object.entries(context.projectsConfigurations?.projects ?? {})) {
    for (const [target, t] of Object.entries(cfg.targets ?? {})) {
      if (at(t.options?.outputPath)) return `${project}:${target}`;
      for (const [c, co] of Object.entries(t.configurations ?? {})) if (at((co as { outputPath?: unknown }).outputPath)) return `${project}:${target}:${c}`;
    }
  }
  return undefined;
}

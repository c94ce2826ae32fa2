import type { ExecutorContext } from '@nx/devkit';

/** The context Nx hands an executor, for project `mobilenetv2-test` in a workspace at `root`. */
export function executorContext(root: string, target: string): ExecutorContext {
  return {
    root,
    cwd: root,
    isVerbose: false,
    projectName: 'mobilenetv2-test',
    targetName: target,
    projectsConfigurations: { version: 2, projects: { 'mobilenetv2-test': { root: 'models/test' } } },
    nxJsonConfiguration: {},
    projectGraph: { nodes: {}, dependencies: {} },
  } as unknown as ExecutorContext;
}

/** What `fn` writes to stderr (executors report failures there), swallowed. */
export async function captureStderr(fn: () => Promise<unknown>): Promise<string> {
  const orig = process.stderr.write.bind(process.stderr);
  let text = '';
  (process.stderr as unknown as { write: (chunk: unknown) => boolean }).write = (chunk: unknown) => ((text += String(chunk)), true);
  try {
    await fn();
  } finally {
    process.stderr.write = orig;
  }
  return text;
}

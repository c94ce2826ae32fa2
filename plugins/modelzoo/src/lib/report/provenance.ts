import { createRequire } from 'node:module';
import * as path from 'node:path';
import { onnxRuntimeVersion } from '../bench/bench-model';
import { type BenchEnvironment, benchEnvironment } from '../bench/machine';
import { loadExeca } from '../vastai/tools';

/** Where, when and with what a report was made (report.json `provenance`, the Markdown's footer). */
export interface ReportProvenance {
  date: string;
  git: { commit: string | null; dirty: boolean | null };
  machine: BenchEnvironment;
  versions: { node: string; nx: string | null; onnxruntime: string | null };
}

async function git(root: string, args: string[]): Promise<string | null> {
  try {
    const { execa } = await loadExeca();
    const r = await execa('git', args, { cwd: root, reject: false, timeout: 10_000 });
    return r.exitCode === 0 ? String(r.stdout) : null;
  } catch {
    return null;
  }
}

function packageVersion(root: string, name: string): string | null {
  try {
    return (createRequire(path.join(root, 'package.json'))(`${name}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
}

/** Outside a git checkout (or without git) commit and dirty are null, never guessed. */
export async function collectProvenance(root: string, now = new Date()): Promise<ReportProvenance> {
  const commit = (await git(root, ['rev-parse', 'HEAD']))?.trim() || null;
  const status = commit ? await git(root, ['status', '--porcelain', '--untracked-files=no']) : null;
  return {
    date: now.toISOString(),
    git: { commit, dirty: status === null ? null : status.trim().length > 0 },
    machine: benchEnvironment(),
    versions: { node: process.version, nx: packageVersion(root, 'nx'), onnxruntime: onnxRuntimeVersion() },
  };
}

import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { UserError } from '../common/errors';

/**
 * Locating and running vamc / vamp. Always argv arrays through execa, never a shell: paths with spaces
 * or quotes reach the tool unchanged. Where a tool comes from is always one of: the executor option
 * (`vamcPath` / `vampPath`), the environment (VAMC_PATH / VAMP_PATH), PATH.
 */
/**
 * execa 9 is ESM-only. TypeScript's CommonJS output would turn `import()` into require(), which under
 * tsx resolves execa's dependencies with require conditions and fails; a real import() does not.
 */
const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<typeof import('execa')>;
let execaModule: Promise<typeof import('execa')> | undefined;
export const loadExeca = () => (execaModule ??= importEsm('execa'));

export type ToolName = 'vamc' | 'vamp';

const OPTION: Record<ToolName, string> = { vamc: 'vastai.vamcPath', vamp: 'vastai.vampPath' };
const ENV: Record<ToolName, string> = { vamc: 'VAMC_PATH', vamp: 'VAMP_PATH' };

async function executable(p: string): Promise<boolean> {
  try {
    const st = await fs.stat(p);
    if (!st.isFile()) return false;
    await fs.access(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function resolveTool(tool: ToolName, explicit?: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env[ENV[tool]];
  const given = explicit ? { value: explicit, from: `option ${OPTION[tool]}` } : fromEnv ? { value: fromEnv, from: `environment variable ${ENV[tool]}` } : undefined;
  if (given) {
    const p = path.resolve(given.value);
    if (!(await executable(p))) throw new UserError(`${tool}: ${p} (from ${given.from}) is not an executable file`);
    return p;
  }
  for (const dir of (env['PATH'] ?? '').split(path.delimiter).filter(Boolean)) {
    const p = path.join(dir, tool);
    if (await executable(p)) return p;
  }
  throw new UserError(
    `${tool} not found: set the ${OPTION[tool]} option or the ${ENV[tool]} environment variable to the ${tool} executable, or put it on PATH` +
      ` (on a machine without VastAI tools, the stand-ins in test/stand-ins/ run the same CLI on ONNX Runtime)`,
  );
}

export interface ToolRun {
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs a tool to completion; a non-zero exit is an error quoting the command, code and stderr tail. */
export async function runTool(tool: ToolName, exe: string, args: string[], cwd: string, timeoutMs?: number): Promise<ToolRun> {
  const start = process.hrtime.bigint();
  const { execa } = await loadExeca();
  const r = await execa(exe, args, { cwd, reject: false, all: false, timeout: timeoutMs, stdin: 'ignore', maxBuffer: 256 * 1024 * 1024 });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const stdout = String(r.stdout ?? '');
  const stderr = String(r.stderr ?? '');
  if (r.failed) {
    const why = r.timedOut
      ? `timed out after ${timeoutMs} ms`
      : r.exitCode !== undefined
        ? `exited with code ${r.exitCode}`
        : r.signal
          ? `was killed by ${r.signal}`
          : `could not start: ${r.shortMessage ?? r.message}`;
    const tail = (s: string) => s.trim().split('\n').slice(-20).join('\n    ');
    throw new UserError(
      `${tool} ${why}\n  command: ${[exe, ...args].map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n  in: ${cwd}` +
        (stderr.trim() ? `\n  stderr:\n    ${tail(stderr)}` : '') +
        (!stderr.trim() && stdout.trim() ? `\n  stdout:\n    ${tail(stdout)}` : ''),
    );
  }
  return { stdout, stderr, seconds };
}

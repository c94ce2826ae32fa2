import * as path from 'node:path';
import { resolveTool, runTool } from './tools';
import { parseVampOutput, type VampReport } from './vamp-output';

/** The options every vamp invocation shares: `vamp -m --vdsp_params -i -p -b [-d]`. */
export interface VampCommon {
  /** vamp's `-m`: the model prefix vamc wrote (VamcBuildDetails.modelPrefix resolved against the build dir). */
  modelPrefix: string;
  vdspParams: string;
  batch: number;
  instances: number;
  processes: number;
  /** Device id (`-d`); left out, vamp picks. */
  device?: number;
  vampPath?: string;
  timeoutMs?: number;
}

export function vampArgs(o: VampCommon, extra: string[] = []): string[] {
  const pos = (v: number, what: string) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`vamp: ${what} must be a positive integer, got ${v}`);
    return String(v);
  };
  const args = ['-m', path.resolve(o.modelPrefix), '--vdsp_params', path.resolve(o.vdspParams)];
  args.push('-i', pos(o.instances, 'instances'), '-p', pos(o.processes, 'processes'), '-b', pos(o.batch, 'batch'));
  if (o.device !== undefined) args.push('-d', String(o.device));
  return [...args, ...extra];
}

export async function runVamp(o: VampCommon, extra: string[], cwd: string): Promise<{ report: VampReport; stdout: string; seconds: number }> {
  const vamp = await resolveTool('vamp', o.vampPath);
  const run = await runTool('vamp', vamp, vampArgs(o, extra), cwd, o.timeoutMs);
  return { report: parseVampOutput(run.stdout), stdout: run.stdout, seconds: run.seconds };
}

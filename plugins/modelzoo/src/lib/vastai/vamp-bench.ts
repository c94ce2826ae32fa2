import * as path from 'node:path';
import { vampReportToBench, type VampBenchConfigResult } from './vamp-output';
import { runVamp, type VampCommon } from './vamp-run';

/** One vamp benchmark run (no datalist: vamp feeds synthetic inputs), as the shared bench row. */
export async function runVampBench(o: VampCommon & { cwd?: string }): Promise<VampBenchConfigResult> {
  const { report } = await runVamp(o, [], o.cwd ?? path.dirname(path.resolve(o.modelPrefix)));
  return vampReportToBench(report, o);
}

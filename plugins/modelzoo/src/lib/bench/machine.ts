import * as os from 'node:os';

/** The machine a benchmark ran on (tools/fingerprint.mjs machine keys the Nx cache on the same facts). */
export function machineIdentity(): { cpu: string; cores: number; platform: string } {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism?.() ?? cpus.length,
    platform: `${os.platform()}-${os.arch()}`,
  };
}

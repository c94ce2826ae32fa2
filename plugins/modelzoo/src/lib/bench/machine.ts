import * as fs from 'node:fs';
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

/**
 * The cgroup v2 CPU quota (/sys/fs/cgroup/cpu.max: "QUOTA PERIOD" or "max PERIOD"): a container may see
 * 16 cores and be allowed 2 of them, which changes every figure. null where there is no cgroup v2 file.
 */
export function cgroupCpuQuota(file = '/sys/fs/cgroup/cpu.max'): { raw: string; cores: number | null } | null {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
  const [quota, period] = raw.split(/\s+/);
  const q = Number(quota);
  const p = Number(period);
  return { raw, cores: quota !== 'max' && q > 0 && p > 0 ? q / p : null };
}

/** 1, 5 and 15 minute load averages (all 0 on Windows). */
export function loadAverage(): [number, number, number] {
  const [a, b, c] = os.loadavg();
  return [a ?? 0, b ?? 0, c ?? 0];
}

/** What bench.json records about where and when it ran. */
export interface BenchEnvironment {
  cpu: string;
  cores: number;
  platform: string;
  cpuQuota: { raw: string; cores: number | null } | null;
}

export function benchEnvironment(): BenchEnvironment {
  return { ...machineIdentity(), cpuQuota: cgroupCpuQuota() };
}

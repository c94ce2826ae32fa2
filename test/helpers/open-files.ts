import * as fs from 'node:fs';

/** Files under `dir` this process has open now (from /proc/self/fd; [] where there is none). */
export function openFilesUnder(dir: string): string[] {
  if (!fs.existsSync('/proc/self/fd')) return [];
  const real = fs.realpathSync(dir);
  return fs
    .readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((p) => p.startsWith(real));
}

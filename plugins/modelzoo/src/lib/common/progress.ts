/**
 * Progress for long work (prep, calibration, eval over 50k images): one line every `everyMs`, with rate
 * and ETA, to stderr so JSON on stdout stays clean. Quiet when MODELZOO_QUIET is set (tests).
 */
export interface ProgressIo {
  now(): number;
  write(line: string): void;
}

/**
 * A rate over a few milliseconds or a couple of items is noise (the first tick once printed
 * `8000000000.0/s`): no rate or ETA until both this much time and this many items have passed.
 */
export const MIN_RATE_MS = 1000;
export const MIN_RATE_ITEMS = 2;

const defaultIo: ProgressIo = { now: () => Date.now(), write: (line) => process.stderr.write(line) };

export class Progress {
  private readonly start: number;
  private lastPrint = -Infinity;
  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly everyMs = 2000,
    private readonly io: ProgressIo = defaultIo,
  ) {
    this.start = io.now();
  }

  tick(done: number): void {
    if (process.env['MODELZOO_QUIET']) return;
    const now = this.io.now();
    if (done < this.total && now - this.lastPrint < this.everyMs) return;
    this.lastPrint = now;
    this.io.write(progressLine(this.label, done, this.total, now - this.start));
  }
}

export function progressLine(label: string, done: number, total: number, elapsedMs: number): string {
  const secs = elapsedMs / 1000;
  const pct = total > 0 ? ((100 * Math.min(done, total)) / total).toFixed(1) : '100.0';
  const finished = done >= total;
  let tail = finished ? ` in ${formatSeconds(secs)}` : '';
  if (elapsedMs >= MIN_RATE_MS && done >= MIN_RATE_ITEMS) {
    const rate = done / secs;
    tail = ` ${rate.toFixed(1)}/s` + (finished ? tail : ` eta ${formatSeconds((total - done) / rate)}`);
  }
  return `[${label}] ${done}/${total} (${pct}%)${tail}\n`;
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${Math.round(s - m * 60)}s`;
}

/**
 * Progress for long work (prep, calibration, eval over 50k images): one line every `everyMs`, with rate
 * and ETA, to stderr so JSON on stdout stays clean. Quiet when MODELZOO_QUIET is set (tests).
 */
export class Progress {
  private readonly start = Date.now();
  private lastPrint = 0;
  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly everyMs = 2000,
  ) {}

  tick(done: number): void {
    if (process.env['MODELZOO_QUIET']) return;
    const now = Date.now();
    if (done < this.total && now - this.lastPrint < this.everyMs) return;
    this.lastPrint = now;
    const secs = (now - this.start) / 1000;
    const rate = done / Math.max(secs, 1e-9);
    const eta = rate > 0 ? (this.total - done) / rate : Infinity;
    const pct = this.total > 0 ? ((100 * done) / this.total).toFixed(1) : '100.0';
    process.stderr.write(
      `[${this.label}] ${done}/${this.total} (${pct}%) ${rate.toFixed(1)}/s` +
        (done < this.total && Number.isFinite(eta) ? ` eta ${formatSeconds(eta)}` : ` in ${formatSeconds(secs)}`) +
        '\n',
    );
  }
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${Math.round(s - m * 60)}s`;
}

// Progress lines are written to stderr unless MODELZOO_QUIET is set (the test runs set it): these run a
// function with it unset and collect what is written, restoring both afterwards, even when fn throws.

function capture(): { lines: string[]; restore: () => void } {
  const quiet = process.env['MODELZOO_QUIET'];
  delete process.env['MODELZOO_QUIET'];
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  const restore = () => {
    process.stderr.write = write;
    if (quiet !== undefined) process.env['MODELZOO_QUIET'] = quiet;
  };
  return { lines, restore };
}

/** Runs fn with progress printing on; `lines` (also returned) fills as fn writes, so fn may check it as it goes. */
export function stderrLines(fn: (lines: string[]) => void): string[] {
  const { lines, restore } = capture();
  try {
    fn(lines);
  } finally {
    restore();
  }
  return lines;
}

/** The same for an async fn: what it wrote to stderr, one entry a write. */
export async function progressOf(fn: () => Promise<unknown>): Promise<string[]> {
  const { lines, restore } = capture();
  try {
    await fn();
  } finally {
    restore();
  }
  return lines;
}

import { spawn, spawnSync } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/**
 * Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: commands on
 * fd 3, replies on fd 4, NUL-separated JSON), so no port, no download and no puppeteer are needed.
 */
export function findChromium(): string | undefined {
  for (const bin of [process.env['CHROMIUM_BIN'], 'chromium', 'chromium-browser', 'google-chrome']) {
    if (!bin) continue;
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    if (r.status === 0 && /chrom/i.test(r.stdout)) return bin;
  }
  return undefined;
}

export interface PageReport {
  /** console.error/warn calls, uncaught exceptions and browser log errors (CSP violations, failed loads). */
  errors: string[];
  evaluate<T>(expression: string): Promise<T>;
  screenshot(): Promise<Buffer>;
  close(): Promise<void>;
}

export async function openPage(bin: string, url: string, width = 1400): Promise<PageReport> {
  const child = spawn(bin, ['--headless', '--no-sandbox', '--disable-gpu', '--remote-debugging-pipe', '--no-first-run', '--no-default-browser-check', '--disable-extensions', 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const toBrowser = child.stdio[3] as Writable;
  const fromBrowser = child.stdio[4] as Readable;
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  const listeners: ((m: any) => void)[] = [];
  let buf = Buffer.alloc(0);
  fromBrowser.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    let at: number;
    while ((at = buf.indexOf(0)) >= 0) {
      const msg = JSON.parse(buf.subarray(0, at).toString('utf8'));
      buf = buf.subarray(at + 1);
      if (msg.id && pending.has(msg.id)) {
        const p = pending.get(msg.id)!;
        pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`CDP ${JSON.stringify(msg.error)}`));
        else p.resolve(msg.result);
      } else listeners.forEach((l) => l(msg));
    }
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  child.on('exit', () => pending.forEach((p) => p.reject(new Error(`chromium exited: ${stderr.slice(-2000)}`))));
  const send = (method: string, params: object = {}, sessionId?: string): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    });

  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  const errors: string[] = [];
  listeners.push((m) => {
    if (m.sessionId !== sessionId) return;
    if (m.method === 'Runtime.consoleAPICalled' && (m.params.type === 'error' || m.params.type === 'warning' || m.params.type === 'assert')) {
      errors.push(`console.${m.params.type}: ${m.params.args.map((a: any) => a.value ?? a.description).join(' ')}`);
    } else if (m.method === 'Runtime.exceptionThrown') {
      errors.push(`exception: ${m.params.exceptionDetails.exception?.description ?? m.params.exceptionDetails.text}`);
    } else if (m.method === 'Log.entryAdded' && (m.params.entry.level === 'error' || m.params.entry.level === 'warning')) {
      errors.push(`log.${m.params.entry.level}: ${m.params.entry.text}`);
    }
  });
  const loaded = new Promise<void>((resolve) => listeners.push((m) => m.sessionId === sessionId && m.method === 'Page.loadEventFired' && resolve()));
  await send('Runtime.enable', {}, sessionId);
  await send('Log.enable', {}, sessionId);
  await send('Page.enable', {}, sessionId);
  await send('Emulation.setDeviceMetricsOverride', { width, height: 900, deviceScaleFactor: 1, mobile: false }, sessionId);
  await send('Page.navigate', { url }, sessionId);
  await loaded;

  const evaluate = async <T>(expression: string): Promise<T> => {
    const r = await send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId);
    if (r.exceptionDetails) throw new Error(`evaluate ${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  };
  return {
    errors,
    evaluate,
    async screenshot() {
      const height = await evaluate<number>('Math.ceil(document.documentElement.scrollHeight)');
      await send('Emulation.setDeviceMetricsOverride', { width, height: Math.min(height, 8000), deviceScaleFactor: 1, mobile: false }, sessionId);
      // Charts resize to the new viewport on the next frame.
      await evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
      const { data } = await send('Page.captureScreenshot', { format: 'png' }, sessionId);
      return Buffer.from(data, 'base64');
    },
    async close() {
      try {
        await Promise.race([send('Browser.close'), exited]);
      } catch {
        // Already gone.
      }
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

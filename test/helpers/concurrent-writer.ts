// A second process for the concurrency tests (test/hostile/containment-concurrency.test.ts):
//   swaps  <target> <id> <count> <barrierDir>   count withAtomicDir swaps of <target>, each checked
//   export <root> <id> <count> <barrierDir>     count onnx-export runs into <root>/dist/shared
// Both wait at a barrier (every writer's ready file) so the writers really overlap. Prints one JSON line.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withAtomicDir, withDirLock } from '../../plugins/modelzoo/src/lib/common/atomic';
import onnxExport from '../../plugins/modelzoo/src/executors/onnx-export/executor';
import { executorContext } from './executor-context';

const FILES = 8;
const [mode, where, id, countArg, barrier] = process.argv.slice(2) as [string, string, string, string, string];
const count = Number(countArg);

async function waitAtBarrier(): Promise<void> {
  fs.writeFileSync(path.join(barrier, `ready-${id}`), '');
  const deadline = Date.now() + 60_000;
  while (fs.readdirSync(barrier).filter((n) => n.startsWith('ready-')).length < 2) {
    if (Date.now() > deadline) throw new Error('barrier timeout');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function swaps(): Promise<Record<string, number>> {
  const failures: string[] = [];
  let sawOther = 0;
  for (let i = 0; i < count; i++) {
    try {
      await withAtomicDir(where, async (d) => {
        for (let k = 0; k < FILES; k++) fs.writeFileSync(path.join(d, `f${k}`), `${id}:${i}`);
      });
      // Read under the lock: a directory is only ever seen whole, from one writer and one swap.
      await withDirLock(where, async () => {
        const names = fs.readdirSync(where).sort();
        const contents = new Set(names.map((n) => fs.readFileSync(path.join(where, n), 'utf8')));
        if (names.length !== FILES || contents.size !== 1) failures.push(`swap ${i}: ${names.length} files, ${[...contents].join(' ')}`);
        if (![...contents][0]!.startsWith(`${id}:`)) sawOther++;
      });
    } catch (err) {
      failures.push(`swap ${i}: ${(err as Error).message}`);
    }
  }
  if (failures.length) throw new Error(`${failures.length} failures: ${failures.slice(0, 5).join('; ')}`);
  return { swaps: count, sawOther };
}

async function exports(): Promise<Record<string, number>> {
  let okRuns = 0;
  for (let i = 0; i < count; i++) {
    let stderr = '';
    const orig = process.stderr.write.bind(process.stderr);
    (process.stderr as unknown as { write: (c: unknown) => boolean }).write = (c: unknown) => ((stderr += String(c)), true);
    let r: { success: boolean };
    try {
      // Two widths: the final directory must be one run's model and its own card, never a mix.
      r = await onnxExport({ variant: id, preprocess: 'torchvision', width: Number(id) % 2 ? 0.25 : 0.5, classes: 10, outputPath: 'dist/shared' } as any, executorContext(where, 'onnx-export'));
    } finally {
      process.stderr.write = orig;
    }
    if (!r.success) throw new Error(`run ${i} failed: ${stderr}`);
    okRuns++;
  }
  return { runs: okRuns };
}

(async () => {
  await waitAtBarrier();
  const result = mode === 'swaps' ? await swaps() : await exports();
  process.stdout.write(JSON.stringify({ id, ...result }) + '\n');
})().catch((err) => {
  process.stdout.write(JSON.stringify({ id, error: (err as Error).message }) + '\n');
  process.exitCode = 1;
});

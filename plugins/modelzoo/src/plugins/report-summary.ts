import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PostTasksExecution } from '@nx/devkit';
import { SUMMARY_FILE, SUMMARY_MARKER } from '../lib/report/summary';

/**
 * Nx plugin hook (exported by the plugin entry, src/index.ts): after a run, print the zoo report's summary (its paths, rows,
 * best top-1, unstable and failed rows). Nx's default output style folds a successful task's output
 * into one line ("Output of N successful tasks were not shown"), so the report executor's own print is
 * invisible there; this runs after Nx's end-of-run lines and also for a report replayed from the cache.
 * It reads the summary file the report wrote into its output folder, nothing else.
 */

const DONE = new Set(['success', 'local-cache', 'local-cache-kept-existing', 'remote-cache']);
const MAX_SUMMARY_BYTES = 64 * 1024;

export const postTasksExecution: PostTasksExecution = (_options, context) => {
  const root = path.resolve(context.workspaceRoot);
  for (const result of Object.values(context.taskResults ?? {})) {
    if (!DONE.has(result.status)) continue;
    for (const out of result.task.outputs ?? []) {
      const file = path.resolve(root, out, SUMMARY_FILE);
      if (!file.startsWith(root + path.sep)) continue;
      let text: string;
      try {
        if (fs.statSync(file).size > MAX_SUMMARY_BYTES) continue;
        text = fs.readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      if (text.startsWith(SUMMARY_MARKER)) process.stdout.write(`\n${result.task.id}\n${text}`);
    }
  }
};

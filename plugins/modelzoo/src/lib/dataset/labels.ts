import * as fs from 'node:fs/promises';
import { UserError } from '../common/errors';
import { parseDatalist } from './reader';

/** One `FILE INDEX` line of the label file, with its 1-based line number for error messages. */
export interface LabelLine {
  file: string;
  label: number;
  line: number;
}

/**
 * Reads and validates an ImageNet-style label file: `FILE INDEX` per line, 0 <= INDEX < classes, each
 * file listed once, no absolute paths or `..` (the file must lie inside the images folder).
 */
export async function readLabels(labelsFile: string, classes: number): Promise<LabelLine[]> {
  let text: string;
  try {
    text = await fs.readFile(labelsFile, 'utf8');
  } catch (err) {
    throw new UserError(`labels ${labelsFile}: cannot read: ${(err as Error).message}`);
  }
  return parseLabels(text, labelsFile, classes);
}

export function parseLabels(text: string, where: string, classes: number): LabelLine[] {
  if (!Number.isInteger(classes) || classes < 1) throw new UserError(`${where}: invalid class count ${classes}`);
  let entries;
  try {
    entries = parseDatalist(text, where);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  // parseDatalist skips blank lines; the k-th entry is the k-th non-blank line.
  const lineNos: number[] = [];
  text.split(/\r?\n/).forEach((l, i) => {
    if (l.trim()) lineNos.push(i + 1);
  });
  const seen = new Map<string, number>();
  return entries.map((e, k) => {
    const line = lineNos[k]!;
    if (e.label >= classes) {
      throw new UserError(`${where}:${line}: class index ${e.label} out of range (classes: ${classes}) for '${e.file}'`);
    }
    if (e.file.startsWith('/') || e.file.split(/[\\/]/).includes('..')) {
      throw new UserError(`${where}:${line}: '${e.file}' must be a path relative to the images folder`);
    }
    const prev = seen.get(e.file);
    if (prev !== undefined) throw new UserError(`${where}:${line}: '${e.file}' already listed on line ${prev}`);
    seen.set(e.file, line);
    return { file: e.file, label: e.label, line };
  });
}

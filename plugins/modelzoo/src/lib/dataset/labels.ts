import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { UserError } from '../common/errors';

/** One `FILE INDEX` line of the label file, with its 1-based line number for error messages. */
export interface LabelLine {
  /** Normalized: `./x.JPEG`, `a/../x.JPEG` and `x.JPEG` are one file. */
  file: string;
  label: number;
  line: number;
}

/** ImageNet val's label file is 1.6 MB; anything this big is not a label file. */
const MAX_LABELS_BYTES = 256 * 1024 * 1024;
const EXAMPLE = `e.g. 'ILSVRC2012_val_00000001.JPEG 65'`;

/**
 * Reads and validates an ImageNet-style label file: `FILE INDEX` per line, 0 <= INDEX < classes, each
 * file listed once, no absolute paths or paths leaving the images folder.
 */
export async function readLabels(labelsFile: string, classes: number): Promise<LabelLine[]> {
  let text: string;
  try {
    const st = await fs.stat(labelsFile);
    if (!st.isFile()) throw new UserError(`labels ${labelsFile}: not a file (expected 'FILE INDEX' lines, ${EXAMPLE})`);
    if (st.size > MAX_LABELS_BYTES) {
      throw new UserError(`labels ${labelsFile}: ${st.size} bytes, more than a label file can be (limit ${MAX_LABELS_BYTES}); check option 'labelsFile'`);
    }
    text = await fs.readFile(labelsFile, 'utf8');
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`labels ${labelsFile}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseLabels(text, labelsFile, classes);
}

/**
 * Errors name the file and line and say what is wrong, never what the line holds: the option may point
 * at any file (`--labelsFile=/etc/passwd`), so its content is not echoed. Only a file name from a line
 * that parsed as `FILE INDEX` is shown, sanitized and bounded (`shown`).
 */
export function parseLabels(text: string, where: string, classes: number): LabelLine[] {
  if (!Number.isInteger(classes) || classes < 1) throw new UserError(`${where}: invalid class count ${classes}`);
  if (text.includes('\0')) throw new UserError(`${where}: a binary file, not a label file (expected 'FILE INDEX' lines, ${EXAMPLE})`);
  const seen = new Map<string, number>();
  const out: LabelLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const t = raw.trim();
    if (!t) return;
    const m = /^(.*\S)\s+(-?\d+)$/.exec(t);
    if (!m) {
      const why = /\s/.test(t) ? 'does not end in a class index (a whole number)' : 'has no class index after the file name';
      throw new UserError(`${where}:${line}: expected 'FILE INDEX' (${EXAMPLE}), but this line ${why}; is option 'labelsFile' the right file?`);
    }
    const rawFile = m[1]!;
    const label = Number(m[2]);
    if (label < 0) throw new UserError(`${where}:${line}: negative class index for ${shown(rawFile)}`);
    if (label >= classes) {
      throw new UserError(`${where}:${line}: class index ${m[2]!.length > 12 ? m[2]!.slice(0, 12) + '…' : label} out of range (classes: ${classes}) for ${shown(rawFile)}`);
    }
    const file = normalizeLabelPath(rawFile);
    if (file === undefined) throw new UserError(`${where}:${line}: ${shown(rawFile)} must be a relative path inside the images folder`);
    const prev = seen.get(file);
    if (prev !== undefined) {
      const same = file === rawFile ? '' : ` (the same file as ${shown(file)})`;
      throw new UserError(`${where}:${line}: ${shown(rawFile)}${same} already listed on line ${prev}; list each image once`);
    }
    seen.set(file, line);
    out.push({ file, label, line });
  });
  return out;
}

/** One spelling per file: `./x`, `a/../x`, `x` and `x/` are `x`; undefined when it leaves the folder. */
export function normalizeLabelPath(file: string): string | undefined {
  const slashes = file.replace(/\\/g, '/');
  if (slashes.startsWith('/') || /^[A-Za-z]:\//.test(slashes)) return undefined;
  // Stryker disable next-line Regex: path.posix.normalize collapses repeated slashes, so at most one trailing slash is left to strip
  const n = path.posix.normalize(slashes).replace(/\/+$/, '');
  if (n === '.' || n === '..' || n.startsWith('../')) return undefined;
  return n;
}

/** A file name from a label line, quoted, control characters replaced, at most 80 characters. */
function shown(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\x00-\x1f\x7f]/g, '?');
  return `'${clean.length > 80 ? clean.slice(0, 77) + '...' : clean}'`;
}

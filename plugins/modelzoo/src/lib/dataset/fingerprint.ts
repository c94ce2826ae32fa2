import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { sha256File } from '../common/atomic';

/**
 * Identity of an image folder for Nx's runtime cache input: the label file's content plus every file's
 * relative name and either size+mtime ('stat': one stat per file, fast for 50k images) or its content
 * hash ('content': reads everything, immune to touch/copy mtime changes). Adding, removing or changing an
 * image outside the workspace therefore changes the hash and reruns dataset-prep.
 */
export async function fingerprintImageFolder(
  imagesDir: string,
  labelsFile: string,
  mode: 'stat' | 'content' = 'stat',
): Promise<string> {
  const h = createHash('sha256');
  h.update(`modelzoo-images/1 ${mode}\n`);
  try {
    h.update(await fs.readFile(labelsFile));
  } catch (err) {
    throw new Error(`fingerprint: cannot read labels ${labelsFile}: ${(err as Error).message}`);
  }
  h.update('\n');
  const files = await listFiles(imagesDir);
  const lines = await mapLimited(files, 16, async (rel) => {
    const abs = path.join(imagesDir, rel);
    if (mode === 'content') return `${rel}\0${await sha256File(abs)}\n`;
    const st = await fs.stat(abs);
    return `${rel}\0${st.size}\0${Math.trunc(st.mtimeMs)}\n`;
  });
  for (const l of lines) h.update(l);
  return h.digest('hex');
}

/** Regular files under dir (relative, '/'-separated, sorted), skipping dot-files and dot-dirs. */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    let ents;
    try {
      ents = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    } catch (err) {
      throw new Error(`fingerprint: cannot list ${path.join(dir, rel)}: ${(err as Error).message}`);
    }
    for (const e of ents) {
      if (e.name.startsWith('.')) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      else if (e.isFile() || e.isSymbolicLink()) out.push(r);
    }
  };
  await walk('');
  return out.sort();
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

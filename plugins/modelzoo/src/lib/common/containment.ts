import { AsyncLocalStorage } from 'node:async_hooks';
import * as fsSync from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { UserError } from './errors';

/**
 * Output containment: where an executor may write, and which existing directory it may replace.
 *
 * A path option is user input (`--outputPath=.` once deleted a whole workspace, `.git` included), so
 * every output is checked before anything is touched: after resolving symlinks it must lie strictly
 * inside the workspace, must not be the workspace, and must not be equal to, inside, or an ancestor of
 * anything the task reads or the workspace is made of. An existing directory is replaced only when a
 * marker shows that a previous run of the same executor made it.
 */

/** Written into every output directory (inside the temp dir, before the swap), so Nx caches and restores it too. */
export const OUTPUT_MARKER = '.modelzoo-output.json';

/**
 * Deterministic content: downstream targets hash upstream `**\/*.json` outputs, so a timestamp or pid
 * here would change every downstream cache key on each rerun.
 */
export function markerContent(executor: string): string {
  return JSON.stringify({ writtenBy: '@modelzoo/nx-plugin', executor }) + '\n';
}

/** Folders of the workspace itself: never an output, never inside or above one. */
const WORKSPACE_PARTS = ['.git', '.nx', '.modelzoo', 'node_modules', 'models', 'data', 'plugins', 'tools'];

/**
 * The path with symlinks resolved: realpath of its nearest existing ancestor, plus the rest. A
 * symlink anywhere on the way (even `dist` itself) is followed, so it cannot lead a write outside.
 */
export async function realResolve(p: string): Promise<string> {
  let cur = path.resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(await fs.realpath(cur), ...rest.reverse());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A dangling symlink or a loop on the way: the write would follow it somewhere unknown.
      if (code === 'ELOOP') throw new UserError(`${cur} is a symbolic link loop; an output cannot be written through it`);
      const parent = path.dirname(cur);
      if (parent === cur) return path.join(cur, ...rest.reverse());
      const st = await fs.lstat(cur).catch(() => undefined);
      if (st?.isSymbolicLink()) {
        throw new UserError(`${cur} is a symbolic link to a path that does not exist; an output cannot be written through it (remove the link)`);
      }
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

/** True when `inner` lies strictly inside `outer` (both resolved, absolute). */
export function isStrictlyInside(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel !== '' && rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel);
}

/** The plugin package this code runs from (src/ under tsx, dist/ once built). */
function pluginRoot(): string | undefined {
  let dir = __dirname;
  for (;;) {
    try {
      const pkg = JSON.parse(fsSync.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === '@modelzoo/nx-plugin') return dir;
    } catch {
      // not here: keep walking up
    }
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

export interface OutputRequest {
  workspaceRoot: string;
  /** schema.json's title: the marker says which executor made a directory. */
  executor: string;
  /** Output paths, resolved from options (absolute). `what` names the option in errors. */
  outputs: { path: string; what: string }[];
  /** Everything the task reads: images, labels, models, datasets, weights, ... (absolute paths). */
  inputs: { path: string; what: string }[];
}

const FIX = 'choose another outputPath (e.g. under dist/)';

/**
 * Refuses (UserError naming the path, why and the fix) unless every output is contained. Touches
 * nothing. Returns the outputs as resolved real paths.
 */
export async function checkOutputs(req: OutputRequest): Promise<string[]> {
  const root = await realResolve(req.workspaceRoot);
  const guarded: { path: string; what: string }[] = [];
  for (const i of req.inputs) guarded.push({ path: await realResolve(i.path), what: i.what });
  for (const part of WORKSPACE_PARTS) guarded.push({ path: path.join(root, part), what: `the workspace's ${part}/ folder` });
  const plugin = pluginRoot();
  if (plugin) guarded.push({ path: await realResolve(plugin), what: 'the plugin folder' });
  const cacheDir = process.env['NX_CACHE_DIRECTORY'];
  if (cacheDir) guarded.push({ path: await realResolve(path.resolve(req.workspaceRoot, cacheDir)), what: 'the Nx cache (NX_CACHE_DIRECTORY)' });

  const resolved: string[] = [];
  for (const out of req.outputs) {
    if ((await fs.lstat(out.path).catch(() => undefined))?.isSymbolicLink()) {
      // The swap would replace the link, not what it points to: say so rather than surprise.
      throw new UserError(`${out.what} ${out.path} is a symbolic link; outputs are never written through one: ${FIX} (or point the option at the link's target)`);
    }
    const real = await realResolve(out.path);
    const shown = real === path.resolve(out.path) ? real : `${out.path} (resolves to ${real})`;
    if (real === root) {
      throw new UserError(`${out.what} ${shown} is the workspace root; writing there would replace the whole workspace: ${FIX}`);
    }
    if (!isStrictlyInside(real, root)) {
      throw new UserError(`${out.what} ${shown} lies outside the workspace ${root}; outputs are written only inside it: ${FIX}`);
    }
    for (const g of guarded) {
      const why =
        real === g.path ? 'is' : isStrictlyInside(real, g.path) ? 'lies inside' : isStrictlyInside(g.path, real) ? 'contains' : undefined;
      if (why) {
        const where = why === 'is' ? '' : ` (${g.path})`;
        throw new UserError(`${out.what} ${shown} ${why} ${g.what}${where}; an output never overlaps an input or the workspace's own folders: ${FIX}`);
      }
    }
    for (const other of resolved) {
      if (other === real || isStrictlyInside(real, other) || isStrictlyInside(other, real)) {
        throw new UserError(`${out.what} ${shown} overlaps another output of the same task (${other}): ${FIX}`);
      }
    }
    await assertReplaceable(real, req.executor, shown);
    resolved.push(real);
  }
  return resolved;
}

/**
 * An existing path may be replaced only when it is a directory that is empty or carries the marker of
 * the same executor. Directories from before markers existed are refused too: their contents cannot be
 * told apart from a user's files of the same names, and the plugin's outputs are cheap to remake (Nx
 * keys changed with this version anyway, so no old cache entry is replayed into them).
 */
export async function assertReplaceable(dir: string, executor: string, shown = dir): Promise<void> {
  const st = await fs.lstat(dir).catch(() => undefined);
  if (!st) return;
  const fix = `${FIX}, or remove it yourself (rm -r ${JSON.stringify(dir)}) if nothing in it is needed`;
  if (!st.isDirectory()) throw new UserError(`outputPath ${shown} exists and is not a directory; it is never replaced: ${fix}`);
  const marker = await readMarker(dir);
  if (marker === executor) return;
  if (marker !== undefined) {
    throw new UserError(`outputPath ${shown} was written by the ${marker} executor, not ${executor}; it is never replaced by another stage: ${fix}`);
  }
  const names = await fs.readdir(dir);
  if (names.length === 0) return;
  throw new UserError(
    `outputPath ${shown} exists and has no ${OUTPUT_MARKER} marker, so the plugin did not make it (or made it before markers existed); ` +
      `it is never replaced: ${fix}`,
  );
}

/** The executor named by a directory's marker, or undefined when there is none (or it is not ours). */
export async function readMarker(dir: string): Promise<string | undefined> {
  try {
    const m = JSON.parse(await fs.readFile(path.join(dir, OUTPUT_MARKER), 'utf8')) as { writtenBy?: unknown; executor?: unknown };
    return m.writtenBy === '@modelzoo/nx-plugin' && typeof m.executor === 'string' ? m.executor : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- the running stage's claims

interface OutputScope {
  executor: string;
  /** path.resolve(outputPath) and its realpath: withAtomicDir may be handed either. */
  claimed: Set<string>;
  /** Lock files this stage holds (withAtomicDir does not take them again). */
  held: Set<string>;
}

const scope = new AsyncLocalStorage<OutputScope>();

/** Runs an executor's body; inside it, withAtomicDir writes only claimed outputs and marks them. */
export function runInOutputScope<T>(executor: string, fn: () => Promise<T>): Promise<T> {
  return scope.run({ executor, claimed: new Set(), held: new Set() }, fn);
}

export function currentScope(): OutputScope | undefined {
  return scope.getStore();
}

/**
 * What withAtomicDir needs to know about `target`: outside an executor, nothing (library use, the
 * caller owns its paths); inside one, the executor's name, and a refusal for any unclaimed path, so
 * an executor that forgets to declare an output cannot write it unchecked.
 */
export function outputClaim(target: string): { executor: string } | undefined {
  const s = scope.getStore();
  if (!s) return undefined;
  if (!s.claimed.has(path.resolve(target))) {
    throw new Error(`internal: ${s.executor} writes ${target}, which it did not declare as an output (ctx.contain)`);
  }
  return { executor: s.executor };
}

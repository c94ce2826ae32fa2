import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { REPO_ROOT } from './shared';
import { type VariantSpec, variantProject } from '../../plugins/modelzoo/src/lib/nx/variant-project';
import { declarationProjectJson, specToDeclaration } from '../../plugins/modelzoo/src/lib/nx/declaration';

/**
 * A throwaway Nx workspace that uses this repo's plugin, nx.json and tools through symlinks, with its
 * own projects. Tests run the real `nx` binary in it.
 */
export interface TempWorkspace {
  root: string;
  /** `outputStyle: null` runs with Nx's default output style (what a user sees) instead of stream. */
  nx(args: string[], env?: NodeJS.ProcessEnv, opts?: { outputStyle?: string | null }): { status: number; output: string };
  nxSpawn(args: string[], env?: NodeJS.ProcessEnv): ReturnType<typeof spawn>;
  writeJson(rel: string, value: unknown): void;
  readJson<T = any>(rel: string): T;
}

export function createTempWorkspace(name = 'nx-e2e'): TempWorkspace {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  // The same layout as a real checkout: the plugin is a workspace project reached through
  // node_modules/@modelzoo/nx-plugin. Nx resolves executors of a local plugin differently from an
  // installed one, so a symlink to the repo's plugin folder would hide resolution bugs.
  fs.cpSync(path.join(REPO_ROOT, 'plugins'), path.join(root, 'plugins'), {
    recursive: true,
    filter: (src) => path.basename(src) !== 'node_modules',
  });
  fs.mkdirSync(path.join(root, 'node_modules', '@modelzoo'), { recursive: true });
  for (const entry of fs.readdirSync(path.join(REPO_ROOT, 'node_modules'))) {
    if (entry === '@modelzoo' || entry === '.cache') continue;
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', entry), path.join(root, 'node_modules', entry));
  }
  fs.symlinkSync(path.join('..', '..', 'plugins', 'modelzoo'), path.join(root, 'node_modules', '@modelzoo', 'nx-plugin'));
  fs.symlinkSync(path.join(REPO_ROOT, 'tools'), path.join(root, 'tools'));
  fs.copyFileSync(path.join(REPO_ROOT, 'nx.json'), path.join(root, 'nx.json'));
  // The lockfile is what Nx reads externalDependencies (onnxruntime-node, sharp) from.
  for (const file of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(REPO_ROOT, file), path.join(root, file));
  fs.writeFileSync(path.join(root, '.gitignore'), 'dist/\n.nx/\nnode_modules\n');
  const nxBin = resolveNxBin();
  // A key set to undefined removes that variable from the child's environment.
  const baseEnv = (env?: NodeJS.ProcessEnv): NodeJS.ProcessEnv =>
    Object.fromEntries(
      Object.entries({
        ...process.env,
        NX_DAEMON: 'false',
        NX_NO_CLOUD: 'true',
        NX_TUI: 'false',
        NX_SKIP_NX_CACHE: undefined,
        MODELZOO_QUIET: '1',
        FORCE_COLOR: '0',
        ...env,
      }).filter(([, v]) => v !== undefined),
    );
  return {
    root,
    nx(args, env, opts) {
      // Generators take no --outputStyle (Nx refuses options their schema lacks).
      const generator = args[0] === 'g' || args[0] === 'generate';
      const style = generator ? null : opts?.outputStyle === undefined ? 'stream' : opts.outputStyle;
      const r = spawnSync(process.execPath, [nxBin, ...args, ...(style ? [`--outputStyle=${style}`] : [])], {
        cwd: root,
        env: baseEnv(env),
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      return { status: r.status ?? 1, output: `${r.stdout}\n${r.stderr}` };
    },
    nxSpawn(args, env) {
      return spawn(process.execPath, [nxBin, ...args, '--outputStyle=stream'], {
        cwd: root,
        env: baseEnv(env),
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    },
    writeJson(rel, value) {
      const p = path.join(root, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, JSON.stringify(value, null, 2) + '\n');
    },
    readJson(rel) {
      return JSON.parse(fs.readFileSync(path.join(root, rel), 'utf8'));
    },
  };
}

/** The `nx` entry point as its package.json declares it (it moved between Nx majors). */
function resolveNxBin(): string {
  const pkgPath = require.resolve('nx/package.json', { paths: [REPO_ROOT] });
  const bin = JSON.parse(fs.readFileSync(pkgPath, 'utf8')).bin;
  const rel = typeof bin === 'string' ? bin : bin?.nx;
  if (!rel) throw new Error(`${pkgPath} declares no 'nx' bin`);
  return path.join(path.dirname(pkgPath), rel);
}

/** Small synthetic labelled JPEGs (not ImageNet): enough to run every stage for real. */
export async function writeImageFolder(dir: string, count: number, classes: number): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const w = 160 + ((i * 37) % 120);
    const h = 140 + ((i * 53) % 100);
    const raw = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const k = (y * w + x) * 3;
        raw[k] = (x * (i + 1)) & 255;
        raw[k + 1] = (y * (i + 3)) & 255;
        raw[k + 2] = ((x + y) * 7 + i * 29) & 255;
      }
    }
    const file = `img_${String(i).padStart(4, '0')}.JPEG`;
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toFile(path.join(dir, file));
    lines.push(`${file} ${i % classes}`);
  }
  fs.writeFileSync(path.join(dir, 'val_label.txt'), lines.join('\n') + '\n');
}

/** `nx run a:b` lines of a run, with whether each came from the cache. */
export function taskRuns(output: string): Map<string, 'cache' | 'ran'> {
  const runs = new Map<string, 'cache' | 'ran'>();
  for (const line of output.split('\n')) {
    const m = /> nx run ([\w.@/-]+:[\w-]+)(.*)$/.exec(line);
    if (!m) continue;
    runs.set(m[1]!, /cache|existing outputs match/.test(m[2]!) ? 'cache' : 'ran');
  }
  return runs;
}

/**
 * A small, fast MobileNetV2 variant (width 0.25, 10 classes, short benchmarks, 8 calibration images) at
 * models/mobilenetv2/<row>: the short declaration the variant generator writes, from which the plugin
 * infers the targets, plus explicit option overrides that Nx merges over the inferred ones.
 */
export function writeTestVariant(ws: TempWorkspace, row: string, preprocess: string, extra: Partial<VariantSpec> = {}): void {
  const root = `models/mobilenetv2/${row}`;
  const spec: VariantSpec = { model: 'mobilenetv2', row, preprocess, width: 0.25, classes: 10, ...extra };
  // One paired bench (fp32 + int8) with short reps, so a whole pipeline run stays quick.
  // Overrides only for targets the inferred shape has (an override of a target it lacks has no executor).
  const inferred = variantProject(spec, root).targets!;
  const targets: Record<string, { options: Record<string, unknown> }> = {};
  for (const [name, t] of Object.entries(inferred)) {
    if (t.executor === '@modelzoo/nx-plugin:vamp-bench') targets[name] = { options: { batch: [2], warmup: 1, reps: 2, duration: 0.2, threads: 1 } };
    if (t.executor === '@modelzoo/nx-plugin:vamp-eval') targets[name] = { options: { batch: 4, threads: 1 } };
  }
  if (inferred['vamc-build-int8']) targets['vamc-build-int8'] = { options: { quantization: { calibration_count: 8 } } };
  ws.writeJson(`${root}/project.json`, { ...declarationProjectJson(specToDeclaration(spec), '../../../node_modules/nx/schemas/project-schema.json'), targets });
}

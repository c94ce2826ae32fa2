#!/usr/bin/env node
// Nx runtime inputs: what Nx cannot see by itself.
//   dataset  every dataset any dataset-prep target or configuration of the workspace can name (its
//            imagesDir/labelsFile/demoDir options, or the environment variables its imagesDirEnv/
//            labelsFileEnv name, resolved with the dotenv files Nx loads for that task), by content:
//            label bytes + every listed image's name and sha256 (lib/dataset/fingerprint.ts, with the
//            per-file index in .modelzoo/fingerprint-index). Nx runtime inputs see no options, so the
//            targets come from the project graph Nx has just computed (.nx/workspace-data).
//   machine  CPU model, core count, cgroup CPU quota, platform, host and MODELZOO_MACHINE_LABEL: a
//            benchmark figure belongs to one machine (and one CPU allowance: a container capped at
//            2 CPUs on a 64-core host measures something else than the whole host).
//   file P.. sha256 of files (e.g. an ONNX model outside the workspace).
//   weights P..  sha256 of onnx-export checkpoint files (local `weights`): content only, so the same
//            file hashes the same wherever it lives.
//   env-file VAR  sha256 of the file the environment variable VAR names (the report's
//            MODELZOO_REPORT_BASELINE), or "unset" when VAR is empty: an optional input, unlike `file`.
//   results D..  every *.json under the folders (cards, build/bench/eval results): the report reads
//            results of configurations its dependsOn does not run (-c vastai), so it hashes them all.
//
// Fail closed. Nx 24 hashes a runtime input's stdout and stderr and ignores its exit code (measured:
// a command that exits 1 is hashed, and the next run is a cache hit), so an error must never print the
// same thing twice: anything this script cannot read makes it print "unreadable <random>" and exit 1.
// The task's hash is then new on every run (never a cache hit), and the executor, which reads the same
// thing, fails with the reason, so no cache entry is ever made from it.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [mode, ...args] = process.argv.slice(2);

function failClosed(err) {
  const msg = err instanceof Error ? err.message : String(err);
  process.stdout.write(`unreadable ${randomBytes(16).toString('hex')}\n`);
  process.stderr.write(`fingerprint.mjs ${mode ?? ''}: ${msg}\n`);
  process.exit(1);
}
process.on('uncaughtException', failClosed);
process.on('unhandledRejection', failClosed);

/** Every file below `dir` (following symlinked folders, refusing loops) in a stable order. */
function walk(dir, visit, rel = '', seen = new Set()) {
  const real = statSync(dir);
  const id = `${real.dev}:${real.ino}`;
  if (seen.has(id)) throw new Error(`${dir}: symlink loop`);
  seen.add(id);
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    const isDir = e.isDirectory() || (e.isSymbolicLink() && statSync(p).isDirectory());
    if (isDir) walk(p, visit, `${rel}${e.name}/`, seen);
    else visit(p, `${rel}${e.name}`);
  }
  seen.delete(id);
}

/** The compiled plugin (npm ci builds it; executors run from the same files). */
function pluginModule(rel) {
  const file = join(here, '..', 'plugins', 'modelzoo', 'dist', rel);
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build`);
  return createRequire(import.meta.url)(file);
}

/** The project graph Nx computed for this command, which it writes before hashing any task. */
function readProjectGraph() {
  const dataDir = process.env.NX_WORKSPACE_DATA_DIRECTORY || process.env.NX_PROJECT_GRAPH_CACHE_DIRECTORY || join('.nx', 'workspace-data');
  const file = resolve(dataDir, 'project-graph.json');
  let graph;
  try {
    graph = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read Nx's project graph ${file} (${err.code ?? err.message}); the dataset targets cannot be listed`);
  }
  if (!graph?.nodes || typeof graph.nodes !== 'object') throw new Error(`${file} holds no project nodes`);
  return graph;
}

/** The environment Nx gives a task: its dotenv files over the shell's (Nx's own function when present). */
let taskEnv;
function envFor(projectRoot, target, configuration) {
  if (taskEnv === undefined) {
    try {
      taskEnv = createRequire(join(process.cwd(), 'package.json'))('nx/src/tasks-runner/task-env').getGraphTimeDotEnvForTask ?? null;
    } catch {
      // An Nx without it: the shell's environment.
      taskEnv = null;
    }
  }
  return typeof taskEnv === 'function' ? taskEnv(projectRoot, target, configuration) : process.env;
}

async function datasetFingerprint(h) {
  const { declaredSources, datasetSourcePaths, recordRuntimeFingerprints, FINGERPRINT_INDEX_DIR } = pluginModule('lib/nx/dataset-source.js');
  const { fingerprintDataset } = pluginModule('lib/dataset/fingerprint.js');
  const graph = readProjectGraph();
  const targets = [];
  for (const [name, node] of Object.entries(graph.nodes)) {
    for (const [target, t] of Object.entries(node.data?.targets ?? {})) {
      if (t?.executor !== '@modelzoo/nx-plugin:dataset-prep') continue;
      targets.push({ project: name, projectRoot: node.data.root ?? '.', target, options: t.options ?? {}, configurations: t.configurations ?? {} });
    }
  }
  // A graph without any target at all means Nx changed its format: hashing "no datasets" would fail open.
  if (!Object.values(graph.nodes).some((n) => n?.data?.targets && typeof n.data.targets === 'object')) {
    throw new Error("Nx's project graph lists no targets (unknown format); the dataset targets cannot be listed");
  }
  const root = process.cwd();
  const indexDir = resolve(root, FINGERPRINT_INDEX_DIR);
  const done = new Map();
  const seen = [];
  h.update(`dataset-sources ${targets.length}\n`);
  for (const s of declaredSources(targets)) {
    const env = envFor(s.target.projectRoot, s.target.target, s.configuration);
    const p = datasetSourcePaths(s.options, env, (x) => resolve(root, x));
    const id = `${p.imagesDir}\0${p.labelsFile}`;
    let fp = done.get(id);
    if (fp === undefined) {
      // A folder that does not exist at all is a stable fact, not an unreadable input: the executor of a
      // task that names it fails ("does not exist"), and a configuration for another machine's data
      // must not stop this machine's runs.
      if (!existsSync(p.imagesDir)) fp = 'absent-folder';
      else {
        fp = (await fingerprintDataset(p.imagesDir, p.labelsFile, { indexDir })).fingerprint;
        seen.push({ imagesDir: p.imagesDir, labelsFile: p.labelsFile, fingerprint: fp });
      }
      done.set(id, fp);
    }
    // Names and content only, never a path: the same data in another clone hashes the same.
    h.update(`${s.key}\0${p.demo ? 'demo' : 'configured'}\0${fp}\n`);
  }
  // For the executor's check that what it reads is what was hashed (lib/nx/dataset-source.ts).
  await recordRuntimeFingerprints(indexDir, seen);
}

/** cgroup v2 cpu.max ("max 100000" or "200000 100000") or v1 quota; "none" outside a cgroup. */
function cgroupCpuQuota() {
  for (const f of ['/sys/fs/cgroup/cpu.max', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us', '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us']) {
    try {
      return readFileSync(f, 'utf8').trim();
    } catch {}
  }
  return 'none';
}

if (mode === 'dataset') {
  const h = createHash('sha256');
  await datasetFingerprint(h);
  process.stdout.write(h.digest('hex') + '\n');
} else if (mode === 'machine') {
  const h = createHash('sha256');
  const cpus = os.cpus();
  h.update(`${os.hostname()}|${cpus[0]?.model}|${os.availableParallelism?.() ?? cpus.length}|${os.platform()}-${os.arch()}`);
  h.update(`|${cgroupCpuQuota()}|${process.env.MODELZOO_MACHINE_LABEL ?? ''}`);
  process.stdout.write(h.digest('hex') + '\n');
} else if ((mode === 'file' || mode === 'weights') && args.length > 0) {
  // Content only (no path): a missing or unreadable file fails closed; onnx-export then runs and names
  // the option in its error.
  const h = createHash('sha256');
  for (const f of args) {
    let data;
    try {
      data = readFileSync(f);
    } catch (err) {
      throw new Error(`cannot read ${f} (${err.code ?? err.message})`);
    }
    h.update(createHash('sha256').update(data).digest('hex')).update('\n');
  }
  process.stdout.write(h.digest('hex') + '\n');
} else if (mode === 'env-file' && args.length === 1) {
  const f = process.env[args[0]]?.trim();
  if (!f) process.stdout.write('unset\n');
  else {
    let data;
    try {
      data = readFileSync(f);
    } catch (err) {
      throw new Error(`cannot read ${f}, named by ${args[0]} (${err.code ?? err.message})`);
    }
    process.stdout.write(createHash('sha256').update(data).digest('hex') + '\n');
  }
} else if (mode === 'results') {
  const h = createHash('sha256');
  for (const d of args) {
    if (!existsSync(d)) continue;
    walk(d, (p, rel) => {
      // Skip outputs still being written (temp names) and everything but JSON (models, shards).
      if (rel.endsWith('.json') && !rel.includes('.tmp-')) h.update(`${d}/${rel}\0`).update(readFileSync(p));
    });
  }
  process.stdout.write(h.digest('hex') + '\n');
} else {
  // A misconfigured input hashes nothing it was meant to: fail closed like an unreadable one.
  failClosed(new Error('usage: fingerprint.mjs dataset | machine | file PATH... | weights PATH... | env-file VAR | results DIR...'));
}

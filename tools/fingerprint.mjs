#!/usr/bin/env node
// Nx runtime inputs: what Nx cannot see by itself.
//   dataset  the image folder named by MODELZOO_IMAGENET_VAL (outside the workspace, so Nx would
//            silently ignore it): label file content + every image's name, size and mtime; with
//            MODELZOO_DATASET_HASH=content, every image's content. Prints "demo" when unset.
//   machine  CPU model, core count, cgroup CPU quota, platform, host and MODELZOO_MACHINE_LABEL: a
//            benchmark figure belongs to one machine (and one CPU allowance: a container capped at
//            2 CPUs on a 64-core host measures something else than the whole host).
//   file P.. sha256 of files (e.g. an ONNX model outside the workspace).
//   weights P..  sha256 of onnx-export checkpoint files (local `weights`): content only, so the same
//            file hashes the same wherever it lives; a missing file hashes as "missing" instead of
//            failing the hash, so onnx-export runs and reports it with the option's name.
//   results D..  every *.json under the folders (cards, build/bench/eval results): the report reads
//            results of configurations its dependsOn does not run (-c vastai), so it hashes them all.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as os from 'node:os';
import { join, resolve } from 'node:path';

const [mode, ...args] = process.argv.slice(2);
const h = createHash('sha256');

/** Every file below `dir` (following symlinked folders) in a stable order, with its path relative to `dir`. */
function walk(dir, visit, rel = '') {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory() || (e.isSymbolicLink() && statSync(p).isDirectory())) walk(p, visit, `${rel}${e.name}/`);
    else visit(p, `${rel}${e.name}`);
  }
}

/** cgroup v2 cpu.max ("max 100000" or "200000 100000") or v1 quota/period; "none" outside a cgroup. */
function cgroupCpuQuota() {
  for (const f of ['/sys/fs/cgroup/cpu.max', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us', '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us']) {
    try {
      return readFileSync(f, 'utf8').trim();
    } catch {}
  }
  return 'none';
}

function hashFolder(dir, labels, content) {
  h.update(readFileSync(labels));
  walk(dir, (p, rel) => {
    if (content) h.update(`${rel}\0`).update(readFileSync(p));
    else {
      const st = statSync(p);
      h.update(`${rel}\0${st.size}\0${st.mtimeMs}\n`);
    }
  });
}

if (mode === 'dataset') {
  const dir = process.env.MODELZOO_IMAGENET_VAL?.trim();
  if (!dir) {
    process.stdout.write('demo\n');
    process.exit(0);
  }
  const labels = process.env.MODELZOO_IMAGENET_LABELS?.trim() || join(dir, 'val_label.txt');
  hashFolder(resolve(dir), resolve(labels), process.env.MODELZOO_DATASET_HASH === 'content');
} else if (mode === 'machine') {
  const cpus = os.cpus();
  h.update(`${os.hostname()}|${cpus[0]?.model}|${os.availableParallelism?.() ?? cpus.length}|${os.platform()}-${os.arch()}`);
  h.update(`|${cgroupCpuQuota()}|${process.env.MODELZOO_MACHINE_LABEL ?? ''}`);
} else if (mode === 'file' && args.length > 0) {
  for (const f of args) h.update(f).update(readFileSync(f));
} else if (mode === 'weights') {
  for (const f of args) {
    let data;
    try {
      data = readFileSync(f);
    } catch {
      data = null;
    }
    h.update(data ? 'file\0' : 'missing\0');
    if (data) h.update(data);
  }
} else if (mode === 'results') {
  for (const d of args) {
    if (!existsSync(d)) continue;
    walk(d, (p, rel) => {
      // Skip outputs still being written (temp names) and everything but JSON (models, shards).
      if (rel.endsWith('.json') && !rel.includes('.tmp-')) h.update(`${d}/${rel}\0`).update(readFileSync(p));
    });
  }
} else {
  process.stderr.write('usage: fingerprint.mjs dataset | machine | file PATH... | weights PATH... | results DIR...\n');
  process.exit(2);
}
process.stdout.write(h.digest('hex') + '\n');

#!/usr/bin/env node
// Compiles the plugin's optional native JPEG region decoder (plugins/modelzoo/src/native/jpeg-region.c)
// against the system's libjpeg-turbo, the library Pillow links. Optional by design: without a C compiler,
// Node's headers or libjpeg's, dataset-prep decodes through sharp instead (the same pixels, about half
// the speed), so this prints why and exits 0. Run by `npm run build` (and so by `npm ci`).
// Debian: apt-get install gcc libc6-dev libjpeg62-turbo-dev
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'plugins/modelzoo/src/native/jpeg-region.c');
const outDir = path.join(root, 'plugins/modelzoo/build/native');
const out = path.join(outDir, 'jpeg_region.node');
const nodeInclude = [path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].find(
  (d) => fs.existsSync(path.join(d, 'node_api.h')),
);
const cc = process.env.CC || 'cc';

function skip(why) {
  fs.rmSync(out, { force: true });
  console.log(`native JPEG decoder not built (${why}); dataset-prep decodes through sharp (same pixels, slower).`);
  process.exit(0);
}

if (process.env.MODELZOO_NATIVE === '0') skip('MODELZOO_NATIVE=0');
if (!nodeInclude) skip("Node's C headers (node_api.h) not found");
fs.mkdirSync(outDir, { recursive: true });
const tmp = path.join(outDir, `jpeg_region.tmp-${process.pid}.node`);
try {
  execFileSync(
    cc,
    ['-O2', '-fPIC', '-shared', '-Wall', '-DNODE_GYP_MODULE_NAME=jpeg_region', '-I', nodeInclude, '-o', tmp, source, '-ljpeg'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // Loading it here catches an ABI or linking problem at build time rather than mid-dataset.
  const { createRequire } = await import('node:module');
  const lib = createRequire(import.meta.url)(tmp);
  if (typeof lib.decodeRegion !== 'function') throw new Error('decodeRegion missing');
  fs.renameSync(tmp, out);
  console.log(`native JPEG decoder built with ${lib.library}: ${path.relative(root, out)}`);
} catch (err) {
  fs.rmSync(tmp, { force: true });
  const detail = String(err.stderr || err.message || err).trim().split('\n').slice(-2).join(' ');
  skip(`${cc} failed: ${detail} (needs a C compiler and libjpeg-turbo headers, e.g. Debian libjpeg62-turbo-dev)`);
}

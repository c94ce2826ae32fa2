// Dataset fingerprint cost (issue 11): a synthesized ImageNet-val-sized folder (N hard links of the
// 1000 sample images, with a val_label.txt), fingerprinted cold (empty index: every file read and
// hashed, as on a first run or a fresh clone) and warm (index present: one stat per file). Prints JSON.
// The sample is copied first so that hard links made by other processes to ../shared (which move the
// shared files' ctime) cannot disturb the warm runs; each link path is hashed on its own (no sharing by
// inode), so the cold run reads N files' bytes like real val.
// Usage: npx tsx tools/bench-fingerprint.ts [--count 50000] [--warm-runs 3] [--images DIR]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fingerprintDataset } from '../plugins/modelzoo/src/lib/dataset/fingerprint';

async function main() {
  const repo = path.resolve(__dirname, '..');
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '50000' },
      'warm-runs': { type: 'string', default: '3' },
      images: { type: 'string', default: path.resolve(repo, '..', 'shared', 'data', 'imagenet-sample') },
    },
  });
  const count = Number(values.count);
  const sample = values.images!;
  const sampleLabels = path.join(sample, 'val_label.txt');
  if (!fs.existsSync(sampleLabels)) throw new Error(`${sampleLabels} not found: pass --images DIR (a folder with val_label.txt)`);
  const lines = fs
    .readFileSync(sampleLabels, 'utf8')
    .split('\n')
    .map((l) => /^(.*\S)\s+(\d+)$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => !!m);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-fingerprint-'));
  try {
    const src = path.join(tmp, 'sample');
    fs.mkdirSync(src);
    for (const m of lines) fs.copyFileSync(path.join(sample, m[1]!), path.join(src, path.basename(m[1]!)));
    const val = path.join(tmp, 'val');
    fs.mkdirSync(val);
    const labels: string[] = [];
    let bytes = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < count; i++) {
      const m = lines[i % lines.length]!;
      const name = `ILSVRC2012_val_${String(i + 1).padStart(8, '0')}.JPEG`;
      const from = path.join(src, path.basename(m[1]!));
      fs.linkSync(from, path.join(val, name));
      bytes += fs.statSync(from).size;
      labels.push(`${name} ${m[2]}`);
    }
    fs.writeFileSync(path.join(val, 'val_label.txt'), labels.join('\n') + '\n');
    const synthSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const index = path.join(tmp, 'index');
    const time = async () => {
      const s = process.hrtime.bigint();
      const r = await fingerprintDataset(val, path.join(val, 'val_label.txt'), { indexDir: index });
      return { seconds: Number(process.hrtime.bigint() - s) / 1e9, ...r };
    };
    const load0 = os.loadavg();
    const cold = await time();
    const warm = [];
    for (let i = 0; i < Number(values['warm-runs']); i++) warm.push(await time());
    const sorted = warm.map((w) => w.seconds).sort((a, b) => a - b);
    const indexBytes = fs.readdirSync(index).reduce((n, f) => n + fs.statSync(path.join(index, f)).size, 0);
    console.log(
      JSON.stringify(
        {
          benchmark: 'bench-fingerprint',
          images: count,
          image_bytes: bytes,
          synthesize_s: round(synthSeconds),
          cold: { seconds: round(cold.seconds), from_index: cold.fromIndex, MB_per_s: round(bytes / 1e6 / cold.seconds) },
          warm: { median_s: round(sorted[sorted.length >> 1]!), all_s: warm.map((w) => round(w.seconds)), from_index: warm[0]?.fromIndex },
          same_fingerprint: warm.every((w) => w.fingerprint === cold.fingerprint),
          index_bytes: indexBytes,
          machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg_before: load0.map(round), loadavg_after: os.loadavg().map(round) },
          node: process.version,
        },
        null,
        2,
      ),
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

// Prints docs/model-cards.md's tables: for every seed row, the params and MACs the model card counts
// from the ONNX graph, the checkpoint library's own parameter count (libraryParams) and the zoo page's
// params/FLOPs columns; then each row's official weights (the `pretrained` configuration) with the
// checksum its publisher gives. Usage: npx tsx tools/card-table.ts
import { frameworkCounts } from '../plugins/modelzoo/src/lib/checkpoints/counts';
import { FRAMEWORK_SEMANTICS } from '../plugins/modelzoo/src/lib/checkpoints/mobilenetv2-keys';
import { buildMobileNetV2 } from '../plugins/modelzoo/src/lib/onnx/mobilenetv2';
import { graphStats } from '../plugins/modelzoo/src/lib/onnx/stats';
import { MOBILENETV2_SEED } from '../plugins/modelzoo/src/lib/nx/seed-table';

const int = (n: number) => n.toLocaleString('en-US');
const m = (n: number, digits: number) => (n / 1e6).toFixed(digits);

export function cardTable(): string {
  const lines = [
    '| row | library | width | card params | card MACs (M) | library params (convention) | zoo params (M) | zoo FLOPs (M) |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  const notes: string[] = [];
  for (const v of MOBILENETV2_SEED) {
    const lib = v.pretrained!.format;
    const inputSize = v.inputSize ?? 224;
    // The graph `-c pretrained` writes (the checkpoint's framework semantics) ...
    const ck = graphStats(buildMobileNetV2({ ...FRAMEWORK_SEMANTICS[lib], width: v.width, classes: v.classes ?? 1000, inputSize }));
    // ... and the default builtin random-init graph: the same architecture, or this table says so.
    const builtin = graphStats(
      buildMobileNetV2({ width: v.width, rounding: v.rounding, padding: v.padding, bnEpsilon: v.bnEpsilon, expandT1: v.expandT1, classes: v.classes ?? 1000, inputSize }),
    );
    if (builtin.params !== ck.params || builtin.macs !== ck.macs) {
      notes.push(`${v.row}: the default builtin graph differs (${int(builtin.params)} params, ${m(builtin.macs, 1)} M MACs)`);
    }
    const c = frameworkCounts(lib, { width: v.width, classes: v.classes ?? 1000, inputSize });
    const conv = lib === 'keras' || lib === 'paddle' ? 'BN stats counted' : 'BN stats not counted';
    lines.push(
      `| ${v.row} | ${lib} | ${v.width} | ${int(ck.params)} | ${m(ck.macs, 1)} | ${int(c.params)} (${conv}) | ${v.zoo?.paramsM ?? '–'} | ${v.zoo?.flopsM ?? '–'} |`,
    );
  }
  return [...lines, ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : [])].join('\n');
}

export function weightsTable(): string {
  const lines = ['| row | official weights (`-c pretrained`) | published sha256 |', '|---|---|---|'];
  for (const v of MOBILENETV2_SEED) {
    const p = v.pretrained!;
    const sum = p.sha256
      ? `\`${p.sha256}\`${p.sha256.length < 64 ? ' (prefix in the file name)' : ''}`
      : 'none published: pinned on first use in `models/weights.lock.json`';
    lines.push(`| ${v.row} | ${p.url} | ${sum} |`);
  }
  return lines.join('\n');
}

if (require.main === module) {
  console.log(cardTable());
  console.log('');
  console.log(weightsTable());
}

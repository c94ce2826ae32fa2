// Prints the README's card-figures table: params and MACs counted from each seed row's builtin ONNX
// graph beside the zoo page's FLOPs/params columns. Usage: npx tsx tools/card-table.ts
import { buildMobileNetV2 } from '../plugins/modelzoo/src/lib/onnx/mobilenetv2';
import { graphStats } from '../plugins/modelzoo/src/lib/onnx/stats';
import { MOBILENETV2_SEED } from '../plugins/modelzoo/src/lib/nx/seed-table';

const lines = [
  '| row | width | card params (M) | zoo params (M) | card MACs (M) | zoo flops (M) |',
  '|---|---:|---:|---:|---:|---:|',
];
for (const v of MOBILENETV2_SEED) {
  const s = graphStats(
    buildMobileNetV2({ width: v.width, rounding: v.rounding, padding: v.padding, bnEpsilon: v.bnEpsilon }),
  );
  lines.push(
    `| ${v.row} | ${v.width} | ${(s.params / 1e6).toFixed(3)} | ${v.zoo?.paramsM ?? '–'} | ${(s.macs / 1e6).toFixed(1)} | ${v.zoo?.flopsM ?? '–'} |`,
  );
}
console.log(lines.join('\n'));

import { OFFICIAL_WEIGHTS } from '../checkpoints/official';
import type { PretrainedSpec } from '../export/export-target';
import type { VariantSpec } from './variant-project';

/** Seed row -> OFFICIAL_WEIGHTS row (the publisher's own name for the checkpoint). */
export const OFFICIAL_ROW: Record<string, string> = {
  torchvision: 'torchvision-mobilenet_v2',
  timm: 'timm-mobilenetv2_100',
  mmcls: 'mmcls-mobilenet_v2',
  keras: 'keras-mobilenet_v2',
  'ppcls-x0.25': 'ppcls-MobileNetV2_x0_25',
  'ppcls-x0.5': 'ppcls-MobileNetV2_x0_5',
  'ppcls-x0.75': 'ppcls-MobileNetV2_x0_75',
  'ppcls-x1.0': 'ppcls-MobileNetV2',
  'ppcls-x1.5': 'ppcls-MobileNetV2_x1_5',
  'ppcls-x2.0': 'ppcls-MobileNetV2_x2_0',
  'ppcls-ssld': 'ppcls-MobileNetV2_ssld',
};

/**
 * The official weights of a seed row: URL and the checksum its publisher gives (torchvision, timm and
 * OpenMMLab: the 8-hex sha256 prefix in the file name; Keras and PaddleClas publish none, so sha256 is
 * null and the `pretrained` configuration refuses to run until the user pins one).
 */
export function officialPretrained(row: string): PretrainedSpec {
  const name = OFFICIAL_ROW[row];
  const w = OFFICIAL_WEIGHTS.find((o) => o.row === name);
  if (!w) throw new Error(`seed row ${row} has no OFFICIAL_WEIGHTS entry`);
  return { url: w.url, sha256: w.sha256, format: w.format, source: w.source };
}

const ROWS: Omit<VariantSpec, 'pretrained'>[] = [
  { model: 'mobilenetv2', row: 'torchvision', preprocess: 'torchvision', width: 1.0, zoo: { order: 1, top1: 71.878, top5: 90.286, flopsM: 327.65, paramsM: 3.505, inputSize: 224 } },
  { model: 'mobilenetv2', row: 'timm', preprocess: 'timm', width: 1.0, zoo: { order: 2, top1: 72.956, top5: 91.01, flopsM: 327.544, paramsM: 3.5, inputSize: 224 } },
  { model: 'mobilenetv2', row: 'mmcls', preprocess: 'mmcls', width: 1.0, zoo: { order: 3, top1: 71.86, top5: 90.42, flopsM: 319.894, paramsM: 3.5, inputSize: 224 } },
  { model: 'mobilenetv2', row: 'keras', preprocess: 'keras', width: 1.0, padding: 'tf-same', bnEpsilon: 0.001, zoo: { order: 4, top1: 71.3, top5: 90.1, flopsM: 301.33, paramsM: 3.5, inputSize: 224 } },
  { model: 'mobilenetv2', row: 'ppcls-x0.25', preprocess: 'ppcls', width: 0.25, rounding: 'paddle', expandT1: true, zoo: { order: 5, top1: 53.21, top5: 76.52, flopsM: 34.18, paramsM: 1.53, inputSize: 224 } },
  { model: 'mobilenetv2', row: 'ppcls-x0.5', preprocess: 'ppcls', width: 0.5, rounding: 'paddle', expandT1: true, zoo: { order: 6, top1: 65.03, top5: 85.72, flopsM: 99.48, paramsM: 1.98, inputSize: 224 } },
  { model: 'mobilenetv2', row: 'ppcls-x0.75', preprocess: 'ppcls', width: 0.75, rounding: 'paddle', expandT1: true, zoo: { order: 7, top1: 69.83, top5: 89.01, flopsM: 197.37, paramsM: 2.65, inputSize: 224 } },
  { model: 'mobilenetv2', row: 'ppcls-x1.0', preprocess: 'ppcls', width: 1.0, rounding: 'paddle', expandT1: true, zoo: { order: 8, top1: 72.15, top5: 90.65, flopsM: 327.84, paramsM: 3.54, inputSize: 224 } },
  { model: 'mobilenetv2', row: 'ppcls-x1.5', preprocess: 'ppcls', width: 1.5, rounding: 'paddle', expandT1: true, zoo: { order: 9, top1: 74.12, top5: 91.67, flopsM: 702.35, paramsM: 6.9, inputSize: 224 } },
  { model: 'mobilenetv2', row: 'ppcls-x2.0', preprocess: 'ppcls', width: 2.0, rounding: 'paddle', expandT1: true, zoo: { order: 10, top1: 75.23, top5: 92.58, flopsM: 1217.25, paramsM: 11.33, inputSize: 224 } },
  { model: 'mobilenetv2', row: 'ppcls-ssld', preprocess: 'ppcls', width: 1.0, rounding: 'paddle', expandT1: true, zoo: { order: 11, top1: 76.74, top5: 93.39, flopsM: 327.84, paramsM: 3.54, inputSize: 224 } },
];

/**
 * The MobileNetV2 rows of the zoo page (../shared/reference/mobilenetv2-modelzoo-page.txt) with the
 * framework semantics each row's checkpoint needs. `zoo` holds the page's columns for the report.
 * Each row's `pretrained` names its official weights (onnx-export's `pretrained` configuration).
 */
export const MOBILENETV2_SEED: VariantSpec[] = ROWS.map((v) => ({ ...v, pretrained: officialPretrained(v.row) }));

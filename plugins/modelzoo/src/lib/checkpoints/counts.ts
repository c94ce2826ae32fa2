import { type Architecture, type MobileNetV2Options, architecture, convPads } from '../onnx/mobilenetv2';
import type { Model } from '../onnx/proto';
import { dimsSize } from '../onnx/proto';
import { graphStats } from '../onnx/stats';
import { type CheckpointFormat, FRAMEWORK_SEMANTICS } from './mobilenetv2-keys';

/**
 * Each library's own parameter-count convention, so a model card can quote the number that library
 * publishes:
 * - torchvision, timm, mmcls: `sum(p.numel() for p in model.parameters())`: conv and Linear weights and
 *   biases plus BN weight/bias; BN running mean/var are buffers and do not count (torchvision x1.0:
 *   3,504,872).
 * - Keras: `model.count_params()` / summary "Total params": trainable plus non-trainable, so BN moving
 *   mean/variance count too (keras.applications x1.0: 3,538,984).
 * - PaddleClas: its table counts every persistable tensor, BN mean/variance included, on its own
 *   architecture (int() channel rounding, an extra 1x1 expand conv in the t = 1 block).
 * MACs: conv and classifier multiply-accumulates for one image (torchvision's "300 M" convention);
 * BN, ReLU6, residual adds and pooling are not counted. The model-zoo page's "flops(M)" column comes
 * from other counters (e.g. fvcore/thop/paddle.flops, which also count some elementwise work), so it
 * is ~300 M here versus 319-328 M there.
 */
export interface FrameworkCounts {
  library: CheckpointFormat;
  params: number;
  macs: number;
  convention: string;
}

const CONVENTION: Record<CheckpointFormat, string> = {
  torchvision: 'model.parameters(): weights, biases, BN gamma/beta; BN running stats excluded',
  timm: 'model.parameters(): weights, biases, BN gamma/beta; BN running stats excluded',
  mmcls: 'model.parameters(): weights, biases, BN gamma/beta; BN running stats excluded',
  keras: 'model.count_params(): trainable + non-trainable, BN moving mean/variance included',
  paddle: 'all persistable parameters, BN mean/variance included',
};

const countsBuffers = (library: CheckpointFormat) => library === 'keras' || library === 'paddle';

/** Counts for `library`'s MobileNetV2 at this width (its own rounding and layer layout). */
export function frameworkCounts(
  library: CheckpointFormat,
  o: { width: number; classes?: number; inputSize?: number },
): FrameworkCounts {
  const sem = FRAMEWORK_SEMANTICS[library];
  const arch = architecture({ width: o.width, classes: o.classes ?? 1000, rounding: sem.rounding ?? 'torchvision', expandT1: sem.expandT1 });
  return {
    library,
    params: archParams(arch, countsBuffers(library)),
    macs: archMacs(arch, o.inputSize ?? 224, sem.padding ?? 'symmetric'),
    convention: CONVENTION[library],
  };
}

export function archParams(arch: Architecture, withBnBuffers: boolean): number {
  let n = arch.lastChannel * arch.classes + arch.classes;
  for (const c of arch.convs) n += c.outC * (c.inC / c.groups) * c.kernel * c.kernel + c.outC * (withBnBuffers ? 4 : 2);
  return n;
}

export function archMacs(arch: Architecture, inputSize: number, padding: MobileNetV2Options['padding']): number {
  let size = inputSize;
  let macs = arch.lastChannel * arch.classes;
  for (const c of arch.convs) {
    const p = convPads(c.kernel, c.stride, size, padding);
    size = Math.floor((size + p[0]! + p[2]! - c.kernel) / c.stride) + 1;
    macs += c.outC * size * size * (c.inC / c.groups) * c.kernel * c.kernel;
  }
  return macs;
}

/**
 * The same convention applied to a built graph (any ONNX classifier): graphStats counts like torchvision;
 * for Keras and Paddle the BatchNormalization mean/variance initializers are added back.
 */
export function frameworkParamCount(model: Model, library: CheckpointFormat): number {
  const stats = graphStats(model);
  if (!countsBuffers(library)) return stats.params;
  const inits = new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  let buffers = 0;
  for (const n of model.graph?.node ?? []) {
    if (n.opType !== 'BatchNormalization') continue;
    for (const name of [n.input?.[3], n.input?.[4]]) {
      const t = name ? inits.get(name) : undefined;
      if (t) buffers += dimsSize(t.dims);
    }
  }
  return stats.params + buffers;
}

import type { Architecture, MobileNetV2Options, ParamKind } from '../onnx/mobilenetv2';

export type CheckpointFormat = 'torchvision' | 'timm' | 'mmcls' | 'keras' | 'paddle';
export const CHECKPOINT_FORMATS: CheckpointFormat[] = ['torchvision', 'timm', 'mmcls', 'keras', 'paddle'];

/**
 * How each framework's MobileNetV2 computes, as builder options: channel rounding, padding, batch-norm
 * epsilon, and PaddleClas's extra 1x1 expand conv in the t = 1 block.
 */
export const FRAMEWORK_SEMANTICS: Record<CheckpointFormat, Partial<MobileNetV2Options>> = {
  torchvision: { rounding: 'torchvision', padding: 'symmetric', bnEpsilon: 1e-5 },
  timm: { rounding: 'torchvision', padding: 'symmetric', bnEpsilon: 1e-5 },
  mmcls: { rounding: 'torchvision', padding: 'symmetric', bnEpsilon: 1e-5 },
  // keras.applications: ZeroPadding2D(correct_pad) + 'valid' on stride 2 == TF SAME; BN epsilon 1e-3.
  keras: { rounding: 'torchvision', padding: 'tf-same', bnEpsilon: 1e-3 },
  paddle: { rounding: 'paddle', padding: 'symmetric', bnEpsilon: 1e-5, expandT1: true },
};

/** How a stored tensor's axes relate to the ONNX layout ([out, in, kh, kw] convs, [out, in] Gemm). */
export type Layout = 'same' | 'keras-conv' | 'keras-depthwise' | 'in-out';

export const LAYOUT_PERM: Record<Exclude<Layout, 'same'>, number[]> = {
  'keras-conv': [3, 2, 0, 1], // [kh, kw, in, out]
  'keras-depthwise': [2, 3, 0, 1], // [kh, kw, channels, multiplier]
  'in-out': [1, 0], // Keras Dense kernel, Paddle Linear weight
};

export interface KeyEntry {
  key: string;
  layout: Layout;
}

/** Keys a framework stores that inference does not use. */
export const IGNORED_KEY: Record<CheckpointFormat, RegExp> = {
  torchvision: /\.num_batches_tracked$/,
  timm: /\.num_batches_tracked$/,
  mmcls: /\.num_batches_tracked$/,
  keras: /^$/,
  paddle: /^$/,
};

// Blocks per stage (the paper's n column): block b sits in stage s at position j.
const STAGE_REPEATS = [1, 2, 3, 4, 3, 3, 1];
function stageOf(b: number): { s: number; j: number } {
  let rest = b;
  for (let s = 0; s < STAGE_REPEATS.length; s++) {
    if (rest < STAGE_REPEATS[s]!) return { s, j: rest };
    rest -= STAGE_REPEATS[s]!;
  }
  throw new Error(`block ${b} is past MobileNetV2's 17 blocks`);
}

type Role = 'expand' | 'dw' | 'project';
/** Per layer: the conv's key prefix, its BN's key prefix, and the joiner for parameter names. */
interface LayerKeys {
  conv: string;
  bn: string;
}

type Namer = {
  stem: LayerKeys;
  head: LayerKeys;
  block(b: number, role: Role, position: number, hasExpand: boolean): LayerKeys;
  convWeight(conv: string): KeyEntry;
  bn(bn: string, kind: Exclude<ParamKind, 'weight' | 'bias'>): KeyEntry;
  fc: { weight: KeyEntry; bias: KeyEntry };
};

const TORCH_BN = { 'bn.scale': 'weight', 'bn.bias': 'bias', 'bn.mean': 'running_mean', 'bn.var': 'running_var' } as const;
const PADDLE_BN = { 'bn.scale': 'weight', 'bn.bias': 'bias', 'bn.mean': '_mean', 'bn.var': '_variance' } as const;
const PADDLE_PARAM_BN = { 'bn.scale': 'bn_scale', 'bn.bias': 'bn_offset', 'bn.mean': 'bn_mean', 'bn.var': 'bn_variance' } as const;
const KERAS_BN = { 'bn.scale': 'gamma', 'bn.bias': 'beta', 'bn.mean': 'moving_mean', 'bn.var': 'moving_variance' } as const;

const same = (key: string): KeyEntry => ({ key, layout: 'same' });

function torchNamer(
  stem: LayerKeys,
  head: LayerKeys,
  block: Namer['block'],
  fc: string,
  bnNames: Record<string, string> = TORCH_BN,
): Namer {
  return {
    stem,
    head,
    block,
    convWeight: (c) => same(`${c}.weight`),
    bn: (bn, kind) => same(`${bn}.${bnNames[kind]}`),
    fc: { weight: same(`${fc}.weight`), bias: same(`${fc}.bias`) },
  };
}

function namers(arch: Architecture): Record<string, Namer> {
  const headIndex = arch.blocks.length + 1;
  return {
    // torchvision: features.{b+1}.conv = [ConvBNReLU(expand)], ConvBNReLU(dw), Conv2d(project), BN.
    torchvision: torchNamer(
      { conv: 'features.0.0', bn: 'features.0.1' },
      { conv: `features.${headIndex}.0`, bn: `features.${headIndex}.1` },
      (b, role, position) => {
        const p = `features.${b + 1}.conv`;
        if (role === 'project') return { conv: `${p}.${position}`, bn: `${p}.${position + 1}` };
        return { conv: `${p}.${position}.0`, bn: `${p}.${position}.1` };
      },
      'classifier.1',
    ),
    // timm EfficientNet builder: DepthwiseSeparableConv (conv_dw/bn1, conv_pw/bn2) then InvertedResidual
    // (conv_pw/bn1, conv_dw/bn2, conv_pwl/bn3).
    timm: torchNamer(
      { conv: 'conv_stem', bn: 'bn1' },
      { conv: 'conv_head', bn: 'bn2' },
      (b, role, _position, hasExpand) => {
        const { s, j } = stageOf(b);
        const p = `blocks.${s}.${j}`;
        if (!hasExpand) return role === 'dw' ? { conv: `${p}.conv_dw`, bn: `${p}.bn1` } : { conv: `${p}.conv_pw`, bn: `${p}.bn2` };
        if (role === 'expand') return { conv: `${p}.conv_pw`, bn: `${p}.bn1` };
        if (role === 'dw') return { conv: `${p}.conv_dw`, bn: `${p}.bn2` };
        return { conv: `${p}.conv_pwl`, bn: `${p}.bn3` };
      },
      'classifier',
    ),
    // mmcls: backbone.layer{s+1}.{j}.conv.{k} are ConvModules (conv, bn); head is LinearClsHead.fc.
    mmcls: torchNamer(
      { conv: 'backbone.conv1.conv', bn: 'backbone.conv1.bn' },
      { conv: 'backbone.conv2.conv', bn: 'backbone.conv2.bn' },
      (b, _role, position) => {
        const { s, j } = stageOf(b);
        const p = `backbone.layer${s + 1}.${j}.conv.${position}`;
        return { conv: `${p}.conv`, bn: `${p}.bn` };
      },
      'head.fc',
    ),
    // PaddleClas dygraph state_dict (structured names): conv{s+2}._first_block / conv{s+2}.conv{s+2}_{j+1}.
    'paddle-structured': {
      ...torchNamer(
        { conv: 'conv1._conv', bn: 'conv1._batch_norm' },
        { conv: 'conv9._conv', bn: 'conv9._batch_norm' },
        (b, role) => {
          const { s, j } = stageOf(b);
          const unit = j === 0 ? `conv${s + 2}._first_block` : `conv${s + 2}.conv${s + 2}_${j + 1}`;
          const sub = { expand: '_expand_conv', dw: '_bottleneck_conv', project: '_linear_conv' }[role];
          return { conv: `${unit}.${sub}._conv`, bn: `${unit}.${sub}._batch_norm` };
        },
        'out',
        PADDLE_BN,
      ),
      fc: { weight: { key: 'out.weight', layout: 'in-out' }, bias: same('out.bias') },
    },
    // PaddleClas parameter names (ParamAttr), as older static-graph exports and some .pdparams store them.
    'paddle-params': {
      stem: { conv: 'conv1_1', bn: 'conv1_1' },
      head: { conv: 'conv9', bn: 'conv9' },
      block: (b, role) => {
        const { s, j } = stageOf(b);
        const n = `conv${s + 2}_${j + 1}_${{ expand: 'expand', dw: 'dwise', project: 'linear' }[role]}`;
        return { conv: n, bn: n };
      },
      convWeight: (c) => same(`${c}_weights`),
      bn: (bn, kind) => same(`${bn}_${PADDLE_PARAM_BN[kind]}`),
      fc: { weight: { key: 'fc10_weights', layout: 'in-out' }, bias: same('fc10_offset') },
    },
    // keras.applications.MobileNetV2 layer names; h5 weights are keyed `<layer>/<weight>` here.
    keras: {
      stem: { conv: 'Conv1', bn: 'bn_Conv1' },
      head: { conv: 'Conv_1', bn: 'Conv_1_bn' },
      block: (b, role) => {
        const p = b === 0 ? 'expanded_conv' : `block_${b}`;
        const n = `${p}_${{ expand: 'expand', dw: 'depthwise', project: 'project' }[role]}`;
        return { conv: n, bn: `${n}_BN` };
      },
      convWeight: (c) =>
        c.endsWith('_depthwise') ? { key: `${c}/depthwise_kernel`, layout: 'keras-depthwise' } : { key: `${c}/kernel`, layout: 'keras-conv' },
      bn: (bn, kind) => same(`${bn}/${KERAS_BN[kind]}`),
      fc: { weight: { key: 'predictions/kernel', layout: 'in-out' }, bias: same('predictions/bias') },
    },
  };
}

/** Key variants per format (Paddle files come keyed by structured names or by parameter names). */
export function keyVariants(format: CheckpointFormat): string[] {
  return format === 'paddle' ? ['paddle-structured', 'paddle-params'] : [format];
}

/** `${layer}:${kind}` (canonical, as the builder asks) -> where the framework keeps that tensor. */
export function keyMap(variant: string, arch: Architecture): Map<string, KeyEntry> {
  const n = namers(arch)[variant];
  if (!n) throw new Error(`unknown checkpoint key layout '${variant}'`);
  const out = new Map<string, KeyEntry>();
  const addConv = (layer: string, keys: LayerKeys) => {
    out.set(`${layer}:weight`, n.convWeight(keys.conv));
    for (const kind of ['bn.scale', 'bn.bias', 'bn.mean', 'bn.var'] as const) out.set(`${layer}:${kind}`, n.bn(keys.bn, kind));
  };
  addConv('stem', n.stem);
  for (const block of arch.blocks) {
    const hasExpand = block.layers[0]!.endsWith('.expand');
    block.layers.forEach((layer, position) => {
      const role = layer.slice(layer.lastIndexOf('.') + 1) as Role;
      addConv(layer, n.block(block.index, role, position, hasExpand));
    });
  }
  addConv('head', n.head);
  out.set('fc:weight', n.fc.weight);
  out.set('fc:bias', n.fc.bias);
  return out;
}

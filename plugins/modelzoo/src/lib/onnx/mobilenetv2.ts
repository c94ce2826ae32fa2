import { DataType, type Model, floatTensor, makeModel, node, onnx, valueInfo } from './proto';

/**
 * MobileNetV2 written directly as an ONNX graph (no Python, no framework). Layers get canonical names
 * (`stem`, `block3.expand`, `block3.dw`, `block3.project`, `head`, `fc`) so checkpoint readers only map
 * their framework's keys onto these; the graph keeps BatchNormalization unfolded so the model card
 * counts parameters as the frameworks do (ONNX Runtime folds it at build time).
 */
export interface MobileNetV2Options {
  width: number;
  inputSize: number;
  classes: number;
  /** 'torchvision': _make_divisible(c * width, 8) (also timm, mmcls, keras); 'paddle': int(c * width). */
  rounding: 'torchvision' | 'paddle';
  /** 'tf-same': TensorFlow "SAME" padding (asymmetric on stride 2), as Keras checkpoints expect. */
  padding: 'symmetric' | 'tf-same';
  bnEpsilon: number;
  opset: number;
  /** Weights by canonical name; when absent the model is deterministic random-init from `seed`. */
  weights?: WeightSource;
  seed: number;
  /**
   * PaddleClas keeps a 1x1 expand conv even in the t = 1 block (its every stage's first unit expands),
   * so its x1.0 has one more conv than torchvision's. Off by default.
   */
  expandT1?: boolean;
  /**
   * Fold each BatchNormalization into its Conv (weight scaled, bias added) instead of keeping BN nodes.
   * Off by default: unfolded graphs count parameters as the frameworks do, and ONNX Runtime folds BN
   * itself when it builds the session.
   */
  foldBatchNorm?: boolean;
}

export type ParamKind = 'weight' | 'bias' | 'bn.scale' | 'bn.bias' | 'bn.mean' | 'bn.var';
export type WeightSource = (layer: string, kind: ParamKind, shape: number[]) => Float32Array;

export interface ConvLayer {
  name: string;
  inC: number;
  outC: number;
  kernel: number;
  stride: number;
  groups: number;
  relu6: boolean;
}

export interface Architecture {
  convs: ConvLayer[];
  /** Blocks with a residual Add: [input layer name or tensor, block index]. */
  blocks: { index: number; layers: string[]; residual: boolean }[];
  lastChannel: number;
  classes: number;
}

export const DEFAULT_MOBILENETV2: MobileNetV2Options = {
  width: 1.0,
  inputSize: 224,
  classes: 1000,
  rounding: 'torchvision',
  padding: 'symmetric',
  bnEpsilon: 1e-5,
  opset: 13,
  seed: 0,
};

// t (expansion), c (channels), n (repeats), s (first stride): the paper's Table 2.
const SETTINGS: [number, number, number, number][] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

export function makeDivisible(v: number, divisor = 8): number {
  let nv = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (nv < 0.9 * v) nv += divisor;
  return nv;
}

export function architecture(
  opts: Pick<MobileNetV2Options, 'width' | 'classes' | 'rounding'> & Pick<Partial<MobileNetV2Options>, 'expandT1'>,
): Architecture {
  const { width, rounding } = opts;
  if (!(width > 0)) throw new Error(`MobileNetV2 width must be > 0, got ${width}`);
  const ch = (c: number) => (rounding === 'paddle' ? Math.trunc(c * width) : makeDivisible(c * width));
  const convs: ConvLayer[] = [];
  const blocks: Architecture['blocks'] = [];
  let inC = ch(32);
  convs.push({ name: 'stem', inC: 3, outC: inC, kernel: 3, stride: 2, groups: 1, relu6: true });
  let b = 0;
  for (const [t, c, n, s] of SETTINGS) {
    const outC = ch(c);
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      const hidden = rounding === 'paddle' ? Math.trunc(inC * t) : Math.round(inC * t);
      const layers: string[] = [];
      if (t !== 1 || opts.expandT1) {
        convs.push({ name: `block${b}.expand`, inC, outC: hidden, kernel: 1, stride: 1, groups: 1, relu6: true });
        layers.push(`block${b}.expand`);
      }
      convs.push({ name: `block${b}.dw`, inC: hidden, outC: hidden, kernel: 3, stride, groups: hidden, relu6: true });
      convs.push({ name: `block${b}.project`, inC: hidden, outC, kernel: 1, stride: 1, groups: 1, relu6: false });
      layers.push(`block${b}.dw`, `block${b}.project`);
      blocks.push({ index: b, layers, residual: stride === 1 && inC === outC });
      inC = outC;
      b++;
    }
  }
  const lastChannel =
    rounding === 'paddle' ? (width > 1 ? Math.trunc(1280 * width) : 1280) : makeDivisible(1280 * Math.max(1, width));
  convs.push({ name: 'head', inC, outC: lastChannel, kernel: 1, stride: 1, groups: 1, relu6: true });
  return { convs, blocks, lastChannel, classes: opts.classes };
}

/** Deterministic PRNG (mulberry32) so random-init models are byte-identical across runs and machines. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomInit(seed: number): WeightSource {
  const rand = seededRandom(seed);
  const normal = () => {
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  return (_layer, kind, shape) => {
    const n = shape.reduce((a, d) => a * d, 1);
    const out = new Float32Array(n);
    if (kind === 'weight') {
      // He init on fan-in keeps activations O(1) through the eval-mode (identity) batch norms, so a
      // random-init model still exercises realistic value ranges in calibration and benchmarks.
      const fanIn = shape.slice(1).reduce((a, d) => a * d, 1);
      const std = Math.sqrt((shape.length === 4 ? 2 : 1) / fanIn);
      for (let i = 0; i < n; i++) out[i] = normal() * std;
    } else if (kind === 'bn.scale' || kind === 'bn.var') {
      out.fill(1);
    }
    return out;
  };
}

function checkShape(got: Float32Array, shape: number[], layer: string, kind: ParamKind): Float32Array {
  const n = shape.reduce((a, d) => a * d, 1);
  if (got.length !== n) {
    throw new Error(`weights for ${layer} ${kind}: expected ${n} values (shape [${shape}]), got ${got.length}`);
  }
  return got;
}

/** Explicit [top, left, bottom, right] pads for a conv, reproducing TF "SAME" when asked. */
export function convPads(kernel: number, stride: number, inSize: number, padding: MobileNetV2Options['padding']): number[] {
  if (padding === 'symmetric' || kernel === 1) {
    const p = (kernel - 1) >> 1;
    return [p, p, p, p];
  }
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + kernel - inSize, 0);
  const before = total >> 1;
  return [before, before, total - before, total - before];
}

/** Conv weight and bias with eval-mode batch norm folded in (computed in float64, stored as float32). */
function foldBn(
  layer: ConvLayer,
  wShape: number[],
  get: (layer: string, kind: ParamKind, shape: number[]) => Float32Array,
  eps: number,
): { weight: Float32Array; bias: Float32Array } {
  const w = get(layer.name, 'weight', wShape);
  const c = layer.outC;
  const [scale, shift, mean, variance] = (['bn.scale', 'bn.bias', 'bn.mean', 'bn.var'] as const).map((k) => get(layer.name, k, [c]));
  const per = w.length / c;
  const weight = new Float32Array(w.length);
  const bias = new Float32Array(c);
  for (let o = 0; o < c; o++) {
    const f = scale![o]! / Math.sqrt(variance![o]! + eps);
    for (let i = 0; i < per; i++) weight[o * per + i] = w[o * per + i]! * f;
    bias[o] = shift![o]! - mean![o]! * f;
  }
  return { weight, bias };
}

export function buildMobileNetV2(partial: Partial<MobileNetV2Options> = {}): Model {
  const opts: MobileNetV2Options = { ...DEFAULT_MOBILENETV2, ...partial };
  if (!Number.isInteger(opts.inputSize) || opts.inputSize < 32) {
    throw new Error(`MobileNetV2 inputSize must be an integer >= 32, got ${opts.inputSize}`);
  }
  if (!Number.isInteger(opts.classes) || opts.classes < 1) {
    throw new Error(`MobileNetV2 classes must be a positive integer, got ${opts.classes}`);
  }
  const arch = architecture(opts);
  const source = opts.weights ?? randomInit(opts.seed);
  const get = (layer: string, kind: ParamKind, shape: number[]) => checkShape(source(layer, kind, shape), shape, layer, kind);
  const nodes: onnx.INodeProto[] = [];
  const inits: onnx.ITensorProto[] = [];
  const convByName = new Map(arch.convs.map((c) => [c.name, c]));

  let size = opts.inputSize;
  const conv = (layer: ConvLayer, input: string): string => {
    const w = `${layer.name}.weight`;
    const wShape = [layer.outC, layer.inC / layer.groups, layer.kernel, layer.kernel];
    const pads = convPads(layer.kernel, layer.stride, size, opts.padding);
    size = Math.floor((size + pads[0]! + pads[2]! - layer.kernel) / layer.stride) + 1;
    const convAttrs = {
      kernel_shape: [layer.kernel, layer.kernel],
      strides: [layer.stride, layer.stride],
      pads,
      group: layer.groups,
      dilations: [1, 1],
    };
    if (opts.foldBatchNorm) {
      const folded = foldBn(layer, wShape, get, opts.bnEpsilon);
      inits.push(floatTensor(w, wShape, folded.weight), floatTensor(`${layer.name}.bias`, [layer.outC], folded.bias));
      const out = `${layer.name}.conv`;
      nodes.push(node('Conv', [input, w, `${layer.name}.bias`], [out], convAttrs));
      if (!layer.relu6) return out;
      nodes.push(node('Clip', [out, 'relu6.min', 'relu6.max'], [`${layer.name}.relu6`]));
      return `${layer.name}.relu6`;
    }
    inits.push(floatTensor(w, wShape, get(layer.name, 'weight', wShape)));
    for (const kind of ['bn.scale', 'bn.bias', 'bn.mean', 'bn.var'] as const) {
      inits.push(floatTensor(`${layer.name}.${kind}`, [layer.outC], get(layer.name, kind, [layer.outC])));
    }
    const convOut = `${layer.name}.conv`;
    nodes.push(node('Conv', [input, w], [convOut], convAttrs));
    const bnOut = `${layer.name}.bn`;
    nodes.push(
      node(
        'BatchNormalization',
        [convOut, `${layer.name}.bn.scale`, `${layer.name}.bn.bias`, `${layer.name}.bn.mean`, `${layer.name}.bn.var`],
        [bnOut],
        { epsilon: opts.bnEpsilon },
        undefined,
        ['epsilon'],
      ),
    );
    if (!layer.relu6) return bnOut;
    // Clip's bounds are inputs from opset 11 on.
    nodes.push(node('Clip', [bnOut, 'relu6.min', 'relu6.max'], [`${layer.name}.relu6`]));
    return `${layer.name}.relu6`;
  };
  inits.push(floatTensor('relu6.min', [], new Float32Array([0])), floatTensor('relu6.max', [], new Float32Array([6])));

  let x = conv(convByName.get('stem')!, 'input');
  for (const block of arch.blocks) {
    const blockIn = x;
    for (const l of block.layers) x = conv(convByName.get(l)!, x);
    if (block.residual) {
      nodes.push(node('Add', [blockIn, x], [`block${block.index}.add`]));
      x = `block${block.index}.add`;
    }
  }
  x = conv(convByName.get('head')!, x);
  nodes.push(node('GlobalAveragePool', [x], ['pool']));
  nodes.push(node('Flatten', ['pool'], ['flat'], { axis: 1 }));
  const fcShape = [arch.classes, arch.lastChannel];
  inits.push(floatTensor('fc.weight', fcShape, get('fc', 'weight', fcShape)));
  inits.push(floatTensor('fc.bias', [arch.classes], get('fc', 'bias', [arch.classes])));
  nodes.push(node('Gemm', ['flat', 'fc.weight', 'fc.bias'], ['logits'], { transB: 1 }));

  const graph = onnx.GraphProto.create({
    name: `mobilenetv2_x${opts.width}`,
    node: nodes,
    initializer: inits,
    input: [valueInfo('input', DataType.FLOAT, ['N', 3, opts.inputSize, opts.inputSize])],
    output: [valueInfo('logits', DataType.FLOAT, ['N', arch.classes])],
  });
  return makeModel(graph, opts.opset);
}

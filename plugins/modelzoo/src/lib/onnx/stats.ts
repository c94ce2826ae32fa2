import { type Graph, type Model, dimsSize, getIntAttr, getIntsAttr, modelOpset, realInputs, tensorToInt64, valueInfoDims } from './proto';

/**
 * Parameters and MACs counted from the ONNX graph itself. Parameters follow the frameworks' convention:
 * every float initializer counts except BatchNormalization running mean/variance (buffers, not
 * parameters). MACs count Conv and Gemm/MatMul multiply-accumulates for batch 1, as torchvision's
 * "300 M" figure does; shapes are propagated through the ops classifier graphs use.
 */
export interface GraphStats {
  params: number;
  macs: number;
  /** false when an op the shape propagation does not know cut the MAC count short. */
  macsComplete: boolean;
  input: { name: string; shape: (number | string)[] };
  output: { name: string; shape: (number | string)[] };
  opset: number;
  classes: number;
}

export function graphStats(model: Model): GraphStats {
  const graph = model.graph;
  if (!graph) throw new Error('ONNX model has no graph');
  const { input, output, classes } = checkClassifierSignature(graph);
  const bnBuffers = new Set<string>();
  for (const n of graph.node ?? []) {
    if (n.opType === 'BatchNormalization') {
      if (n.input?.[3]) bnBuffers.add(n.input[3]);
      if (n.input?.[4]) bnBuffers.add(n.input[4]);
    }
  }
  let params = 0;
  const FLOATISH = new Set([1, 10, 11, 16]); // float, float16, double, bfloat16
  const INTS = new Set([3, 2]); // int8/uint8 quantized weights count as parameters too
  for (const t of graph.initializer ?? []) {
    if (bnBuffers.has(t.name ?? '')) continue;
    if (!FLOATISH.has(t.dataType ?? 0) && !INTS.has(t.dataType ?? 0)) continue;
    const n = dimsSize(t.dims);
    if (n <= 1) continue; // scalars (Clip bounds, scales) are constants, not parameters
    params += n;
  }
  const { macs, complete } = countMacs(graph, input.shape);
  return { params, macs, macsComplete: complete, input, output, opset: modelOpset(model), classes };
}

export function checkClassifierSignature(graph: Graph): {
  input: GraphStats['input'];
  output: GraphStats['output'];
  classes: number;
} {
  const inputs = realInputs(graph);
  if (inputs.length !== 1) {
    throw new Error(`expected exactly one image input, found ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`);
  }
  const inShape = valueInfoDims(inputs[0]!);
  if (inShape.length !== 4 || inShape[1] !== 3) {
    throw new Error(`input '${inputs[0]!.name}' must be NCHW with 3 channels, got [${inShape.join(', ')}]`);
  }
  if (typeof inShape[2] !== 'number' || typeof inShape[3] !== 'number') {
    throw new Error(`input '${inputs[0]!.name}' must have a fixed height and width, got [${inShape.join(', ')}]`);
  }
  const outputs = graph.output ?? [];
  if (outputs.length < 1) throw new Error('model has no output');
  const outShape = valueInfoDims(outputs[0]!);
  if (outShape.length !== 2 || typeof outShape[1] !== 'number') {
    throw new Error(`output '${outputs[0]!.name}' must be [N, classes], got [${outShape.join(', ')}]`);
  }
  return {
    input: { name: inputs[0]!.name ?? 'input', shape: inShape },
    output: { name: outputs[0]!.name ?? 'output', shape: outShape },
    classes: outShape[1],
  };
}

function countMacs(graph: Graph, inputShape: (number | string)[]): { macs: number; complete: boolean } {
  const shapes = new Map<string, number[]>();
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  for (const t of graph.initializer ?? []) shapes.set(t.name ?? '', (t.dims ?? []).map(Number));
  const inputName = realInputs(graph)[0]!.name ?? '';
  shapes.set(inputName, inputShape.map((d) => (typeof d === 'number' ? d : 1)));
  let macs = 0;
  let complete = true;
  for (const n of graph.node ?? []) {
    const ins = (n.input ?? []).map((i) => shapes.get(i));
    const x = ins[0];
    const out = n.output?.[0] ?? '';
    if (!x) {
      complete = false;
      continue;
    }
    switch (n.opType) {
      case 'Conv':
      case 'ConvInteger':
      case 'QLinearConv': {
        const w = n.opType === 'QLinearConv' ? ins[3] : ins[1];
        if (!w) {
          complete = false;
          break;
        }
        const k = getIntsAttr(n, 'kernel_shape', w.slice(2));
        const strides = getIntsAttr(n, 'strides', [1, 1]);
        const pads = getIntsAttr(n, 'pads', [0, 0, 0, 0]);
        const dil = getIntsAttr(n, 'dilations', [1, 1]);
        const oh = Math.floor((x[2]! + pads[0]! + pads[2]! - dil[0]! * (k[0]! - 1) - 1) / strides[0]!) + 1;
        const ow = Math.floor((x[3]! + pads[1]! + pads[3]! - dil[1]! * (k[1]! - 1) - 1) / strides[1]!) + 1;
        const o = [x[0]!, w[0]!, oh, ow];
        macs += o[1]! * oh * ow * w[1]! * k[0]! * k[1]!;
        shapes.set(out, o);
        break;
      }
      case 'Gemm': {
        const w = ins[1];
        if (!w) {
          complete = false;
          break;
        }
        const transB = getIntAttr(n, 'transB', 0);
        const [inF, outF] = transB ? [w[1]!, w[0]!] : [w[0]!, w[1]!];
        macs += inF * outF;
        shapes.set(out, [x[0]!, outF]);
        break;
      }
      case 'MatMul':
      case 'MatMulInteger': {
        const w = ins[1];
        if (!w) {
          complete = false;
          break;
        }
        macs += x.slice(0, -1).slice(1).reduce((a, d) => a * d, 1) * w[w.length - 2]! * w[w.length - 1]!;
        shapes.set(out, [...x.slice(0, -1), w[w.length - 1]!]);
        break;
      }
      case 'GlobalAveragePool':
      case 'GlobalMaxPool':
        shapes.set(out, [x[0]!, x[1]!, 1, 1]);
        break;
      case 'AveragePool':
      case 'MaxPool': {
        const k = getIntsAttr(n, 'kernel_shape', [1, 1]);
        const strides = getIntsAttr(n, 'strides', [1, 1]);
        const pads = getIntsAttr(n, 'pads', [0, 0, 0, 0]);
        const oh = Math.floor((x[2]! + pads[0]! + pads[2]! - k[0]!) / strides[0]!) + 1;
        const ow = Math.floor((x[3]! + pads[1]! + pads[3]! - k[1]!) / strides[1]!) + 1;
        shapes.set(out, [x[0]!, x[1]!, oh, ow]);
        break;
      }
      case 'ReduceMean': {
        const axes = getIntsAttr(n, 'axes', [2, 3]);
        const keep = getIntAttr(n, 'keepdims', 1);
        const o = x.map((d, i) => (axes.includes(i) || axes.includes(i - x.length) ? 1 : d));
        shapes.set(out, keep ? o : o.filter((_, i) => !(axes.includes(i) || axes.includes(i - x.length))));
        break;
      }
      case 'Flatten': {
        const axis = getIntAttr(n, 'axis', 1);
        shapes.set(out, [x.slice(0, axis).reduce((a, d) => a * d, 1), x.slice(axis).reduce((a, d) => a * d, 1)]);
        break;
      }
      case 'Reshape': {
        const shapeT = inits.get(n.input?.[1] ?? '');
        if (!shapeT) {
          complete = false;
          break;
        }
        const target = tensorToInt64(shapeT).map(Number);
        const total = x.reduce((a, d) => a * d, 1);
        const fixed = target.map((d, i) => (d === 0 ? x[i]! : d));
        const known = fixed.filter((d) => d !== -1).reduce((a, d) => a * d, 1);
        shapes.set(out, fixed.map((d) => (d === -1 ? total / known : d)));
        break;
      }
      case 'Squeeze':
        shapes.set(out, x.filter((d, i) => !(d === 1 && i >= 2)));
        break;
      case 'Pad': {
        const padsT = inits.get(n.input?.[1] ?? '');
        const pads = padsT ? tensorToInt64(padsT).map(Number) : getIntsAttr(n, 'pads', []);
        if (pads.length !== x.length * 2) {
          complete = false;
          break;
        }
        shapes.set(out, x.map((d, i) => d + pads[i]! + pads[i + x.length]!));
        break;
      }
      case 'Transpose': {
        const perm = getIntsAttr(n, 'perm', x.map((_, i) => x.length - 1 - i));
        shapes.set(out, perm.map((p) => x[p]!));
        break;
      }
      default:
        // Elementwise and per-channel ops (BN, Clip, Relu, Add, Mul, Q/DQ, Cast, Softmax, ...) keep the shape.
        if (ELEMENTWISE.has(n.opType ?? '')) shapes.set(out, x);
        else complete = false;
    }
  }
  return { macs, complete };
}

const ELEMENTWISE = new Set([
  'BatchNormalization', 'Clip', 'Relu', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Add', 'Sub', 'Mul',
  'Div', 'Identity', 'Dropout', 'Cast', 'Softmax', 'LogSoftmax', 'QuantizeLinear', 'DequantizeLinear', 'Gather',
  'Max', 'Min', 'Neg', 'Abs', 'Exp', 'Sqrt', 'Tanh', 'Erf', 'Pow',
]);

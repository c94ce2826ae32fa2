import {
  DataType,
  type Graph,
  type Node,
  type Tensor,
  floatTensor,
  getAttr,
  getIntAttr,
  getIntsAttr,
  node,
  realInputs,
  tensorToFloat32,
  typedTensor,
} from '../onnx/proto';
import { type PreparedGraph, consumersOf, initializerMap } from './prepare';

/**
 * The uint8 image as the first layer's quantized input. Built models start with the folded normalization
 * Cast -> Mul -> Sub (x * a_c + b_c per channel). Quantizing its float output to uint8 rounds every pixel
 * (x / 127.5 - 1 lies half-way between the steps of any uint8 grid over [-1, 1]) and costs four
 * elementwise passes over the input. But the uint8 image already is an exact quantization of it:
 * DequantizeLinear(x, S, Z) = S (x - Z), and
 *   a_c x + b_c = (a_c / S) * S (x - Z) + (a_c Z + b_c),
 * so the Convs reading it take weights scaled by a_c / S along their input channels and a bias that absorbs
 * the constant a_c Z + b_c. ONNX Runtime then runs the first QLinearConv straight on the image.
 *
 * Only the Conv's zero padding differs: it pads with Z, i.e. the normalized value a_c Z + b_c instead of 0.
 * The fold is taken when that is at most half an input step (|a_c Z + b_c| <= |a_c| / 2: Keras-style
 * x / 127.5 - 1 with Z = 128), an error no larger than what quantizing the normalized tensor adds to every
 * pixel, here only on the padded border; or when the Convs do not pad at all. Per-channel means that no
 * single Z brings close to 0 (ImageNet mean/std) keep the Q/DQ on the normalized tensor.
 */
export interface InputFold {
  /** The normalized tensor, now written by DequantizeLinear(input, scale, zeroPoint). */
  tensor: string;
  input: string;
  scale: number;
  zeroPoint: number;
  /** The nodes removed (Cast, Mul, Sub, ...). */
  removed: string[];
  /** Convs whose weights and bias absorbed the normalization. */
  convs: string[];
  /** Largest |normalized value of a padded pixel| (0 when no Conv pads). */
  padError: number;
}

/** The elementwise ops a normalization chain may hold (an absent opType is none of them). */
const STEPS = new Set<string | null | undefined>(['Mul', 'Div', 'Add', 'Sub']);

interface Affine {
  a: Float64Array;
  b: Float64Array;
}

/**
 * A constant broadcast along the channel axis of an NCHW tensor: one value (any shape), [1,C,1,1] or [C,1,1].
 * Not [C]: numpy broadcasting lines a rank-1 constant up with W, not C.
 */
function channelConstant(t: Tensor | undefined, channels: number): Float64Array | undefined {
  if (!t || t.dataType !== DataType.FLOAT) return undefined;
  // Stryker disable next-line ArrayDeclaration: neither [] nor the fallback's [NaN] matches a layout below (rank 1 needs channels === 1, which returned above)
  const dims = (t.dims ?? []).map(Number);
  const v = tensorToFloat32(t);
  const out = new Float64Array(channels);
  if (v.length === 1) return out.fill(v[0]!);
  if (v.length !== channels) return undefined;
  // Trailing axes must be 1 and the channel axis must be second from the front (rank 4) or first (rank 3).
  // (A rank-1 [C] would need C === 1, which the single-value case above already took.)
  const ok = (dims.length === 4 && dims[0] === 1 && dims[1] === channels) || (dims.length === 3 && dims[0] === channels);
  if (!ok) return undefined;
  v.forEach((x, c) => (out[c] = x));
  return out;
}

function padsNonZero(conv: Node): boolean {
  const auto = getAttr(conv, 'auto_pad')?.s;
  // Stryker disable next-line StringLiteral: any mode other than SAME_* reads the pads attribute, 'NOTSET' or not
  const mode = auto ? new TextDecoder().decode(auto) : 'NOTSET';
  if (mode === 'SAME_UPPER' || mode === 'SAME_LOWER') return true;
  return getIntsAttr(conv, 'pads', []).some((p) => p !== 0);
}

/**
 * Folds the input normalization into the Convs that read it (see InputFold), in place on `prepared`.
 * `quantizedConvs` are the Convs the plan runs on integer kernels; `keep` are node names the options name
 * (exclude_layers), which must stay. Returns undefined, changing nothing, when the graph does not match.
 */
export function foldInputNormalization(prepared: PreparedGraph, quantizedConvs: Set<string>, keep: Set<string>): InputFold | undefined {
  const graph = prepared.model.graph as Graph;
  // Stryker disable next-line ArrayDeclaration: without nodes the input has no Cast reader, so nothing folds with the fallback either
  const nodes = graph.node ?? [];
  const inits = initializerMap(graph);
  const consumers = consumersOf(graph);
  // Stryker disable next-line ArrayDeclaration,StringLiteral: the set is only asked about node output names, never '' or 'Stryker was here!'
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  for (const input of realInputs(graph)) {
    // Stryker disable next-line StringLiteral: consumersOf lists no reader under '' (skipped) nor under 'Stryker was here!': the input is skipped either way
    const name = input.name ?? '';
    const tt = input.type?.tensorType;
    // Stryker disable next-line ArrayDeclaration: a one-element fallback is not rank 4 either
    const dims = tt?.shape?.dim ?? [];
    if (tt?.elemType !== DataType.UINT8 || dims.length !== 4 || dims[1]!.dimValue == null) continue;
    const channels = Number(dims[1].dimValue);
    // Stryker disable next-line ArrayDeclaration: a fallback element is no Cast node, so the input is skipped as with no readers
    const users = consumers.get(name) ?? [];
    if (users.length !== 1 || users[0]!.opType !== 'Cast' || getIntAttr(users[0]!, 'to', 0) !== DataType.FLOAT) continue;
    const chain: Node[] = [users[0]!];
    const f: Affine = { a: new Float64Array(channels).fill(1), b: new Float64Array(channels) };
    let t = users[0]!.output![0]!;
    // Follow single-consumer Mul/Div/Add/Sub by channel constants.
    for (;;) {
      // Stryker disable next-line ArrayDeclaration: a fallback element is no Mul/Div/Add/Sub node, so the chain ends as with no readers
      const next = consumers.get(t) ?? [];
      if (next.length !== 1 || outputs.has(t)) break;
      const n = next[0]!;
      // n reads t (consumersOf lists it under t), so it has inputs.
      if (!STEPS.has(n.opType) || n.input!.length !== 2) break;
      // Stryker disable next-line ConditionalExpression: with t second, the check below looks t up as the constant, and t is a node output, never an initializer (ONNX names every tensor once), so the chain ends there anyway; the `true` replacement (always stop) is killed
      if (n.input![0] !== t) break;
      const k = channelConstant(inits.get(n.input![1]!), channels);
      if (!k) break;
      // Stryker disable next-line EqualityOperator: `c <= channels` adds a step at c = channels, past the end of the typed arrays (reads undefined, writes ignored); `c >= channels` (no step) is killed
      for (let c = 0; c < channels; c++) {
        if (n.opType === 'Mul') (f.a[c]! *= k[c]!), (f.b[c]! *= k[c]!);
        else if (n.opType === 'Div') (f.a[c]! /= k[c]!), (f.b[c]! /= k[c]!);
        else if (n.opType === 'Add') f.b[c]! += k[c]!;
        else f.b[c]! -= k[c]!;
      }
      chain.push(n);
      t = n.output![0]!;
    }
    if (chain.length < 2 || outputs.has(t) || chain.some((n) => keep.has(n.name!))) continue;
    if (![...f.a].every((v) => Number.isFinite(v) && v !== 0) || ![...f.b].every(Number.isFinite)) continue;
    // Stryker disable next-line ArrayDeclaration: a fallback element is no Conv node, so the fold is refused as with no readers
    const convs = consumers.get(t) ?? [];
    const convOk = (n: Node) =>
      n.opType === 'Conv' &&
      quantizedConvs.has(n.name!) &&
      // Stryker disable next-line ConditionalExpression: a Conv (at most 3 inputs) reading t as weight or bias fails the initializer checks below, t being a node output and never an initializer name; the `false` replacement (no Conv folds) is killed
      n.input![0] === t &&
      getIntAttr(n, 'group', 1) === 1 &&
      inits.has(n.input![1]!) &&
      (!n.input![2] || inits.has(n.input![2]!)) &&
      Number(inits.get(n.input![1]!)!.dims?.[1]) === channels;
    if (convs.length === 0 || !convs.every(convOk)) continue;

    const scale = Math.fround(Math.max(...f.a.map(Math.abs)));
    // The zero point that makes a padded pixel closest to the normalized 0: x = -b_c / a_c.
    const centre = f.a.reduce((s, a, c) => s - f.b[c]! / a, 0) / channels;
    const zeroPoint = Math.min(255, Math.max(0, Math.round(centre)));
    const d = f.a.map((a, c) => a * zeroPoint + f.b[c]!);
    const pads = convs.some(padsNonZero);
    const padError = pads ? Math.max(...d.map(Math.abs)) : 0;
    if (pads && !d.every((v, c) => Math.abs(v) <= (Math.abs(f.a[c]!) / 2) * (1 + 1e-6))) continue;

    for (const conv of convs) {
      const w = inits.get(conv.input![1]!)!;
      // Stryker disable next-line ArrayDeclaration: convOk already required dims[1] === channels, so the weight has dims
      const wd = (w.dims ?? []).map(Number);
      const wv = tensorToFloat32(w);
      const outC = wd[0]!;
      const per = wv.length / outC / channels;
      const bias = conv.input![2] ? Float64Array.from(tensorToFloat32(inits.get(conv.input![2])!)) : new Float64Array(outC);
      const nw = new Float32Array(wv.length);
      // Stryker disable next-line EqualityOperator: `o <= outC` adds a row at o = outC, past the end of nw and bias (writes ignored); `o >= outC` (no row) is killed
      for (let o = 0; o < outC; o++) {
        for (let c = 0; c < channels; c++) {
          const r = f.a[c]! / scale;
          for (let k = 0; k < per; k++) {
            const i = (o * channels + c) * per + k;
            nw[i] = wv[i]! * r;
            bias[o]! += wv[i]! * d[c]!;
          }
        }
      }
      const wName = `${conv.name}.weight_input_folded`;
      const bName = `${conv.name}.bias_input_folded`;
      graph.initializer!.push(floatTensor(wName, wd, nw), floatTensor(bName, [outC], Float32Array.from(bias)));
      conv.input = [t, wName, bName];
    }
    const dq = node('DequantizeLinear', [name, `${t}.input_scale`, `${t}.input_zero_point`], [t], {}, `${t}.DequantizeInput`);
    graph.initializer!.push(floatTensor(`${t}.input_scale`, [], Float32Array.of(scale)), typedTensor(`${t}.input_zero_point`, [], DataType.UINT8, Uint8Array.of(zeroPoint)));
    const removed = new Set(chain);
    const first = nodes.indexOf(chain[0]!);
    graph.node = [...nodes.slice(0, first), dq, ...nodes.slice(first).filter((n) => !removed.has(n))];
    return { tensor: t, input: name, scale, zeroPoint, removed: chain.map((n) => n.name!), convs: convs.map((n) => n.name!), padError };
  }
  return undefined;
}

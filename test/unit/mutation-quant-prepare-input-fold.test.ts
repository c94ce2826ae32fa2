import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type AttrValue, type Model, type Node, type Tensor, encodeModel, node, onnx, tensorToFloat32 } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { type InputFold, foldInputNormalization } from '../../plugins/modelzoo/src/lib/quant/input-fold';
import type { PreparedGraph } from '../../plugins/modelzoo/src/lib/quant/prepare';
import {
  DataType,
  type GraphSpec,
  f32,
  f64,
  findNode,
  initDims,
  initNames,
  initOf,
  initValues,
  maxAbsDiff,
  modelOf,
  nodeNames,
  ort,
  runOrt,
  values,
} from '../helpers/mutation-quant-prepare-graph';

const FLOAT = DataType.FLOAT;
const UINT8 = DataType.UINT8;
const C = 3;
const H = 4;
const Wd = 5;

/** One normalization step: op with a constant of the given dims and values. */
interface Step {
  op: 'Mul' | 'Div' | 'Add' | 'Sub';
  dims: number[];
  v: number[];
}
const scalar = (op: Step['op'], v: number): Step => ({ op, dims: [], v: [v] });
const perChannel = (op: Step['op'], v: number[]): Step => ({ op, dims: [1, C, 1, 1], v });

interface ConvSpec {
  name: string;
  attrs?: Record<string, AttrValue>;
  bias?: boolean;
  /** weight dims; default [2, C, 2, 2]. */
  wDims?: number[];
  seed?: number;
}

interface Spec {
  steps: Step[];
  convs?: ConvSpec[];
  /** overrides of the graph spec. */
  inputs?: GraphSpec['inputs'];
  outputs?: GraphSpec['outputs'];
  castTo?: number;
  /** nodes put before the Cast / after the Convs. */
  before?: Node[];
  after?: Node[];
  extraInits?: Tensor[];
}

/** img (uint8 NCHW) -> Cast -> steps... -> Conv(s) -> outputs y_<conv>. */
function normModel(s: Spec): Model {
  const nodes: Node[] = [...(s.before ?? []), node('Cast', ['img'], ['t0'], { to: s.castTo ?? FLOAT }, 'cast')];
  const inits: Tensor[] = [...(s.extraInits ?? [])];
  s.steps.forEach((st, i) => {
    nodes.push(node(st.op, [`t${i}`, `k${i}`], [`t${i + 1}`], {}, `step${i}`));
    inits.push(f32(`k${i}`, st.dims, st.v));
  });
  const t = `t${s.steps.length}`;
  const convs = s.convs ?? [{ name: 'conv' }];
  for (const c of convs) {
    const wDims = c.wDims ?? [2, C, 2, 2];
    const n = wDims.reduce((a, d) => a * d, 1);
    inits.push(f32(`${c.name}.W`, wDims, values(n, c.seed ?? 5)));
    if (c.bias !== false) inits.push(f32(`${c.name}.B`, [wDims[0]!], values(wDims[0]!, (c.seed ?? 5) + 100)));
    nodes.push(node('Conv', [t, `${c.name}.W`, ...(c.bias !== false ? [`${c.name}.B`] : [])], [`y_${c.name}`], c.attrs ?? {}, c.name));
  }
  nodes.push(...(s.after ?? []));
  return modelOf({
    nodes,
    inits,
    inputs: s.inputs ?? [['img', UINT8, [1, C, H, Wd]]],
    outputs: s.outputs ?? convs.map((c) => `y_${c.name}`),
  });
}

const prep = (m: Model): PreparedGraph => ({ model: m, activations: new Map() });

function fold(m: Model, convs = ['conv'], keep: string[] = []): InputFold | undefined {
  return foldInputNormalization(prep(m), new Set(convs), new Set(keep));
}

/** The normalization as written, evaluated per channel in float64: x -> a_c x + b_c read off at x = 0 and 1. */
function affineOf(steps: Step[]): { a: number[]; b: number[] } {
  const at = (x: number, c: number) =>
    steps.reduce((v, st) => {
      const k = Math.fround(st.v.length === 1 ? st.v[0]! : st.v[c]!);
      return st.op === 'Mul' ? v * k : st.op === 'Div' ? v / k : st.op === 'Add' ? v + k : v - k;
    }, x);
  const b = Array.from({ length: C }, (_, c) => at(0, c));
  const a = Array.from({ length: C }, (_, c) => at(1, c) - b[c]!);
  return { a, b };
}

/** Expected scale, zero point, pad values and folded weights/bias of one Conv. */
function oracle(steps: Step[], w: number[], wDims: number[], bias: number[] | undefined) {
  const { a, b } = affineOf(steps);
  const scale = Math.fround(Math.max(...a.map(Math.abs)));
  const centre = a.reduce((s, ac, c) => s + -b[c]! / ac, 0) / C;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(centre)));
  const d = a.map((ac, c) => ac * zeroPoint + b[c]!);
  const [O, , ...k] = wDims;
  const per = k.reduce((x, y) => x * y, 1);
  const nw: number[] = [];
  const nb = bias ? [...bias] : new Array(O!).fill(0);
  for (let o = 0; o < O!; o++) {
    for (let c = 0; c < C; c++) {
      for (let j = 0; j < per; j++) {
        const v = w[(o * C + c) * per + j]!;
        nw.push((v * a[c]!) / scale);
        nb[o] += v * d[c]!;
      }
    }
  }
  return { a, b, scale, zeroPoint, d, w: nw, bias: nb };
}

const close = (got: number[], want: number[], what: string, rel = 3e-7) => {
  assert.equal(got.length, want.length, what);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) <= rel * Math.max(1, Math.abs(want[i]!)), `${what}[${i}]: ${g} != ${want[i]}`));
};

/** Checks the folded Conv `name` against the oracle. */
function checkConv(m: Model, before: Model, name: string, steps: Step[]) {
  const conv = findNode(m, name);
  const w0 = Array.from(tensorToFloat32(initOf(before, `${name}.W`)));
  const wDims = initDims(before, `${name}.W`);
  const hasBias = initNames(before).includes(`${name}.B`);
  const o = oracle(steps, w0, wDims, hasBias ? Array.from(tensorToFloat32(initOf(before, `${name}.B`))) : undefined);
  assert.deepEqual(conv.input!.slice(1), [`${name}.weight_input_folded`, `${name}.bias_input_folded`]);
  assert.deepEqual(initDims(m, `${name}.weight_input_folded`), wDims);
  assert.deepEqual(initDims(m, `${name}.bias_input_folded`), [wDims[0]!]);
  close(initValues(m, `${name}.weight_input_folded`), o.w, `${name} weight`);
  close(initValues(m, `${name}.bias_input_folded`), o.bias, `${name} bias`);
  return o;
}

/** Float32 outputs equal up to rounding: 1e-6 of the largest magnitude. */
function assertNear(got: Float32Array, want: Float32Array, what: string) {
  const tol = 1e-6 * (1 + Math.max(...Array.from(want, Math.abs)));
  assert.ok(maxAbsDiff(got, want) <= tol, `${what}: max diff ${maxAbsDiff(got, want)} > ${tol}`);
}

const pixels = (seed: number) => Uint8Array.from({ length: C * H * Wd }, (_, i) => (i * 97 + seed * 31 + ((i * i) % 7)) % 256);

async function ortOutputs(m: Model, u8: Uint8Array): Promise<Record<string, Float32Array>> {
  return runOrt(m, { img: new ort.Tensor('uint8', u8, [1, C, H, Wd]) });
}

// ---------------------------------------------------------------------------------------------------------

// a = [0.5, -0.25, 0.125], b = [-0.25, 0.5, -1]: centres -b/a = [0.5, 2, 8], mean 3.5 -> Z = 4; S = 0.5;
// pad values a Z + b = [1.75, -0.5, -0.5].
const MAIN: Step[] = [perChannel('Mul', [0.5, -0.25, 0.125]), { op: 'Sub', dims: [C, 1, 1], v: [0.25, -0.5, 1] }];

test('Cast -> Mul -> Sub folds into DequantizeLinear(img, S, Z) and the Conv weights (hand-computed values)', async () => {
  const before = normModel({ steps: MAIN });
  const m = normModel({ steps: MAIN });
  const f = fold(m)!;
  assert.deepEqual(f, { tensor: 't2', input: 'img', scale: 0.5, zeroPoint: 4, removed: ['cast', 'step0', 'step1'], convs: ['conv'], padError: 0 });
  const o = checkConv(m, before, 'conv', MAIN);
  assert.deepEqual(o.d, [1.75, -0.5, -0.5]);
  // The weight of input channel c is scaled by a_c / S = [1, -0.5, 0.25].
  const w0 = initValues(before, 'conv.W');
  const w1 = initValues(m, 'conv.weight_input_folded');
  assert.deepEqual(w1.slice(0, 12), [...w0.slice(0, 4), ...w0.slice(4, 8).map((v) => Math.fround(v * -0.5)), ...w0.slice(8, 12).map((v) => Math.fround(v * 0.25))]);
  // The graph: DequantizeLinear in place of the chain, the Conv reading its output.
  assert.deepEqual(nodeNames(m), ['t2.DequantizeInput', 'conv']);
  const dq = findNode(m, 't2.DequantizeInput');
  assert.equal(dq.opType, 'DequantizeLinear');
  assert.deepEqual(dq.input, ['img', 't2.input_scale', 't2.input_zero_point']);
  assert.deepEqual(dq.output, ['t2']);
  assert.deepEqual(findNode(m, 'conv').input, ['t2', 'conv.weight_input_folded', 'conv.bias_input_folded']);
  assert.deepEqual(initValues(m, 't2.input_scale'), [0.5]);
  assert.deepEqual(initDims(m, 't2.input_scale'), []);
  const zp = initOf(m, 't2.input_zero_point');
  assert.equal(zp.dataType, UINT8);
  assert.deepEqual(zp.dims, []);
  assert.deepEqual([...zp.rawData!], [4]);
  // ONNX Runtime: the same outputs (no padding, so exact up to float rounding).
  for (const seed of [1, 2]) {
    const u8 = pixels(seed);
    const want = (await ortOutputs(before, u8)).y_conv!;
    const got = (await ortOutputs(m, u8)).y_conv!;
    assertNear(got, want, `seed ${seed}`);
  }
});

test('every step kind composes: Add, Mul, Div, Sub in any order, scalar and per-channel constants', () => {
  const steps: Step[] = [
    { op: 'Add', dims: [1], v: [-3] },
    perChannel('Mul', [2, -4, 0.5]),
    { op: 'Div', dims: [1, 1, 1, 1], v: [8] },
    { op: 'Sub', dims: [C, 1, 1], v: [0.125, -1, 0.75] },
    scalar('Mul', 0.75),
  ];
  const before = normModel({ steps });
  const m = normModel({ steps });
  const f = fold(m)!;
  const o = checkConv(m, before, 'conv', steps);
  assert.deepEqual(
    { scale: f.scale, zeroPoint: f.zeroPoint, removed: f.removed, tensor: f.tensor },
    { scale: o.scale, zeroPoint: o.zeroPoint, removed: ['cast', 'step0', 'step1', 'step2', 'step3', 'step4'], tensor: 't5' },
  );
  // By hand: ((x - 3) m_c / 8 - s_c) * 0.75: a = [0.1875, -0.375, 0.046875], b = [-0.65625, 1.875, -0.703125],
  // centres -b/a = [3.5, 5, 15] -> mean 7.83 -> Z = 8.
  assert.deepEqual(o.a, [0.1875, -0.375, 0.046875]);
  assert.deepEqual(o.b, [-0.65625, 1.875, -0.703125]);
  assert.equal(f.zeroPoint, 8);
  assert.equal(f.scale, 0.375);
});

test('Div alone scales a and b; Add alone shifts b (scale = max |a| rounded to float32)', () => {
  const div: Step[] = [scalar('Div', 127.5), scalar('Add', -1)];
  const m = normModel({ steps: div });
  const f = fold(m)!;
  assert.equal(f.scale, Math.fround(1 / 127.5));
  assert.notEqual(f.scale, 1 / 127.5);
  assert.equal(f.zeroPoint, 128);
  assert.deepEqual(f.removed, ['cast', 'step0', 'step1']);
  checkConv(m, normModel({ steps: div }), 'conv', div);
});

test('the zero point is the rounded mean of -b/a over channels, clamped to [0, 255]', () => {
  const zp = (steps: Step[]) => fold(normModel({ steps }))!.zeroPoint;
  assert.equal(zp([scalar('Mul', 1), scalar('Sub', 300)]), 255);
  assert.equal(zp([scalar('Mul', 1), scalar('Sub', 255)]), 255);
  assert.equal(zp([scalar('Mul', 1), scalar('Sub', 254.25)]), 254);
  assert.equal(zp([scalar('Mul', 1), scalar('Add', 10)]), 0);
  assert.equal(zp([scalar('Mul', 1), scalar('Add', 0.25)]), 0);
  assert.equal(zp([scalar('Mul', 2), scalar('Sub', 3)]), 2, '1.5 rounds up');
  assert.equal(zp([scalar('Mul', 2), scalar('Sub', 2.75)]), 1, '1.375 rounds down');
  assert.equal(zp([perChannel('Mul', [1, 2, 4]), perChannel('Sub', [3, 10, 8])]), 3, 'centres [3, 5, 2] -> 10/3');
  assert.equal(zp([perChannel('Mul', [-1, 1, 1]), perChannel('Sub', [-6, 0, 0])]), 2, 'centres [6, 0, 0] with a negative a');
  // The scale is the largest |a_c| whatever the sign.
  assert.equal(fold(normModel({ steps: [perChannel('Mul', [0.25, -2, 1]), scalar('Sub', 1)] }))!.scale, 2);
  assert.equal(fold(normModel({ steps: [perChannel('Mul', [0.25, 2, 3]), scalar('Sub', 1)] }))!.scale, 3);
});

// a = 0.5, b = -0.25: Z = round(0.5) = 1, pad value 0.25 = a / 2, exactly the limit.
const HALF: Step[] = [scalar('Mul', 0.5), scalar('Sub', 0.25)];

test('padded Convs: the fold is taken when every pad value is within half a step, and padError reports it', () => {
  for (const attrs of [{ pads: [1, 1, 1, 1] }, { pads: [0, 0, 0, 1] }, { auto_pad: 'SAME_UPPER' }, { auto_pad: 'SAME_LOWER' }] as Record<string, AttrValue>[]) {
    const f = fold(normModel({ steps: HALF, convs: [{ name: 'conv', attrs }] }));
    assert.ok(f, JSON.stringify(attrs));
    assert.equal(f.padError, 0.25, JSON.stringify(attrs));
    assert.equal(f.zeroPoint, 1);
  }
  for (const attrs of [{}, { pads: [0, 0, 0, 0] }, { auto_pad: 'VALID' }, { auto_pad: 'NOTSET' }, { auto_pad: 'NOTSET', pads: [0, 0, 0, 0] }] as Record<string, AttrValue>[]) {
    assert.equal(fold(normModel({ steps: HALF, convs: [{ name: 'conv', attrs }] }))?.padError, 0, JSON.stringify(attrs));
  }
  // Negative a: |a Z + b| = |-0.5 + 0.25| <= |a| / 2.
  const neg = fold(normModel({ steps: [scalar('Mul', -0.5), scalar('Sub', -0.25)], convs: [{ name: 'conv', attrs: { pads: [1, 1, 1, 1] } }] }));
  assert.ok(neg);
  assert.equal(neg.padError, 0.25);
  assert.equal(neg.scale, 0.5);
});

test('padded Convs: a pad value beyond half a step (beyond the 1e-6 slack) keeps the normalization', () => {
  const pads = { pads: [1, 1, 1, 1] };
  // centres [0.5, 0.5, 2.5] -> Z = 1; pad values [0.25, 0.25, -0.75]: channel 2 is 1.5 steps off.
  const uneven: Step[] = [scalar('Mul', 0.5), perChannel('Sub', [0.25, 0.25, 1.25])];
  const m = normModel({ steps: uneven, convs: [{ name: 'conv', attrs: pads }] });
  const bytes = Buffer.from(encodeModel(m));
  assert.equal(fold(m), undefined);
  assert.ok(Buffer.from(encodeModel(m)).equals(bytes), 'nothing changed');
  // Without padding the same normalization folds: the pad values never enter.
  const f = fold(normModel({ steps: uneven }))!;
  assert.deepEqual([f.zeroPoint, f.padError], [1, 0]);
  // Channel 0 just over a / 2: 2^-24 over (relative 2.4e-7) is within the slack, 2^-20 (3.8e-6) is not.
  // centres [0.5 - 2e, 1, 1.5] -> Z = 1, pad values [0.25 + e, 0, -0.25].
  const over = (e: number) => fold(normModel({ steps: [scalar('Mul', 0.5), perChannel('Sub', [0.25 - e, 0.5, 0.75])], convs: [{ name: 'conv', attrs: pads }] }));
  const within = over(2 ** -24);
  assert.ok(within);
  assert.equal(within.padError, 0.25 + 2 ** -24);
  assert.equal(over(2 ** -20), undefined);
  // Negative pad value beyond the limit.
  assert.equal(fold(normModel({ steps: [scalar('Mul', 0.5), perChannel('Sub', [0.25, 0.5, 0.75 + 2 ** -20])], convs: [{ name: 'conv', attrs: pads }] })), undefined);
  // Negative a, pad value just beyond |a| / 2.
  assert.equal(fold(normModel({ steps: [scalar('Mul', -0.5), perChannel('Sub', [-0.25 + 2 ** -20, -0.5, -0.75])], convs: [{ name: 'conv', attrs: pads }] })), undefined);
});

test('several Convs read the normalized tensor: all are folded; one padded Conv makes the padding count', async () => {
  const spec: Spec = { steps: HALF, convs: [{ name: 'a', seed: 3 }, { name: 'b', seed: 4, attrs: { pads: [1, 1, 1, 1] }, bias: false, wDims: [3, C, 3, 1] }] };
  const before = normModel(spec);
  const m = normModel(spec);
  const f = fold(m, ['a', 'b'])!;
  assert.deepEqual(f.convs, ['a', 'b']);
  assert.equal(f.padError, 0.25);
  checkConv(m, before, 'a', HALF);
  checkConv(m, before, 'b', HALF);
  assert.deepEqual(nodeNames(m), ['t2.DequantizeInput', 'a', 'b']);
  // Exact on the interior; on the border of b the padded pixels read 0.25 instead of 0.
  const u8 = pixels(3);
  const want = await ortOutputs(before, u8);
  const got = await ortOutputs(m, u8);
  assertNear(got.y_a!, want.y_a!, 'a');
  const wb = initValues(before, 'b.W');
  const bound = 0.25 * wb.reduce((s, v) => s + Math.abs(v), 0) + 1e-3;
  assert.ok(maxAbsDiff(got.y_b!, want.y_b!) <= bound);
  assert.ok(maxAbsDiff(got.y_b!, want.y_b!) > 0.01, 'the border does differ');
  // b (3x1 kernel, pads 1): output H x (W + 2); rows 1..H-2 of columns 1..W read no padding and are exact.
  const cols = got.y_b!.length / (3 * H);
  assert.equal(cols, Wd + 2);
  for (let o = 0; o < 3; o++) {
    for (let y = 1; y < H - 1; y++) {
      for (let x = 1; x < cols - 1; x++) {
        const i = (o * H + y) * cols + x;
        assert.ok(Math.abs(got.y_b![i]! - want.y_b![i]!) < 1e-4, `b[${o},${y},${x}]`);
      }
    }
  }
});

test('ONNX Runtime: a fold with pad values exactly 0 gives the same outputs on a padded Conv', async () => {
  // a = 0.5, b = -1: Z = 2 and a Z + b = 0.
  const steps: Step[] = [scalar('Mul', 0.5), scalar('Sub', 1)];
  const spec: Spec = { steps, convs: [{ name: 'conv', attrs: { pads: [1, 1, 1, 1], strides: [2, 1] } }] };
  const before = normModel(spec);
  const m = normModel(spec);
  const f = fold(m)!;
  assert.deepEqual([f.zeroPoint, f.padError], [2, 0]);
  const u8 = pixels(4);
  assertNear((await ortOutputs(m, u8)).y_conv!, (await ortOutputs(before, u8)).y_conv!, 'padded');
});

test('accepted constant layouts: scalar, [1], [1,1,1,1], [1,C,1,1], [C,1,1]', () => {
  for (const dims of [[], [1], [1, 1, 1, 1]]) {
    const steps: Step[] = [{ op: 'Mul', dims, v: [0.5] }, scalar('Sub', 1)];
    const m = normModel({ steps });
    assert.ok(fold(m), `dims [${dims}]`);
    checkConv(m, normModel({ steps }), 'conv', steps);
  }
  for (const dims of [[1, C, 1, 1], [C, 1, 1]]) {
    const steps: Step[] = [{ op: 'Mul', dims, v: [0.5, 0.25, 2] }, scalar('Sub', 1)];
    const m = normModel({ steps });
    assert.ok(fold(m), `dims [${dims}]`);
    checkConv(m, normModel({ steps }), 'conv', steps);
  }
});

test('the chain stops at a constant that is not per-channel: nothing folds', () => {
  const refused = (k: Tensor, why: string) => {
    const m = normModel({ steps: [scalar('Mul', 0.5)], after: [], extraInits: [k] });
    // Put the odd step between Mul and the Conv.
    const g = m.graph!;
    const conv = g.node!.find((n) => n.opType === 'Conv')!;
    g.node!.splice(g.node!.indexOf(conv), 0, node('Sub', ['t1', k.name!], ['odd'], {}, 'odd'));
    conv.input![0] = 'odd';
    const bytes = Buffer.from(encodeModel(m));
    assert.equal(fold(m), undefined, why);
    assert.ok(Buffer.from(encodeModel(m)).equals(bytes), why);
  };
  refused(f32('k', [C], [1, 2, 3]), '[C] broadcasts along W, not C');
  refused(f32('k', [1, C, 1], [1, 2, 3]), '[1,C,1] broadcasts along H');
  refused(f32('k', [1, 1, 1, C], [1, 2, 3]), '[1,1,1,C]');
  refused(f32('k', [1, 1, C, 1], [1, 2, 3]), '[1,1,C,1]');
  refused(f32('k', [1, 2, 1, 1], [1, 2]), 'two values for three channels');
  refused(f32('k', [1, 6, 1, 1], [1, 2, 3, 4, 5, 6]), 'six values');
  refused(f64('k', [], [1]), 'a DOUBLE constant');
  // A constant that is not an initializer (a graph input).
  const m = normModel({ steps: [scalar('Mul', 0.5)], inputs: [['img', UINT8, [1, C, H, Wd]], ['kin', FLOAT, []]] });
  const conv = m.graph!.node!.find((n) => n.opType === 'Conv')!;
  m.graph!.node!.splice(m.graph!.node!.indexOf(conv), 0, node('Sub', ['t1', 'kin'], ['odd'], {}, 'odd'));
  conv.input![0] = 'odd';
  assert.equal(fold(m), undefined, 'constant is a graph input');
});

test('the chain stops at a reversed operand, a third input or another op: nothing folds', () => {
  const odd = (n: Node, why: string) => {
    const m = normModel({ steps: [scalar('Mul', 0.5)], extraInits: [f32('k', [], [2]), f32('k2', [], [3])] });
    const conv = m.graph!.node!.find((x) => x.opType === 'Conv')!;
    m.graph!.node!.splice(m.graph!.node!.indexOf(conv), 0, n);
    conv.input![0] = n.output![0]!;
    assert.equal(fold(m), undefined, why);
  };
  odd(node('Sub', ['k', 't1'], ['odd'], {}, 'odd'), 'k - x');
  odd(node('Div', ['k', 't1'], ['odd'], {}, 'odd'), 'k / x');
  odd(node('Add', ['t1', 'k', 'k2'], ['odd'], {}, 'odd'), 'three inputs');
  odd(node('Pow', ['t1', 'k'], ['odd'], {}, 'odd'), 'Pow');
  odd(node('Relu', ['t1'], ['odd'], {}, 'odd'), 'Relu');
});

test('inputs that are not a uint8 NCHW image with a fixed channel count are left alone', () => {
  const none = (s: Spec, why: string) => {
    const m = normModel(s);
    const bytes = Buffer.from(encodeModel(m));
    assert.equal(fold(m), undefined, why);
    assert.ok(Buffer.from(encodeModel(m)).equals(bytes), why);
  };
  none({ steps: MAIN, inputs: [['img', FLOAT, [1, C, H, Wd]]] }, 'float input');
  none({ steps: MAIN, inputs: [['img', DataType.INT8, [1, C, H, Wd]]] }, 'int8 input');
  none({ steps: MAIN, inputs: [['img', UINT8, [C, H, Wd]]] }, 'rank 3');
  none({ steps: MAIN, inputs: [['img', UINT8, [1, 1, C, H, Wd]]] }, 'rank 5');
  none({ steps: MAIN, inputs: [['img', UINT8, [1, 'C', H, Wd]]] }, 'symbolic channels');
  none({ steps: MAIN, castTo: DataType.DOUBLE }, 'Cast to double');
  none({ steps: [] }, 'Cast straight into the Conv');
  none({ steps: MAIN, after: [node('Identity', ['img'], ['copy'], {}, 'copy')], outputs: ['y_conv', 'copy'] }, 'the image has a second reader');
  none({ steps: MAIN, outputs: ['y_conv', 't2'] }, 'the normalized tensor is a graph output');
  none({ steps: MAIN, outputs: ['y_conv', 't1'] }, 'a tensor inside the chain is a graph output');
  none({ steps: MAIN, after: [node('Relu', ['t1'], ['side'], {}, 'side')], outputs: ['y_conv', 'side'] }, 'a tensor inside the chain has a second reader');
  none({ steps: [scalar('Mul', 0), scalar('Sub', 1)] }, 'a = 0');
  none({ steps: [perChannel('Mul', [1, 0, 1]), scalar('Sub', 1)] }, 'a = 0 on one channel');
  none({ steps: [scalar('Div', 0), scalar('Sub', 1)] }, 'a infinite');
  none({ steps: [scalar('Mul', NaN), scalar('Sub', 1)] }, 'a NaN');
  none({ steps: [scalar('Mul', 0.5), perChannel('Sub', [1, Infinity, 1])] }, 'b infinite on one channel');
  none({ steps: [scalar('Mul', 0.5), scalar('Add', NaN)] }, 'b NaN');
  // The image not read by a Cast.
  const m = normModel({ steps: MAIN });
  m.graph!.node![0]!.opType = 'Identity';
  assert.equal(fold(m), undefined, 'Identity instead of Cast');
});

test('the Convs must all be quantized, ungrouped, with constant weights over C channels', () => {
  const none = (m: Model, why: string, convs = ['conv']) => assert.equal(fold(m, convs), undefined, why);
  none(normModel({ steps: MAIN }), 'not in the quantized set', ['other']);
  none(normModel({ steps: MAIN, convs: [{ name: 'a' }, { name: 'b' }] }), 'only one of two quantized', ['a']);
  none(normModel({ steps: MAIN, convs: [{ name: 'conv', attrs: { group: 3 }, wDims: [3, C, 1, 1] }] }), 'grouped');
  none(normModel({ steps: MAIN, convs: [{ name: 'conv', wDims: [2, 1, 1, 1] }] }), 'weight over 1 channel');
  assert.ok(fold(normModel({ steps: MAIN, convs: [{ name: 'conv', attrs: { group: 1 } }] })), 'group 1 is fine');
  // Weight or bias a graph input.
  const wIn = normModel({ steps: MAIN, inputs: [['img', UINT8, [1, C, H, Wd]], ['win', FLOAT, [2, C, 2, 2]]] });
  findNode(wIn, 'conv').input![1] = 'win';
  none(wIn, 'weight is an input');
  const bIn = normModel({ steps: MAIN, inputs: [['img', UINT8, [1, C, H, Wd]], ['bin', FLOAT, [2]]] });
  findNode(bIn, 'conv').input![2] = 'bin';
  none(bIn, 'bias is an input');
  // The normalized tensor read by something else than a Conv, or by nothing.
  none(normModel({ steps: MAIN, after: [node('Relu', ['t2'], ['r'], {}, 'relu')], outputs: ['y_conv', 'r'] }), 'also read by a Relu');
  none(normModel({ steps: MAIN, convs: [] , outputs: ['t0'] }), 'read by nothing');
  const dangling = normModel({ steps: MAIN, convs: [] });
  dangling.graph!.output = [];
  none(dangling, 'a dangling chain');
  // An empty bias name is no bias.
  const emptyBias = normModel({ steps: MAIN, convs: [{ name: 'conv', bias: false }] });
  findNode(emptyBias, 'conv').input!.push('');
  const before = normModel({ steps: MAIN, convs: [{ name: 'conv', bias: false }] });
  assert.ok(fold(emptyBias));
  checkConv(emptyBias, before, 'conv', MAIN);
});

test('keep (exclude_layers) naming any node of the chain stops the fold', () => {
  for (const name of ['cast', 'step0', 'step1']) assert.equal(fold(normModel({ steps: MAIN }), ['conv'], [name]), undefined, name);
  assert.ok(fold(normModel({ steps: MAIN }), ['conv'], ['conv']), 'keeping the Conv itself is fine');
});

test('the first matching input is folded; nodes before the Cast keep their place; other inputs are skipped', () => {
  const before = [node('Relu', ['f'], ['fr'], {}, 'first')];
  const m = normModel({
    steps: MAIN,
    before,
    inputs: [['f', FLOAT, [1, C, H, Wd]], ['img', UINT8, [1, C, H, Wd]]],
    outputs: ['y_conv', 'fr'],
    after: [node('Neg', ['y_conv'], ['n'], {}, 'last')],
  });
  const f = fold(m)!;
  assert.equal(f.input, 'img');
  assert.deepEqual(nodeNames(m), ['first', 't2.DequantizeInput', 'conv', 'last']);
  // A uint8 input that does not match, then one that does.
  const two = normModel({
    steps: MAIN,
    inputs: [['raw', UINT8, [1, C, H, Wd]], ['img', UINT8, [1, C, H, Wd]]],
    before: [node('Cast', ['raw'], ['rf'], { to: FLOAT }, 'rawcast')],
    outputs: ['y_conv', 'rf'],
  });
  assert.equal(fold(two)?.input, 'img');
  assert.deepEqual(nodeNames(two), ['rawcast', 't2.DequantizeInput', 'conv']);
});

test('a single step after the Cast is enough: Cast -> Mul -> Conv folds (b = 0, Z = 0)', () => {
  const steps: Step[] = [perChannel('Mul', [0.5, 0.25, 2])];
  const before = normModel({ steps });
  const m = normModel({ steps });
  const f = fold(m)!;
  assert.deepEqual({ ...f }, { tensor: 't1', input: 'img', scale: 2, zeroPoint: 0, removed: ['cast', 'step0'], convs: ['conv'], padError: 0 });
  checkConv(m, before, 'conv', steps);
});

test('more constant layouts refused: [1,C,2,1] and [C,2,1] hold 2C values, not one per channel', () => {
  for (const dims of [[1, C, 2, 1], [C, 2, 1], [1, C, 1, 2]]) {
    const m = normModel({ steps: [{ op: 'Mul', dims, v: [1, 2, 3, 4, 5, 6] }] });
    assert.equal(fold(m), undefined, `[${dims}]`);
  }
});

test('graph inputs without a type or shape, and other layouts, are skipped without error', () => {
  const m = normModel({ steps: MAIN });
  const g = m.graph!;
  g.input = [{ name: 'untyped' }, { name: 'noshape', type: { tensorType: { elemType: UINT8 } } }, { name: 'notensor', type: {} }, ...g.input!];
  assert.equal(fold(m)?.input, 'img');
  // Rank 3 and rank 5 images whose second dim happens to equal the weights' channel count.
  assert.equal(fold(normModel({ steps: [scalar('Mul', 0.5), scalar('Sub', 1)], inputs: [['img', UINT8, [C, C, Wd]]] })), undefined, 'rank 3');
  assert.equal(fold(normModel({ steps: [scalar('Mul', 0.5), scalar('Sub', 1)], inputs: [['img', UINT8, [1, C, 1, H, Wd]]] })), undefined, 'rank 5');
  // A symbolic channel count (decoded: dim_value null) is not read as 0 channels, even against a 0-channel weight.
  const sym = normModel({ steps: [scalar('Mul', 0.5), scalar('Sub', 1)], inputs: [['img', UINT8, [1, 'C', H, Wd]]], convs: [{ name: 'conv', wDims: [2, 0, 1, 1] }] });
  const decoded = onnx.ModelProto.decode(encodeModel(sym));
  assert.equal(decoded.graph!.input![0]!.type!.tensorType!.shape!.dim![1]!.dimValue, null);
  assert.equal(fold(decoded), undefined, 'symbolic channels');
});

test('only Conv nodes fold, even when another op is named in the quantized set; a weight without dims is refused', () => {
  const m = normModel({ steps: MAIN, convs: [{ name: 'conv', wDims: [C, C, 1, 1] }] });
  findNode(m, 'conv').opType = 'ConvTranspose';
  assert.equal(fold(m), undefined);
  const noDims = normModel({ steps: MAIN });
  initOf(noDims, 'conv.W').dims = undefined;
  assert.equal(fold(noDims), undefined);
});

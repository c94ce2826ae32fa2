import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Model, decodeModel, encodeModel } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { type QParams, activationParams, buildQdqModel } from '../../plugins/modelzoo/src/lib/quant/qdq';
import { createSession, ort } from '../../plugins/modelzoo/src/lib/runtime/session';
import { convNet, plan } from '../helpers/mutation-quant-graph-models';

// ONNX Runtime loads the QDQ models buildQdqModel writes for the tiny convNet, fuses them into integer
// kernels (an excluded node stays float), and computes logits close to the float model's.

const RANGES = { x: { lo: -1, hi: 3 }, y1r: { lo: 0, hi: 6 }, y2c: { lo: 0, hi: 6 }, s: { lo: 0, hi: 12 }, p: { lo: -1, hi: 11 } } as const;

/** 8 inputs in [-1, 3] from a fixed LCG. */
const X = (() => {
  let s = 12345;
  return Float32Array.from({ length: 8 * 2 * 16 }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return -1 + (4 * s) / 2 ** 31;
  });
})();

async function logits(m: Model): Promise<Float32Array> {
  const session = await createSession(encodeModel(m), { threads: 1 });
  try {
    return (await session.run({ x: new ort.Tensor('float32', X, [8, 2, 4, 4]) })).logits!.data as Float32Array;
  } finally {
    await session.release();
  }
}

async function optimizedOps(m: Model): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mutation-quant-graph-'));
  try {
    const file = path.join(dir, 'opt.onnx');
    const s = await createSession(encodeModel(m), { level: 'all', optimizedModelFilePath: file, threads: 1 });
    await s.release();
    return decodeModel(fs.readFileSync(file)).graph!.node!.map((n) => n.opType!).sort();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function qdq(opts: { exclude_layers?: string[] } = {}, type: 'uint8' | 'int8' = 'uint8', perChannel = true): Model {
  const { prepared, plan: p } = plan(convNet(), opts);
  const params = new Map<string, QParams>();
  for (const q of p.points) if (!q.alias) params.set(q.tensor, activationParams(RANGES[q.tensor as keyof typeof RANGES], type));
  return buildQdqModel(prepared.model, p, params, perChannel).model;
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

test('ONNX Runtime runs the QDQ convNet close to the float model (per channel, per tensor, int8, exclusions)', async () => {
  const ref = await logits(convNet());
  const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(scale > 0.5, `float logits ${scale}`);
  for (const [label, m, tol] of [
    ['per channel', qdq(), 0.01],
    ['per tensor', qdq({}, 'uint8', false), 0.01],
    ['int8 activations', qdq({}, 'int8'), 0.01],
    ['c2 and fc excluded', qdq({ exclude_layers: ['c2', 'fc'] }), 0.01],
  ] as const) {
    const got = await logits(m);
    assert.equal(got.length, 32, label);
    const d = maxDiff(got, ref);
    assert.ok(d < tol * scale, `${label}: max |int8 - fp32| ${d} vs logits up to ${scale}`);
    assert.ok(d > 0, `${label}: some rounding is expected`);
  }
});

test('ONNX Runtime fuses the QDQ convNet into integer kernels; excluded Conv and Gemm stay float', async () => {
  const all = await optimizedOps(qdq());
  const count = (ops: string[], op: string) => ops.filter((o) => o === op).length;
  assert.equal(count(all, 'QLinearConv'), 2);
  assert.equal(count(all, 'QLinearAdd'), 1);
  assert.equal(count(all, 'QLinearGlobalAveragePool'), 1);
  assert.equal(count(all, 'QGemm'), 1);
  assert.equal(count(all, 'Conv') + count(all, 'FusedConv') + count(all, 'Gemm'), 0);
  const ex = await optimizedOps(qdq({ exclude_layers: ['c2', 'fc'] }));
  assert.equal(count(ex, 'QLinearConv'), 1);
  assert.equal(count(ex, 'QGemm'), 0);
  assert.equal(count(ex, 'Conv') + count(ex, 'FusedConv'), 1);
  assert.equal(count(ex, 'Gemm') + count(ex, 'FusedGemm'), 1);
});

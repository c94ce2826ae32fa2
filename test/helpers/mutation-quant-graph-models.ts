// Tiny hand-built ONNX graphs for the quant-graph mutation tests (quant/plan.ts, quant/qdq.ts).
import { DataType, type Model, type Node, type Tensor, floatTensor, makeModel, node, valueInfo } from '../../plugins/modelzoo/src/lib/onnx/proto';
import { resolveInt8Options, type Int8Options } from '../../plugins/modelzoo/src/lib/quant/options';
import { type QuantPlan, planQuantization } from '../../plugins/modelzoo/src/lib/quant/plan';
import { type PreparedGraph, prepareGraph } from '../../plugins/modelzoo/src/lib/quant/prepare';

export const F = DataType.FLOAT;

export function graphModel(
  nodes: Node[],
  initializer: Tensor[],
  inputs: [string, (number | string)[]][] = [['x', [1, 2, 4, 4]]],
  outputs: [string, (number | string)[]][] = [['y', [1]]],
): Model {
  return makeModel(
    {
      name: 'g',
      node: nodes,
      initializer,
      input: inputs.map(([n, d]) => valueInfo(n, F, d)),
      output: outputs.map(([n, d]) => valueInfo(n, F, d)),
    },
    13,
  );
}

export const W1 = [1, -0.5, 0.25, 0.75, -2, 1]; // [3, 2, 1, 1]
export const B1 = [0.1, -0.2, 0.3];
export const W2 = Array.from({ length: 27 }, (_, i) => ((i * 7) % 11) / 10 - 0.5); // [3, 1, 3, 3] depthwise
export const B2 = [0, 0.5, -0.5];
export const WFC = Array.from({ length: 12 }, (_, i) => (i - 6) / 8); // [4, 3], transB = 1
export const BFC = [1, 2, 3, 4];

/**
 * x [1,2,4,4] -> c1 (1x1 Conv) -> r1 (Relu) -> c2 (depthwise 3x3 Conv, pads 1) -> clip6 (Clip 0..6)
 * -> add (r1 + clip6) -> gap (GlobalAveragePool) -> flat (Flatten) -> fc (Gemm, transB) -> logits.
 */
export function convNet(): Model {
  return graphModel(
    [
      node('Conv', ['x', 'w1', 'b1'], ['y1'], {}, 'c1'),
      node('Relu', ['y1'], ['y1r'], {}, 'r1'),
      node('Conv', ['y1r', 'w2', 'b2'], ['y2'], { group: 3, pads: [1, 1, 1, 1] }, 'c2'),
      node('Clip', ['y2', 'lo', 'hi'], ['y2c'], {}, 'clip6'),
      node('Add', ['y1r', 'y2c'], ['s'], {}, 'add'),
      node('GlobalAveragePool', ['s'], ['p'], {}, 'gap'),
      node('Flatten', ['p'], ['f'], { axis: 1 }, 'flat'),
      node('Gemm', ['f', 'wfc', 'bfc'], ['logits'], { transB: 1 }, 'fc'),
    ],
    [
      floatTensor('w1', [3, 2, 1, 1], Float32Array.from(W1)),
      floatTensor('b1', [3], Float32Array.from(B1)),
      floatTensor('w2', [3, 1, 3, 3], Float32Array.from(W2)),
      floatTensor('b2', [3], Float32Array.from(B2)),
      floatTensor('lo', [], Float32Array.of(0)),
      floatTensor('hi', [], Float32Array.of(6)),
      floatTensor('wfc', [4, 3], Float32Array.from(WFC)),
      floatTensor('bfc', [4], Float32Array.from(BFC)),
    ],
    [['x', ['N', 2, 4, 4]]],
    [['logits', ['N', 4]]],
  );
}

export function plan(model: Model, opts: Partial<Int8Options> = {}): { prepared: PreparedGraph; plan: QuantPlan } {
  const prepared = prepareGraph(model);
  return { prepared, plan: planQuantization(prepared, resolveInt8Options(opts as Record<string, unknown>)) };
}

/** A plan's points as plain objects (for deepEqual). */
export const pointsOf = (p: QuantPlan) => p.points.map((q) => ({ ...q }));

import { seededRandom } from '../../plugins/modelzoo/src/lib/onnx/mobilenetv2';
import { DataType, type Model, floatTensor, makeModel, node, onnx, valueInfo } from '../../plugins/modelzoo/src/lib/onnx/proto';
import type { CalibrationBatch, CalibrationSource } from '../../plugins/modelzoo/src/lib/quant/calibrate';
import { ort } from '../../plugins/modelzoo/src/lib/runtime/session';

/** Image side of the tiny models: [N, C, S, S] inputs. */
export const S = 4;

/**
 * A uint8 image model small enough to reason about by hand: x [N, 1, S, S] uint8 ->
 *   f = Cast(x); a = f - 100 (signed, 4-D); r = Relu(a) (>= 0, 4-D); flat = Flatten(r) [N, S*S] (2-D);
 *   out = ReduceSum(flat) [N, 1].
 */
export function tapModel(): Model {
  const graph = onnx.GraphProto.create({
    name: 'taps',
    node: [
      node('Cast', ['x'], ['f'], { to: DataType.FLOAT }, 'cast'),
      node('Sub', ['f', 'hundred'], ['a'], {}, 'sub'),
      node('Relu', ['a'], ['r'], {}, 'relu'),
      node('Flatten', ['r'], ['flat'], { axis: 1 }, 'flatten'),
      node('ReduceSum', ['flat', 'axes1'], ['out'], { keepdims: 1 }, 'sum'),
    ],
    initializer: [floatTensor('hundred', [], Float32Array.of(100)), onnx.TensorProto.create({ name: 'axes1', dims: [1], dataType: DataType.INT64, rawData: new Uint8Array(new BigInt64Array([1n]).buffer) })],
    input: [valueInfo('x', DataType.UINT8, ['N', 1, S, S])],
    output: [valueInfo('out', DataType.FLOAT, ['N', 1])],
  });
  return makeModel(graph, 13);
}

/**
 * A float classifier with the shapes quantization handles: input [N, 3, S, S] -> Conv 1x1 (or 3x3 padded
 * when `pad`) -> Clip(0, 6)
 * -> Conv 1x1 -> Add (with the Clip output) -> GlobalAveragePool -> Flatten -> Gemm -> logits [N, 3].
 */
export function tinyNet(seed = 1, pad = false): Model {
  const rand = seededRandom(seed);
  const w = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
  const graph = onnx.GraphProto.create({
    name: 'tiny',
    node: [
      pad
        ? node('Conv', ['input', 'w1', 'b1'], ['c1'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 'conv1')
        : node('Conv', ['input', 'w1', 'b1'], ['c1'], { kernel_shape: [1, 1] }, 'conv1'),
      node('Clip', ['c1', 'zero', 'six'], ['a1'], {}, 'relu6'),
      node('Conv', ['a1', 'w2', 'b2'], ['c2'], { kernel_shape: [1, 1] }, 'conv2'),
      node('Add', ['c2', 'a1'], ['sum'], {}, 'add'),
      node('GlobalAveragePool', ['sum'], ['gap'], {}, 'gap'),
      node('Flatten', ['gap'], ['flat'], { axis: 1 }, 'flatten'),
      node('Gemm', ['flat', 'wg', 'bg'], ['logits'], { transB: 1 }, 'fc'),
    ],
    initializer: [
      pad ? floatTensor('w1', [4, 3, 3, 3], w(108, 1.5)) : floatTensor('w1', [4, 3, 1, 1], w(12, 4)), // saturates the ReLU6
      floatTensor('b1', [4], w(4, 0.5)),
      floatTensor('zero', [], Float32Array.of(0)),
      floatTensor('six', [], Float32Array.of(6)),
      floatTensor('w2', [4, 4, 1, 1], w(16, 1)),
      floatTensor('b2', [4], w(4, 0.2)),
      floatTensor('wg', [3, 4], w(12, 1)),
      floatTensor('bg', [3], w(3, 0.1)),
    ],
    input: [valueInfo('input', DataType.FLOAT, ['N', 3, S, S])],
    output: [valueInfo('logits', DataType.FLOAT, ['N', 3])],
  });
  return makeModel(graph, 13);
}

/** Deterministic uint8 pixels for `n` images of [c, S, S]. */
export function pixels(n: number, c: number, seed: number): Uint8Array {
  const rand = seededRandom(seed);
  return Uint8Array.from({ length: n * c * S * S }, () => Math.floor(rand() * 256));
}

/** A re-iterable source of uint8 batches [b, c, S, S] (the last one may be smaller), recording passes. */
export function uint8Source(
  data: Uint8Array,
  c: number,
  batch: number,
  feedName = 'x',
  /** null: the source does not say how many images it holds. */
  images: number | null = data.length / (c * S * S),
): CalibrationSource & { passes: number; returned: number } {
  const per = c * S * S;
  const n = data.length / per;
  const src = {
    passes: 0,
    returned: 0,
    ...(images !== null ? { images } : {}),
    batches(): AsyncIterable<CalibrationBatch> {
      src.passes++;
      let b = 0;
      const it: AsyncIterator<CalibrationBatch> = {
        async next() {
          if (b >= n) return { done: true, value: undefined };
          const k = Math.min(batch, n - b);
          const t = new ort.Tensor('uint8', data.slice(b * per, (b + k) * per), [k, c, S, S]);
          b += k;
          return { done: false, value: { feeds: { [feedName]: t } } };
        },
        async return() {
          src.returned++;
          return { done: true, value: undefined };
        },
      };
      return { [Symbol.asyncIterator]: () => it };
    },
  };
  return src;
}

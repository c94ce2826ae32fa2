import { DataType, encodeModel, int64Tensor, makeModel, node, onnx, valueInfo } from '../../plugins/modelzoo/src/lib/onnx/proto';

/**
 * A real classifier of shape [N, classes] over uint8 [N, 3, size, size] images, run by ONNX Runtime:
 * its logits are the image's first `classes` pixels (Cast, Flatten, Slice), so it predicts the class
 * whose pixel is brightest and tests can place every prediction by writing pixels.
 */
export function pixelModel(classes: number, size: number): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: 'pixels',
    node: [
      node('Cast', ['input'], ['f'], { to: DataType.FLOAT }),
      node('Flatten', ['f'], ['flat'], { axis: 1 }),
      node('Slice', ['flat', 'starts', 'ends', 'axes'], ['logits']),
    ],
    initializer: [int64Tensor('starts', [1], [0]), int64Tensor('ends', [1], [classes]), int64Tensor('axes', [1], [1])],
    input: [valueInfo('input', DataType.UINT8, ['N', 3, size, size])],
    output: [valueInfo('logits', DataType.FLOAT, ['N', classes])],
  });
  return encodeModel(makeModel(graph, 13));
}

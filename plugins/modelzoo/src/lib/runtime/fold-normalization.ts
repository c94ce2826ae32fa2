import type { NormalizeSpec } from '../preprocess/spec';
import { DataType, type Model, floatTensor, int64Tensor, node, onnx, realInputs, valueInfo, valueInfoDims } from '../onnx/proto';

/**
 * Prepends the variant's normalization to the model so it takes the uint8 RGB CHW tensors dataset-prep
 * stores: Cast -> [channel flip] -> Mul(scale/std) -> Sub(mean/std). One stored dataset then serves every
 * variant with the same geometry, and the 4x smaller uint8 tensors are what is read during eval.
 */
export function foldNormalization(model: Model, norm: NormalizeSpec): Model {
  const out = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const graph = out.graph!;
  const input = realInputs(graph)[0]!;
  const oldName = input.name!;
  const dims = valueInfoDims(input);
  const newName = 'image_u8';
  const mul = new Float32Array(3);
  const sub = new Float32Array(3);
  for (let c = 0; c < 3; c++) {
    mul[c] = norm.scale / norm.std[c]!;
    sub[c] = norm.mean[c]! / norm.std[c]!;
  }
  const nodes: onnx.INodeProto[] = [node('Cast', [newName], ['image_f32'], { to: DataType.FLOAT }, 'normalize.cast')];
  let x = 'image_f32';
  if (norm.channelOrder === 'BGR') {
    graph.initializer!.push(int64Tensor('normalize.bgr_index', [3], [2, 1, 0]));
    nodes.push(node('Gather', [x, 'normalize.bgr_index'], ['image_bgr'], { axis: 1 }, 'normalize.bgr'));
    x = 'image_bgr';
  }
  graph.initializer!.push(floatTensor('normalize.mul', [1, 3, 1, 1], mul), floatTensor('normalize.sub', [1, 3, 1, 1], sub));
  nodes.push(node('Mul', [x, 'normalize.mul'], ['image_scaled'], {}, 'normalize.mul'));
  nodes.push(node('Sub', ['image_scaled', 'normalize.sub'], [oldName], {}, 'normalize.sub'));
  graph.node = [...nodes, ...(graph.node ?? [])];
  graph.input = [
    valueInfo(newName, DataType.UINT8, dims),
    ...(graph.input ?? []).filter((i) => i.name !== oldName),
  ];
  return out;
}

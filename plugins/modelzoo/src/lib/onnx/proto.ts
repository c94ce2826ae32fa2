import * as fs from 'node:fs/promises';
import { onnx } from 'onnx-proto';
import { readLimit } from '../common/limits';

export { onnx };
// The I-interfaces: what decode returns and what builders create both satisfy them.
export type Model = onnx.IModelProto;
export type Graph = onnx.IGraphProto;
export type Node = onnx.INodeProto;
export type Tensor = onnx.ITensorProto;

export const DataType = onnx.TensorProto.DataType;

export function decodeModel(bytes: Uint8Array, where = 'model'): onnx.ModelProto {
  checkDecodeBudget(bytes, where);
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new Error(`${where} is not a valid ONNX model: ${(err as Error).message}`);
  }
  checkTensorSizes(model, where);
  return model;
}

/**
 * What decoding a model would allocate, counted on the wire before protobufjs builds it. Decoding
 * amplifies: a 1-byte varint in a packed int64 field becomes a Long object, a 2-byte empty node a
 * NodeProto with its arrays, so a small file can claim gigabytes of heap. Every message, string,
 * bytes field and packed element counts as one value; raw tensor bytes are one value whatever their
 * size (they stay a view of the file).
 */
type Field = 'msg' | 'varints' | 'f32' | 'f64';
type Schema = Record<number, [Field, string?]>;
const WIRE: Record<string, Schema> = {
  Model: { 7: ['msg', 'Graph'], 20: ['msg', 'Training'], 25: ['msg', 'Function'] },
  Training: { 1: ['msg', 'Graph'], 2: ['msg', 'Graph'] },
  Function: { 7: ['msg', 'Node'], 11: ['msg', 'Attribute'] },
  Graph: { 1: ['msg', 'Node'], 5: ['msg', 'Tensor'], 15: ['msg', 'Sparse'], 11: ['msg', 'ValueInfo'], 12: ['msg', 'ValueInfo'], 13: ['msg', 'ValueInfo'] },
  Node: { 5: ['msg', 'Attribute'] },
  Attribute: {
    5: ['msg', 'Tensor'], 6: ['msg', 'Graph'], 10: ['msg', 'Tensor'], 11: ['msg', 'Graph'], 22: ['msg', 'Sparse'], 23: ['msg', 'Sparse'],
    14: ['msg', 'Type'], 15: ['msg', 'Type'], 7: ['f32'], 8: ['varints'],
  },
  Tensor: { 1: ['varints'], 4: ['f32'], 5: ['varints'], 7: ['varints'], 10: ['f64'], 11: ['varints'] },
  Sparse: { 1: ['msg', 'Tensor'], 2: ['msg', 'Tensor'], 3: ['varints'] },
  ValueInfo: { 2: ['msg', 'Type'] },
  Type: { 1: ['msg', 'TensorType'], 4: ['msg', 'TypeElem'], 5: ['msg', 'MapType'], 8: ['msg', 'TensorType'], 9: ['msg', 'TypeElem'] },
  TypeElem: { 1: ['msg', 'Type'] },
  MapType: { 2: ['msg', 'Type'] },
  TensorType: { 2: ['msg', 'Shape'] },
  Shape: { 1: ['msg', 'Dim'] },
  Dim: {},
};

export function maxOnnxValues(): number {
  return readLimit('MODELZOO_MAX_ONNX_VALUES', 8_000_000);
}

export function checkDecodeBudget(bytes: Uint8Array, where: string, budget = maxOnnxValues()): void {
  let values = 0;
  const refuse = (why: string): never => {
    throw new Error(`${where} is not a valid ONNX model: ${why}`);
  };
  const count = (n: number) => {
    values += n;
    if (values > budget) {
      throw new Error(
        `${where}: decoding would create more than ${budget} values (nodes, tensors, list elements); refused as a possible ` +
          `decompression bomb (set MODELZOO_MAX_ONNX_VALUES to raise the cap for a trusted file)`,
      );
    }
  };
  const varint = (p: number, end: number): [number, number] => {
    let v = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (p >= end) refuse('truncated varint');
      const b = bytes[p++]!;
      // Beyond 2^53 only the field length matters, and any such length is past the end anyway.
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return [v, p];
    }
    return refuse('varint longer than 10 bytes');
  };
  const walk = (type: string, start: number, end: number, depth: number): void => {
    if (depth > 64) refuse('messages nested more than 64 deep');
    const schema = WIRE[type]!;
    let p = start;
    while (p < end) {
      let tag: number;
      [tag, p] = varint(p, end);
      const field = Math.floor(tag / 8);
      switch (tag & 7) {
        case 0:
          [, p] = varint(p, end);
          count(1);
          break;
        case 1:
          p += 8;
          count(1);
          break;
        case 5:
          p += 4;
          count(1);
          break;
        case 2: {
          let len: number;
          [len, p] = varint(p, end);
          if (len > end - p) refuse(`field ${field} of a ${type} claims ${len} bytes, ${end - p} remain`);
          const [kind, sub] = schema[field] ?? [];
          if (kind === 'msg') {
            count(1);
            walk(sub!, p, p + len, depth + 1);
          } else if (kind === 'varints') {
            let n = 0;
            for (let i = p; i < p + len; i++) if (bytes[i]! < 0x80) n++;
            count(n);
          } else if (kind === 'f32') count(Math.ceil(len / 4));
          else if (kind === 'f64') count(Math.ceil(len / 8));
          else count(1);
          p += len;
          break;
        }
        default:
          refuse(`unsupported wire type ${tag & 7} in a ${type}`);
      }
      if (p > end) refuse(`truncated ${type}`);
    }
  };
  walk('Model', 0, bytes.length, 0);
}

/** Bytes per element by TensorProto.DataType (4-bit types: 0.5); absent for strings and unknown types. */
const ELEMENT_BYTES: Record<number, number> = {
  1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2,
  17: 1, 18: 1, 19: 1, 20: 1, 21: 0.5, 22: 0.5,
};

/**
 * Every tensor stored in the model (initializers and constant attributes, subgraphs included) must
 * hold exactly the bytes its dims declare, so nothing downstream sizes a buffer from dims alone (a
 * 1 KB file can declare a [1e6, 1e6] initializer). External data is refused: it would make the model
 * read other files, outside what the cache hashes.
 */
export function checkTensorSizes(model: Model, where: string): void {
  const seen = new Set<Graph>();
  const tensor = (t: Tensor, what: string) => {
    const name = `${where}: ${what} '${t.name ?? ''}'`;
    const dims = (t.dims ?? []).map((d) => Number(d));
    if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`${name} has invalid dims [${dims}]`);
    const n = dims.reduce((a, d) => a * d, 1);
    if (!Number.isSafeInteger(n)) throw new Error(`${name} declares dims [${dims}]: too many elements`);
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData ?? []).length > 0) {
      throw new Error(`${name} keeps its data in an external file; only self-contained models are read (save it with all tensors inside)`);
    }
    const width = ELEMENT_BYTES[t.dataType ?? 0];
    const raw = t.rawData?.length ?? 0;
    if (raw > 0) {
      if (width === undefined) throw new Error(`${name}: raw data for an unsupported data type ${t.dataType}`);
      const need = Math.ceil(n * width);
      if (raw !== need) throw new Error(`${name} declares dims [${dims}] (${need} bytes) but holds ${raw} bytes of data`);
      return;
    }
    const typed = [t.floatData, t.int32Data, t.int64Data, t.doubleData, t.uint64Data, t.stringData].reduce((a, v) => a + (v?.length ?? 0), 0);
    // Complex types store two values per element; int32_data packs the 16/8/4-bit types one per element.
    const perElement = t.dataType === 14 || t.dataType === 15 ? 2 : 1;
    if (typed > 0 && typed !== n * perElement) throw new Error(`${name} declares dims [${dims}] but holds ${typed} values`);
  };
  const graph = (g: Graph | null | undefined, what: string) => {
    if (!g || seen.has(g)) return;
    seen.add(g);
    for (const t of g.initializer ?? []) tensor(t, `${what} initializer`);
    for (const n of g.node ?? []) {
      for (const a of n.attribute ?? []) {
        if (a.t) tensor(a.t, `attribute ${a.name ?? ''} of node`);
        for (const t of a.tensors ?? []) tensor(t, `attribute ${a.name ?? ''} of node`);
        graph(a.g, 'subgraph');
        for (const sg of a.graphs ?? []) graph(sg, 'subgraph');
      }
    }
  };
  graph(model.graph, 'graph');
}

export async function loadModel(file: string): Promise<onnx.ModelProto> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    throw new Error(`cannot read ONNX model ${file}: ${(err as Error).message}`);
  }
  return decodeModel(bytes, file);
}

export function encodeModel(model: Model): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** Float32 values of an initializer, whether stored as raw_data or float_data. */
export function tensorToFloat32(t: Tensor): Float32Array {
  const n = dimsSize(t.dims);
  if (t.dataType !== DataType.FLOAT) throw new Error(`tensor ${t.name}: expected FLOAT, got data type ${t.dataType}`);
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData);
    return new Float32Array(copy.buffer, 0, n);
  }
  return Float32Array.from(t.floatData ?? []);
}

export function tensorToInt64(t: Tensor): bigint[] {
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData);
    return Array.from(new BigInt64Array(copy.buffer, 0, copy.length / 8));
  }
  return (t.int64Data ?? []).map((v) => BigInt(v.toString()));
}

export function dimsSize(dims: (number | Long)[] | null | undefined): number {
  return (dims ?? []).reduce<number>((a, d) => a * Number(d), 1);
}

type Long = { toString(): string };

export function floatTensor(name: string, dims: number[], data: Float32Array): Tensor {
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: DataType.FLOAT,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
}

export function int64Tensor(name: string, dims: number[], data: number[]): Tensor {
  const arr = BigInt64Array.from(data.map((v) => BigInt(v)));
  return onnx.TensorProto.create({ name, dims, dataType: DataType.INT64, rawData: new Uint8Array(arr.buffer) });
}

export function typedTensor(name: string, dims: number[], dataType: number, bytes: Uint8Array): Tensor {
  return onnx.TensorProto.create({ name, dims, dataType, rawData: bytes });
}

export type AttrValue = number | number[] | string | Tensor;

export function attr(name: string, value: AttrValue, forceFloat = false): onnx.AttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return onnx.AttributeProto.create({ name, type: A.STRING, s: Buffer.from(value) });
  if (Array.isArray(value)) return onnx.AttributeProto.create({ name, type: A.INTS, ints: value });
  if (typeof value === 'number') {
    if (forceFloat || !Number.isInteger(value)) return onnx.AttributeProto.create({ name, type: A.FLOAT, f: value });
    return onnx.AttributeProto.create({ name, type: A.INT, i: value });
  }
  return onnx.AttributeProto.create({ name, type: A.TENSOR, t: value });
}

export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, AttrValue> = {},
  name?: string,
  floatAttrs: string[] = [],
): Node {
  return onnx.NodeProto.create({
    opType,
    input: inputs,
    output: outputs,
    name: name ?? outputs[0],
    attribute: Object.entries(attrs).map(([k, v]) => attr(k, v, floatAttrs.includes(k))),
  });
}

export function getAttr(n: Node, name: string): onnx.IAttributeProto | undefined {
  return (n.attribute ?? []).find((a) => a.name === name);
}

export function getIntsAttr(n: Node, name: string, fallback: number[]): number[] {
  const a = getAttr(n, name);
  return a ? (a.ints ?? []).map(Number) : fallback;
}

export function getIntAttr(n: Node, name: string, fallback: number): number {
  const a = getAttr(n, name);
  return a ? Number(a.i) : fallback;
}

/** value_info for a tensor; a dim given as a string is symbolic (e.g. the batch 'N'). */
export function valueInfo(name: string, elemType: number, dims: (number | string)[]): onnx.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

/** Dims of a graph input/output: numbers, or the symbolic name for dynamic ones. */
export function valueInfoDims(v: onnx.IValueInfoProto): (number | string)[] {
  const dims = v.type?.tensorType?.shape?.dim ?? [];
  return dims.map((d) => (d.dimParam ? d.dimParam : d.dimValue != null ? Number(d.dimValue) : '?'));
}

export function makeModel(graph: Graph, opset: number, producer = 'modelzoo'): Model {
  return onnx.ModelProto.create({
    irVersion: 7,
    producerName: producer,
    producerVersion: '0.1.0',
    opsetImport: [{ domain: '', version: opset }],
    graph,
  });
}

export function modelOpset(model: Model): number {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? Number(entry.version) : 0;
}

/** Graph inputs that are not initializers (older exporters list weights as inputs too). */
export function realInputs(graph: Graph): onnx.IValueInfoProto[] {
  const inits = new Set((graph.initializer ?? []).map((t) => t.name));
  return (graph.input ?? []).filter((i) => !inits.has(i.name ?? ''));
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import { zipSync } from 'fflate';
import { type CheckpointFormat, FRAMEWORK_SEMANTICS, LAYOUT_PERM, keyMap, keyVariants } from '../../plugins/modelzoo/src/lib/checkpoints/mobilenetv2-keys';
import { architecture } from '../../plugins/modelzoo/src/lib/onnx/mobilenetv2';

/**
 * Hand-written pickles and torch.save containers for the checkpoint-file tests: each opcode spelled
 * out, so a test can build exactly the malformed stream it needs (the well-formed ones come from real
 * torch, test/fixtures/mutation-checkpoints-files/).
 */
export type Bytes = number[];

const latin1 = (s: string): Bytes => [...Buffer.from(s, 'latin1')];
const u32 = (n: number): Bytes => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];

export const P = {
  proto: [0x80, 2] as Bytes,
  stop: [0x2e] as Bytes,
  none: [0x4e] as Bytes,
  false: [0x89] as Bytes,
  /** BININT: a signed 32-bit int. */
  int: (n: number): Bytes => [0x4a, ...u32(n)],
  /** LONG1: any bigint, little-endian two's complement. */
  long: (n: bigint): Bytes => {
    const out: number[] = [];
    let v = n;
    for (;;) {
      const byte = Number(BigInt.asUintN(8, v));
      out.push(byte);
      v >>= 8n;
      if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break;
    }
    return [0x8a, out.length, ...out];
  },
  float: (x: number): Bytes => {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(x);
    return [0x47, ...b];
  },
  str: (s: string): Bytes => {
    const b = Buffer.from(s, 'utf8');
    return [0x58, ...u32(b.length), ...b];
  },
  global: (module: string, name: string): Bytes => [0x63, ...latin1(`${module}\n${name}\n`)],
  tuple: (...items: Bytes[]): Bytes => [0x28, ...items.flat(), 0x74],
  list: (...items: Bytes[]): Bytes => [0x28, ...items.flat(), 0x6c],
  dict: (pairs: [string, Bytes][]): Bytes => [0x7d, 0x28, ...pairs.flatMap(([k, v]) => [...P.str(k), ...v]), 0x75],
  reduce: (callable: Bytes, args: Bytes): Bytes => [...callable, ...args, 0x52],
  persid: (pid: Bytes): Bytes => [...pid, 0x51],
  /** A whole pickle (protocol 2) of one value. */
  pickle: (value: Bytes): Uint8Array => Uint8Array.from([...P.proto, ...value, ...P.stop]),
};

/** The zip layout's persistent id: ('storage', torch.<type>, key, 'cpu', numel). */
export const zipStorage = (key: string, numel: number, type = 'FloatStorage'): Bytes =>
  P.persid(P.tuple(P.str('storage'), P.global('torch', type), P.str(key), P.str('cpu'), P.int(numel)));

/** torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks). */
export const tensor = (storage: Bytes, offset: number, shape: number[], strides: number[], fn = '_rebuild_tensor_v2'): Bytes =>
  P.reduce(P.global('torch._utils', fn), P.tuple(storage, P.int(offset), P.tuple(...shape.map(P.int)), P.tuple(...strides.map(P.int)), P.false));

/** A torch.save zip: `<root>data.pkl`, storages under `<root>data/`, stored (uncompressed) like torch writes. */
export function torchZip(pkl: Uint8Array, storages: Record<string, Uint8Array>, root = 'archive/', extra: Record<string, Uint8Array> = {}): Uint8Array {
  const files: Record<string, Uint8Array> = { [`${root}data.pkl`]: pkl, ...extra };
  for (const [k, v] of Object.entries(storages)) files[`${root}data/${k}`] = v;
  return zipSync(files, { level: 0 });
}

export const f32 = (...xs: number[]): Uint8Array => new Uint8Array(Float32Array.from(xs).buffer);

export const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const SYS_INFO = P.dict([['protocol_version', P.int(1001)], ['little_endian', [0x88]]]);

/** The legacy persistent id: ('storage', torch.<type>, root key, 'cpu', numel, view metadata or None). */
export const legacyStorage = (key: string, numel: number, view: Bytes = P.none, type = 'FloatStorage'): Bytes =>
  P.persid(P.tuple(P.str('storage'), P.global('torch', type), P.str(key), P.str('cpu'), P.int(numel), view));

/**
 * A legacy torch.save stream: magic, protocol, sys info, the object pickle, the key list, then per
 * storage an int64 element count and its bytes. `declared` overrides a storage's element count.
 */
export function legacyStream(
  main: Bytes,
  storages: [string, Uint8Array, number?][],
  opts: { magic?: bigint; protocol?: number; keys?: Bytes } = {},
): Uint8Array {
  const parts: Uint8Array[] = [
    P.pickle(P.long(opts.magic ?? LEGACY_MAGIC)),
    P.pickle(P.int(opts.protocol ?? 1001)),
    P.pickle(SYS_INFO),
    P.pickle(main),
    P.pickle(opts.keys ?? P.list(...storages.map(([k]) => P.str(k)))),
  ];
  for (const [, bytes, declared] of storages) {
    const n = Buffer.alloc(8);
    n.writeBigInt64LE(BigInt(declared ?? bytes.length / 4));
    parts.push(n, bytes);
  }
  return Buffer.concat(parts);
}

/** Every tensor of a MobileNetV2 checkpoint in `format`'s own keys and stored layout, in the builder's order. */
export function mobilenetTensors(format: CheckpointFormat, width: number, classes: number, variant = keyVariants(format)[0]!): [string, number[]][] {
  const sem = FRAMEWORK_SEMANTICS[format];
  const arch = architecture({ width, classes, rounding: sem.rounding ?? 'torchvision', expandT1: sem.expandT1 });
  const out: [string, number[]][] = [];
  for (const [canonical, e] of keyMap(variant, arch)) {
    const [layer, kind] = canonical.split(':') as [string, string];
    let shape: number[];
    if (layer === 'fc') shape = kind === 'weight' ? [classes, arch.lastChannel] : [classes];
    else {
      const c = arch.convs.find((x) => x.name === layer)!;
      shape = kind === 'weight' ? [c.outC, c.inC / c.groups, c.kernel, c.kernel] : [c.outC];
    }
    if (e.layout !== 'same') {
      const perm = LAYOUT_PERM[e.layout];
      const stored = new Array<number>(shape.length);
      perm.forEach((p, i) => (stored[p] = shape[i]!));
      shape = stored;
    }
    out.push([e.key, shape]);
  }
  return out;
}

/**
 * A torch zip holding a whole MobileNetV2 state dict in a few KB: every tensor is a stride-0 view of
 * one float (the loader binds keys and shapes; values are only read when a graph is built).
 */
export function mobilenetZip(format: CheckpointFormat, width: number, classes: number, opts: { wrap?: string; drop?: string; extra?: string } = {}): Uint8Array {
  const tensors = mobilenetTensors(format, width, classes).filter(([k]) => k !== opts.drop);
  if (opts.extra) tensors.push([opts.extra, [1]]);
  const entries: [string, Bytes][] = tensors.map(([k, shape]) => [k, tensor(zipStorage('0', 1), 0, shape, shape.map(() => 0))]);
  const sd = P.dict(entries);
  const pkl = P.pickle(opts.wrap ? P.dict([[opts.wrap, sd]]) : sd);
  return torchZip(pkl, { '0': f32(0.5) });
}

/** The bits of h5wasm's writer the tests use (h5wasm ships ESM only; its node build is require()d by path). */
export interface H5Group {
  create_group(name: string): void;
  get(name: string): H5Group | null;
  create_attribute(name: string, data: unknown, shape?: number[] | null, dtype?: string | null): void;
  create_dataset(args: { name: string; data: unknown; shape?: number[]; dtype?: string }): void;
}
interface H5Writer extends H5Group {
  close(): void;
}

let h5: Promise<{ File: new (file: string, mode: string) => H5Writer }> | undefined;

/** Writes an HDF5 file with h5wasm (the reader's own library), for layouts no Keras would write. */
export async function writeH5(file: string, build: (root: H5Group) => void): Promise<void> {
  h5 ??= (async () => {
    // Found upwards, as keras-h5.ts does (under Stryker the sandbox has no node_modules of its own).
    let d = __dirname;
    while (!fs.existsSync(path.join(d, 'node_modules', 'h5wasm'))) {
      if (path.dirname(d) === d) throw new Error('h5wasm is not installed');
      d = path.dirname(d);
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const m = require(path.join(d, 'node_modules', 'h5wasm', 'dist', 'node', 'hdf5_hl.js'));
    await m.ready;
    return m;
  })();
  const f = new (await h5).File(file, 'w');
  try {
    build(f);
  } finally {
    f.close();
  }
}

/** A Keras layer group: `weight_names` and one dataset per weight (subgroups made first, as h5py would). */
export function kerasLayer(root: H5Group, layer: string, weights: [string, Float32Array | Float64Array | Int32Array | number, number[], string?][]): void {
  root.create_group(layer);
  const g = root.get(layer)!;
  if (weights.length) g.create_attribute('weight_names', weights.map(([n]) => n));
  for (const [n, data, shape, dtype] of weights) {
    const parts = n.split('/');
    for (let i = 1; i < parts.length; i++) {
      const sub = parts.slice(0, i).join('/');
      if (!g.get(sub)) g.create_group(sub);
    }
    g.create_dataset(typeof data === 'number' ? { name: n, data, dtype: dtype! } : { name: n, data, shape });
  }
}

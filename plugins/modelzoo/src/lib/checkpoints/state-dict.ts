import { NdArray } from './ndarray';
import { asNdArray } from './numpy-globals';

/** Tensors by the framework's own key, in file order. */
export type StateDict = Map<string, NdArray>;

/** Keys that wrap a state dict in training checkpoints, most specific first. */
const WRAPPERS = ['state_dict', 'model_state_dict', 'model', 'net', 'params'];

/**
 * The tensors of a loaded checkpoint, whether it is a bare state dict or a checkpoint wrapping one
 * (mmcv's `{state_dict, meta}`, timm's `{state_dict, state_dict_ema, args}`, `{model: ...}`).
 * DataParallel's `module.` prefix is dropped; non-tensor entries (Paddle's name table) are skipped.
 */
export function extractStateDict(obj: unknown, where: string): { state: StateDict; wrapper?: string; meta?: unknown } {
  if (!(obj instanceof Map)) throw new Error(`${where}: expected a dict of tensors at the top level, got ${describe(obj)}`);
  let dict: Map<unknown, unknown> = obj;
  let wrapper: string | undefined;
  if (!hasTensors(obj)) {
    for (const k of WRAPPERS) {
      const v = obj.get(k);
      if (v instanceof Map && hasTensors(v)) {
        dict = v;
        wrapper = k;
        break;
      }
    }
    if (!wrapper) {
      const keys = [...obj.keys()].map(String).join(', ');
      throw new Error(`${where}: no state dict found (top-level keys: ${keys || 'none'}; looked for ${WRAPPERS.join(', ')})`);
    }
  }
  const state: StateDict = new Map();
  for (const [k, v] of dict) {
    const a = asNdArray(v);
    if (a && typeof k === 'string') state.set(k, a);
  }
  // A wrapper's sibling `meta` (mmcv) comes along; a bare state dict has none, prefixed or not.
  const meta = wrapper ? obj.get('meta') : undefined;
  if ([...state.keys()].every((k) => k.startsWith('module.'))) {
    return { state: new Map([...state].map(([k, v]) => [k.slice('module.'.length), v])), wrapper, meta };
  }
  return { state, wrapper, meta };
}

function hasTensors(m: Map<unknown, unknown>): boolean {
  for (const v of m.values()) if (asNdArray(v)) return true;
  return false;
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof NdArray) return 'a single tensor';
  return typeof v;
}

/** A view with axes reordered (no copy): checkpoint layouts differ from ONNX's only by transposition. */
export function permute(a: NdArray, perm: number[]): NdArray {
  if (perm.length !== a.shape.length) throw new Error(`cannot permute a ${a.shape.length}-d tensor with [${perm}]`);
  return new NdArray(
    a.storage,
    perm.map((p) => a.shape[p]!),
    perm.map((p) => a.strides[p]!),
    a.offset,
    a.littleEndian,
  );
}

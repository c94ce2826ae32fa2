import { type Architecture, type MobileNetV2Options, type WeightSource, architecture } from '../onnx/mobilenetv2';
import type { NdArray } from './ndarray';
import { type CheckpointFormat, FRAMEWORK_SEMANTICS, IGNORED_KEY, type KeyEntry, LAYOUT_PERM, keyMap, keyVariants } from './mobilenetv2-keys';
import { type StateDict, permute } from './state-dict';

/** Widths tried, in order, when the caller does not say (the model zoos' published multipliers). */
export const KNOWN_WIDTHS = [1.0, 0.75, 0.5, 0.35, 0.25, 1.3, 1.4, 1.5, 2.0];

export interface Binding {
  weights: WeightSource;
  width: number;
  classes: number;
  /** Which key naming matched (Paddle has two). */
  keys: string;
  arch: Architecture;
}

interface Attempt {
  variant: string;
  width: number;
  missing: string[];
  unknown: string[];
  mismatched: string[];
  classes?: number;
}

function expectedShape(arch: Architecture, canonical: string, classes: number): number[] {
  const [layer, kind] = canonical.split(':') as [string, string];
  if (layer === 'fc') return kind === 'weight' ? [classes, arch.lastChannel] : [classes];
  const c = arch.convs.find((x) => x.name === layer)!;
  return kind === 'weight' ? [c.outC, c.inC / c.groups, c.kernel, c.kernel] : [c.outC];
}

function view(a: NdArray, e: KeyEntry): NdArray {
  return e.layout === 'same' ? a : permute(a, LAYOUT_PERM[e.layout]);
}

function attempt(state: StateDict, format: CheckpointFormat, variant: string, width: number, classes?: number): Attempt & { map: Map<string, KeyEntry>; arch: Architecture } {
  const sem = FRAMEWORK_SEMANTICS[format];
  const probe = architecture({ width, classes: 1, rounding: sem.rounding ?? 'torchvision', expandT1: sem.expandT1 });
  const map = keyMap(variant, probe);
  const fcBias = state.get(map.get('fc:bias')!.key);
  const cls = classes ?? (fcBias && fcBias.shape.length === 1 ? fcBias.shape[0] : undefined);
  const arch = { ...probe, classes: cls ?? 1 };
  const used = new Set<string>();
  const missing: string[] = [];
  const mismatched: string[] = [];
  for (const [canonical, e] of map) {
    const a = state.get(e.key);
    if (!a) {
      missing.push(e.key);
      continue;
    }
    used.add(e.key);
    const want = expectedShape(arch, canonical, arch.classes);
    const got = e.layout === 'same' || a.shape.length !== LAYOUT_PERM[e.layout].length ? a.shape : view(a, e).shape;
    if (got.join(',') !== want.join(',')) mismatched.push(`${e.key}: [${a.shape}] (expected [${want}]${e.layout === 'same' ? '' : ` after ${e.layout} transpose`})`);
  }
  const unknown = [...state.keys()].filter((k) => !used.has(k) && !IGNORED_KEY[format].test(k));
  return { variant, width, missing, unknown, mismatched, classes: cls, map, arch };
}

const list = (xs: string[], max = 12) => xs.slice(0, max).join(', ') + (xs.length > max ? `, ... (${xs.length} in all)` : '');

/**
 * Maps a framework state dict onto the builder's canonical layers. Width and class count are read
 * from the tensors when not given; any missing, unknown or mis-shaped key is an error that lists them.
 */
export function bindWeights(
  state: StateDict,
  format: CheckpointFormat,
  where: string,
  opts: { width?: number; classes?: number } = {},
): Binding {
  const widths = opts.width !== undefined ? [opts.width] : KNOWN_WIDTHS;
  let best: ReturnType<typeof attempt> | undefined;
  for (const variant of keyVariants(format)) {
    for (const width of widths) {
      const a = attempt(state, format, variant, width, opts.classes);
      const score = a.missing.length + a.unknown.length + a.mismatched.length;
      if (score === 0) return finish(state, a);
      const bestScore = best ? best.missing.length + best.unknown.length + best.mismatched.length : Infinity;
      if (score < bestScore) best = a;
    }
  }
  const b = best!;
  const parts = [`${where}: does not match ${format} MobileNetV2 (width ${opts.width ?? `tried ${widths.join('/')}; closest ${b.width}`})`];
  if (b.missing.length) parts.push(`missing keys: ${list(b.missing)}`);
  if (b.unknown.length) parts.push(`unknown keys: ${list(b.unknown)}`);
  if (b.mismatched.length) parts.push(`shape mismatches: ${list(b.mismatched, 6)}`);
  throw new Error(parts.join('\n  '));
}

function finish(state: StateDict, a: ReturnType<typeof attempt>): Binding {
  const weights: WeightSource = (layer, kind, shape) => {
    const e = a.map.get(`${layer}:${kind}`);
    if (!e) throw new Error(`no checkpoint tensor for ${layer} ${kind}`);
    const arr = view(state.get(e.key)!, e);
    if (arr.shape.join(',') !== shape.join(',')) {
      throw new Error(`${e.key}: shape [${arr.shape}] does not fit ${layer} ${kind} [${shape}]`);
    }
    return arr.toFloat32();
  };
  return { weights, width: a.width, classes: a.arch.classes, keys: a.variant, arch: a.arch };
}

export type { MobileNetV2Options };

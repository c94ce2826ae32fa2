import { readLimit } from '../common/limits';

/**
 * A pickle reader that never runs code. Python's pickle executes any callable a file names (GLOBAL +
 * REDUCE), which is how a malicious checkpoint runs `os.system`; here a global is only resolved through
 * an allowlist of JS emulations (tensor/storage rebuild, OrderedDict, numpy reconstruction, dtypes), and
 * anything else stops the load with an error naming it. Python values map to JS as: dict -> Map,
 * list/tuple -> Array, str -> string, bytes -> Uint8Array, int -> number (bigint beyond 2^53),
 * None -> null.
 */
export class UnpicklingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnpicklingError';
  }
}

/** An allowlisted Python callable/class, emulated in JS. */
export interface PyGlobal {
  readonly qualname: string;
  call(args: unknown[], kwargs?: Map<unknown, unknown>): unknown;
}

/** Objects that accept pickle's BUILD (their __setstate__). */
export const SETSTATE = Symbol('setstate');
export interface Buildable {
  [SETSTATE](state: unknown): void;
}

/** An inert stand-in for an allowlisted plain-data class (e.g. argparse.Namespace). */
export class PyObject implements Buildable {
  state: unknown = undefined;
  constructor(
    readonly qualname: string,
    readonly args: unknown[] = [],
  ) {}
  [SETSTATE](state: unknown): void {
    this.state = state;
  }
}

export type GlobalTable = Record<string, PyGlobal>;

export function pyGlobal(qualname: string, call: PyGlobal['call']): PyGlobal {
  return { qualname, call };
}

/** Globals safe for any checkpoint: pure data containers. */
export const BASE_GLOBALS: GlobalTable = {
  'collections.OrderedDict': pyGlobal('collections.OrderedDict', (args) => {
    const m = new OrderedDict();
    const items = args[0];
    if (Array.isArray(items)) for (const kv of items) if (Array.isArray(kv)) m.set(kv[0], kv[1]);
    return m;
  }),
  // Protocol-2 pickles written by Python 3 spell bytes as _codecs.encode(str, 'latin1').
  '_codecs.encode': pyGlobal('_codecs.encode', (args) => {
    const [s, enc] = args;
    if (typeof s !== 'string' || !(enc === 'latin1' || enc === 'latin-1')) {
      throw new UnpicklingError(`_codecs.encode is only allowed for latin1 strings (got encoding ${String(enc)})`);
    }
    return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
  }),
  'builtins.set': pyGlobal('builtins.set', (args) => new Set(Array.isArray(args[0]) ? args[0] : [])),
  'builtins.frozenset': pyGlobal('builtins.frozenset', (args) => new Set(Array.isArray(args[0]) ? args[0] : [])),
  'builtins.bytearray': pyGlobal('builtins.bytearray', (args) => toBytes(args[0])),
  'builtins.bytes': pyGlobal('builtins.bytes', (args) => toBytes(args[0])),
  // Protocols <= 2 have no bytes opcode, and an EMPTY bytes object has no latin1 string to encode: Python 3
  // writes it as py2's __builtin__.bytes called with an empty tuple (numpy does, for an empty array's
  // data). Only that call is allowed: bytes(n) would allocate n zero bytes (a memory bomb), and Python
  // writes no other argument.
  '__builtin__.bytes': pyGlobal('__builtin__.bytes', (args, kwargs) => {
    if (args.length > 0 || kwargs) {
      throw new Error(`only bytes() with no arguments is allowed (Python's b'' at protocol <= 2), got ${args.length} argument(s)${kwargs ? ' and keywords' : ''}`);
    }
    return new Uint8Array(0);
  }),
  'builtins.slice': pyGlobal('builtins.slice', (args) => new PyObject('builtins.slice', args)),
  // Training checkpoints (timm, mmcv) keep their argparse namespace / config; inert data here.
  'argparse.Namespace': pyGlobal('argparse.Namespace', (args) => new PyObject('argparse.Namespace', args)),
};

function toBytes(v: unknown): Uint8Array {
  if (v == null) return new Uint8Array(0);
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return Uint8Array.from(v, (c) => c.charCodeAt(0) & 0xff);
  if (Array.isArray(v)) return Uint8Array.from(v as number[]);
  // A plain Error: invoke() adds the file, the global and the offset.
  throw new Error(`cannot make bytes from ${typeof v}`);
}

/** A dict whose pickled __dict__ (e.g. torch's `_metadata`) is kept aside, not merged into its items. */
export class OrderedDict extends Map<unknown, unknown> implements Buildable {
  attributes: unknown = undefined;
  [SETSTATE](state: unknown): void {
    this.attributes = state;
  }
}

export interface UnpickleOptions {
  globals: GlobalTable;
  /** torch's persistent ids (storages); absent means a persistent id is an error. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Names the file in errors. */
  where: string;
}

const MARK = Symbol('mark');

/** Reads one pickle starting at `start`; returns the value and the offset just past its STOP. */
export function unpickle(data: Uint8Array, opts: UnpickleOptions, start = 0): { value: unknown; end: number } {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = start;
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  const fail = (msg: string): never => {
    throw new UnpicklingError(`${opts.where}: ${msg} (pickle offset ${pos})`);
  };
  const need = (n: number) => {
    if (pos + n > data.length) fail('truncated pickle');
  };
  const u8 = () => (need(1), data[pos++]!);
  const u16 = () => (need(2), (pos += 2), dv.getUint16(pos - 2, true));
  const i32 = () => (need(4), (pos += 4), dv.getInt32(pos - 4, true));
  const u32 = () => (need(4), (pos += 4), dv.getUint32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('length too large');
    return Number(v);
  };
  const bytes = (n: number) => {
    // BINSTRING/BINBYTES lengths are signed on the wire: a negative one would walk pos backwards.
    if (n < 0) fail(`negative length ${n}`);
    need(n);
    const b = data.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = () => {
    const nl = data.indexOf(0x0a, pos);
    if (nl === -1) fail('unterminated text line');
    const s = Buffer.from(data.subarray(pos, nl)).toString('latin1');
    pos = nl + 1;
    return s;
  };
  const utf8 = (b: Uint8Array) => Buffer.from(b).toString('utf8');
  const pop = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack.pop();
    if (v === MARK) fail('unexpected mark');
    return v;
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail('mark not found');
    const items = stack.splice(i);
    items.shift();
    return items;
  };
  const resolve = (module: string, name: string): PyGlobal => {
    const key = `${module}.${name}`;
    const g = Object.prototype.hasOwnProperty.call(opts.globals, key) ? opts.globals[key] : undefined;
    if (!g) {
      fail(
        `refusing to load global '${key}': a checkpoint may only reference allowlisted globals ` +
          `(tensor/storage rebuild, OrderedDict, numpy array reconstruction and dtypes); this file could run code`,
      );
    }
    return g!;
  };
  const callable = (f: unknown, what: string): PyGlobal => {
    if (f && typeof f === 'object' && 'qualname' in f && typeof (f as PyGlobal).call === 'function') return f as PyGlobal;
    return fail(`${what} on a value that is not an allowlisted global`);
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) fail('SETITEM(S) on a value that is not a dict');
    for (let i = 0; i + 1 < items.length; i += 2) (target as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]) => {
    if (Array.isArray(target)) target.push(...items);
    else if (target instanceof Set) for (const it of items) target.add(it);
    else fail('APPEND(S) on a value that is not a list');
  };
  const longFromBytes = (b: Uint8Array): number | bigint => {
    // An empty LONG1 is 0: the loop adds nothing and there is no sign byte.
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if ((b[b.length - 1] ?? 0) & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  // Each opcode makes at most one new object, but a 1-byte EMPTY_DICT costs ~200 bytes of heap: the
  // opcode budget bounds the heap a pickle can claim, whatever the file size allows.
  const maxOps = readLimit('MODELZOO_MAX_PICKLE_OPS', 1_000_000);
  let ops = 0;
  for (;;) {
    if (++ops > maxOps) fail(`more than ${maxOps} pickle operations; refused (set MODELZOO_MAX_PICKLE_OPS to raise the cap for a trusted file)`);
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('unsupported pickle protocol');
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x74: // TUPLE
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x64: {
        // DICT
        const m = new Map();
        setItems(m, popMark());
        stack.push(m);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new Set(popMark()));
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(longFromBytes(bytes(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) fail('negative LONG4 length');
        stack.push(longFromBytes(bytes(n)));
        break;
      }
      case 0x49: {
        // INT (text)
        const s = line();
        if (s === '01') stack.push(true);
        else if (s === '00') stack.push(false);
        else stack.push(parseIntStrict(s, fail));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(parseIntStrict(line().replace(/L$/, ''), fail));
        break;
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x46: // FLOAT (text)
        stack.push(Number.parseFloat(line()));
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8(bytes(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(bytes(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(bytes(u64())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape text)
        stack.push(line().replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))));
        break;
      case 0x53: {
        // STRING (repr-quoted)
        const s = line();
        const q = s[0];
        if ((q !== "'" && q !== '"') || s[s.length - 1] !== q) fail('malformed STRING');
        stack.push(unescapePy(s.slice(1, -1)));
        break;
      }
      case 0x54: // BINSTRING (py2 str: bytes read as latin1 text)
        stack.push(Buffer.from(bytes(i32())).toString('latin1'));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(Buffer.from(bytes(u8())).toString('latin1'));
        break;
      case 0x42: // BINBYTES
        stack.push(bytes(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bytes(u8()));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(bytes(u64()));
        break;
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        fail('out-of-band pickle buffers are not supported');
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: // PUT
        memo.set(parseIntStrict(line(), fail) as number, top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68:
      case 0x6a:
      case 0x67: {
        // BINGET, LONG_BINGET, GET
        const k = op === 0x68 ? u8() : op === 0x6a ? u32() : (parseIntStrict(line(), fail) as number);
        if (!memo.has(k)) fail(`memo key ${k} missing`);
        stack.push(memo.get(k));
        break;
      }
      case 0x30: // POP
        if (stack.pop() === undefined) fail('stack underflow');
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(resolve(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const f = callable(pop(), 'REDUCE');
        if (!Array.isArray(args)) fail(`REDUCE ${f.qualname}: arguments are not a tuple`);
        stack.push(invoke(f, args as unknown[], undefined, fail));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = callable(pop(), 'NEWOBJ');
        stack.push(invoke(cls, Array.isArray(args) ? args : [], undefined, fail));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = callable(pop(), 'NEWOBJ_EX');
        stack.push(invoke(cls, Array.isArray(args) ? args : [], kwargs instanceof Map ? kwargs : undefined, fail));
        break;
      }
      case 0x6f: {
        // OBJ
        const items = popMark();
        const cls = callable(items.shift(), 'OBJ');
        stack.push(invoke(cls, items, undefined, fail));
        break;
      }
      case 0x69: {
        // INST
        const cls = resolve(line(), line());
        stack.push(invoke(cls, popMark(), undefined, fail));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (obj && typeof obj === 'object' && SETSTATE in obj) (obj as Buildable)[SETSTATE](state);
        else fail('BUILD on an object that takes no state');
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail('persistent id in a pickle that should have none');
        stack.push(opts.persistentLoad!(pid));
        break;
      }
      case 0x50: {
        // PERSID
        const pid = line();
        if (!opts.persistentLoad) fail('persistent id in a pickle that should have none');
        stack.push(opts.persistentLoad!(pid));
        break;
      }
      case 0x82:
      case 0x83:
      case 0x84:
        fail('extension-registry opcodes (EXT1/2/4) are refused');
        break;
      default:
        fail(`unknown pickle opcode 0x${op.toString(16)}`);
    }
  }
}

function invoke(f: PyGlobal, args: unknown[], kwargs: Map<unknown, unknown> | undefined, fail: (m: string) => never): unknown {
  try {
    return f.call(args, kwargs);
  } catch (err) {
    if (err instanceof UnpicklingError) throw err;
    return fail(`${f.qualname}: ${(err as Error).message}`);
  }
}

function parseIntStrict(s: string, fail: (m: string) => never): number | bigint {
  const t = s.trim();
  if (!/^[+-]?\d+$/.test(t)) return fail(`malformed integer '${s}'`);
  const b = BigInt(t);
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

function unescapePy(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|[\\'"nrt0])/g, (_, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    return ({ n: '\n', r: '\r', t: '\t', '0': '\0' } as Record<string, string>)[e] ?? e;
  });
}

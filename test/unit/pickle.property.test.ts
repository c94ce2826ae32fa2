import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runs } from '../helpers/property';
import { type GlobalTable, UnpicklingError, unpickle } from '../../plugins/modelzoo/src/lib/checkpoints/pickle';
import { TORCH_GLOBALS } from '../../plugins/modelzoo/src/lib/checkpoints/torch-file';

const ALLOWED = Object.keys(TORCH_GLOBALS);
const HOSTILE = ['builtins.getattr', 'builtins.eval', 'builtins.exec', 'os.system', 'posix.system', 'subprocess.Popen', 'builtins.__import__', 'torch.load', 'builtins.constructor', 'builtins.__proto__'];

/** The allowlist with every call recorded, so a run shows which callables a pickle reached. */
function recording(calls: string[]): GlobalTable {
  const t: GlobalTable = {};
  for (const [k, g] of Object.entries(TORCH_GLOBALS)) t[k] = { ...g, call: (a, kw) => (calls.push(k), g.call(a, kw)) };
  return t;
}

const latin1 = (s: string) => [...Buffer.from(s, 'latin1')];
const u32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
const qualified = fc.constantFrom(...ALLOWED, ...HOSTILE).map((k) => [k.slice(0, k.lastIndexOf('.')), k.slice(k.lastIndexOf('.') + 1)] as const);

// Every opcode the reader knows, with plausible arguments, plus raw random bytes: a stream of these
// exercises the stack machine far beyond the pickles real checkpoints hold.
const op: fc.Arbitrary<number[]> = fc.oneof(
  fc.constantFrom(
    ...[0x28, 0x7d, 0x5d, 0x29, 0x8f, 0x74, 0x6c, 0x85, 0x86, 0x87, 0x64, 0x91, 0x90, 0x61, 0x65, 0x73, 0x75, 0x4e, 0x88, 0x89,
      0x30, 0x31, 0x32, 0x94, 0x52, 0x81, 0x92, 0x6f, 0x62, 0x51, 0x82, 0x97, 0x2e].map((o) => [o]),
  ),
  fc.integer({ min: 0, max: 255 }).map((n) => [0x4b, n]),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((n) => [0x4a, ...u32(n)]),
  fc.integer({ min: 0, max: 4 }).map((n) => [0x71, n]),
  fc.integer({ min: 0, max: 4 }).map((n) => [0x68, n]),
  fc.string({ maxLength: 6 }).map((s) => [0x8c, Buffer.byteLength(s), ...Buffer.from(s)]),
  fc.string({ maxLength: 6 }).map((s) => [0x58, ...u32(Buffer.byteLength(s)), ...Buffer.from(s)]),
  fc.uint8Array({ maxLength: 6 }).map((b) => [0x43, b.length, ...b]),
  qualified.map(([m, n]) => [0x63, ...latin1(`${m}\n${n}\n`)]),
  qualified.map(([m, n]) => [0x8c, m.length, ...latin1(m), 0x8c, n.length, ...latin1(n), 0x93]),
  qualified.map(([m, n]) => [0x28, 0x69, ...latin1(`${m}\n${n}\n`)]),
  fc.constantFrom('0\n', '-12\n', '01\n', 'x\n').map((s) => [0x49, ...latin1(s)]),
  fc.uint8Array({ minLength: 1, maxLength: 4 }).map((b) => [...b]),
);

test('property: random op streams end in a value or an UnpicklingError, reach only allowlisted callables, never hang', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), fc.boolean(), (ops, stop) => {
      const data = Uint8Array.from([0x80, 2, ...ops.flat(), ...(stop ? [0x2e] : [])]);
      const calls: string[] = [];
      const started = process.hrtime.bigint();
      try {
        const { end } = unpickle(data, { globals: recording(calls), where: 'fuzz.pkl' });
        assert.ok(end <= data.length);
      } catch (err) {
        assert.ok(err instanceof UnpicklingError, `only UnpicklingError escapes, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
        assert.ok(err.message.length > 0);
      }
      for (const c of calls) assert.ok(ALLOWED.includes(c), `called ${c}`);
      assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 1000, 'one small pickle takes well under a second');
    }),
    { numRuns: runs(2000) },
  );
});

test('property: a stream that names a global outside the allowlist fails naming it, before anything runs after it', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 10 }), fc.constantFrom(...HOSTILE), fc.boolean(), (prefix, hostile, stackGlobal) => {
      const dot = hostile.lastIndexOf('.');
      const [m, n] = [hostile.slice(0, dot), hostile.slice(dot + 1)];
      const g = stackGlobal ? [0x8c, m.length, ...latin1(m), 0x8c, n.length, ...latin1(n), 0x93] : [0x63, ...latin1(`${m}\n${n}\n`)];
      // the hostile global, then a call of it: REDUCE with an empty tuple, then STOP
      const data = Uint8Array.from([0x80, 2, ...prefix.flat(), 0x2e, 0x80, 2, ...g, 0x29, 0x52, 0x2e]);
      // Read the prefix (which may stop early or fail on its own), then the hostile pickle after it.
      const first = (() => {
        try {
          return unpickle(data, { globals: TORCH_GLOBALS, where: 'p' }).end;
        } catch {
          return undefined;
        }
      })();
      if (first === undefined) return;
      const tail = data.subarray(data.length - (g.length + 5));
      assert.throws(
        () => unpickle(tail, { globals: TORCH_GLOBALS, where: 'p' }),
        (e: Error) => e instanceof UnpicklingError && e.message.includes(`refusing to load global '${hostile}'`),
      );
    }),
    { numRuns: runs(300) },
  );
});

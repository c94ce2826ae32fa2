import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NUMPY_GLOBALS } from '../../plugins/modelzoo/src/lib/checkpoints/numpy-globals';
import { BASE_GLOBALS, UnpicklingError, unpickle } from '../../plugins/modelzoo/src/lib/checkpoints/pickle';
import { TORCH_GLOBALS } from '../../plugins/modelzoo/src/lib/checkpoints/torch-file';

// The unpickler's allowlist is the checkpoint readers' security boundary: every entry is reviewed JS
// emulation of a pure-data Python callable. Widening it must be a deliberate change of this list.
const BASE = [
  '__builtin__.bytes',
  '_codecs.encode',
  'argparse.Namespace',
  'builtins.bytearray',
  'builtins.bytes',
  'builtins.frozenset',
  'builtins.set',
  'builtins.slice',
  'collections.OrderedDict',
];
const NUMPY = [
  'numpy._core.multiarray._reconstruct',
  'numpy._core.multiarray.scalar',
  'numpy._core.numeric._frombuffer',
  'numpy.core.multiarray._reconstruct',
  'numpy.core.multiarray.scalar',
  'numpy.core.numeric._frombuffer',
  'numpy.dtype',
  'numpy.ndarray',
];
const TORCH = [
  'torch.BFloat16Storage',
  'torch.BoolStorage',
  'torch.ByteStorage',
  'torch.CharStorage',
  'torch.DoubleStorage',
  'torch.FloatStorage',
  'torch.HalfStorage',
  'torch.IntStorage',
  'torch.LongStorage',
  'torch.ShortStorage',
  'torch.Size',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
];

test('the allowlists are exactly the reviewed sets', () => {
  assert.deepEqual(Object.keys(BASE_GLOBALS).sort(), BASE);
  assert.deepEqual(Object.keys(NUMPY_GLOBALS).sort(), NUMPY);
  assert.deepEqual(Object.keys(TORCH_GLOBALS).sort(), [...BASE, ...NUMPY, ...TORCH].sort());
  for (const [key, g] of Object.entries(TORCH_GLOBALS)) assert.equal(g.qualname, key, `${key} names itself`);
});

const globalOp = (module: string, name: string) => Uint8Array.from(Buffer.from(`c${module}\n${name}\n.`, 'latin1'));

test('every allowlisted global resolves; dangerous and look-alike ones are refused by name', () => {
  for (const key of Object.keys(TORCH_GLOBALS)) {
    const dot = key.lastIndexOf('.');
    const v = unpickle(globalOp(key.slice(0, dot), key.slice(dot + 1)), { globals: TORCH_GLOBALS, where: 'p' }).value as { qualname: string };
    assert.equal(v.qualname, key);
  }
  const refused = [
    'builtins.getattr', 'builtins.eval', 'builtins.exec', 'builtins.__import__', 'builtins.open', 'builtins.compile',
    'os.system', 'posix.system', 'subprocess.Popen', 'torch.load', 'numpy.load', 'collections.Counter',
    'torch._utils._rebuild_qtensor', 'builtins.object', 'builtins.constructor', 'builtins.hasOwnProperty',
    'torch.FloatStorage.__class__', 'builtins.__proto__',
    // py2's module name is allowlisted for bytes() alone.
    '__builtin__.eval', '__builtin__.getattr', '__builtin__.__import__', '__builtin__.bytearray', '__builtin__.set',
  ];
  for (const key of refused) {
    const dot = key.lastIndexOf('.');
    assert.throws(
      () => unpickle(globalOp(key.slice(0, dot), key.slice(dot + 1)), { globals: TORCH_GLOBALS, where: 'p' }),
      (e: Error) => e instanceof UnpicklingError && e.message.includes(`refusing to load global '${key}'`),
      key,
    );
  }
});

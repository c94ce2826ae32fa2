import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkOutputs, isStrictlyInside, markerContent, readMarker, realResolve, OUTPUT_MARKER } from '../../plugins/modelzoo/src/lib/common/containment';
import { normalizeLabelPath } from '../../plugins/modelzoo/src/lib/dataset/labels';

test('isStrictlyInside: inside only, never the same path, a sibling with a common prefix, or above', () => {
  assert.equal(isStrictlyInside('/w/dist/x', '/w'), true);
  assert.equal(isStrictlyInside('/w', '/w'), false);
  assert.equal(isStrictlyInside('/w-other/x', '/w'), false);
  assert.equal(isStrictlyInside('/', '/w'), false);
  assert.equal(isStrictlyInside('/w/..x', '/w'), true, "a name starting with '..' is still inside");
});

test('realResolve follows a symlinked ancestor and keeps the part that does not exist yet', async () => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'resolve-')));
  fs.mkdirSync(path.join(dir, 'real'));
  fs.symlinkSync(path.join(dir, 'real'), path.join(dir, 'link'));
  assert.equal(await realResolve(path.join(dir, 'link', 'a', 'b')), path.join(dir, 'real', 'a', 'b'));
  fs.symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'dangling'));
  await assert.rejects(realResolve(path.join(dir, 'dangling', 'x')), /symbolic link to a path that does not exist/);
  fs.rmSync(dir, { recursive: true });
});

test('checkOutputs: two outputs of one task may not overlap; a marked directory of the same executor passes', async () => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'check-')));
  const req = (outputs: string[], executor = 'report') => ({
    workspaceRoot: root,
    executor,
    outputs: outputs.map((p) => ({ path: path.join(root, p), what: 'out' })),
    inputs: [],
  });
  await assert.rejects(checkOutputs(req(['dist/a', 'dist/a/b'])), /overlaps another output/);
  fs.mkdirSync(path.join(root, 'dist', 'a'), { recursive: true });
  fs.writeFileSync(path.join(root, 'dist', 'a', OUTPUT_MARKER), markerContent('report'));
  assert.equal(await readMarker(path.join(root, 'dist', 'a')), 'report');
  assert.deepEqual(await checkOutputs(req(['dist/a'])), [path.join(root, 'dist', 'a')]);
  await assert.rejects(checkOutputs(req(['dist/a'], 'vamp-eval')), /written by the report executor, not vamp-eval/);
  // A marker not written by the plugin does not count.
  fs.writeFileSync(path.join(root, 'dist', 'a', OUTPUT_MARKER), JSON.stringify({ executor: 'report' }));
  await assert.rejects(checkOutputs(req(['dist/a'])), /has no \.modelzoo-output\.json marker/);
  fs.rmSync(root, { recursive: true });
});

test('normalizeLabelPath: one spelling per file; absolute paths and escapes are refused', () => {
  for (const s of ['x.JPEG', './x.JPEG', 'a/../x.JPEG', './/x.JPEG', 'x.JPEG/']) assert.equal(normalizeLabelPath(s), 'x.JPEG', s);
  assert.equal(normalizeLabelPath('n01/x.JPEG'), 'n01/x.JPEG');
  assert.equal(normalizeLabelPath('n01\\x.JPEG'), 'n01/x.JPEG');
  for (const s of ['/etc/passwd', '../x', 'a/../../x', '.', 'C:/x', '\\\\server\\x']) assert.equal(normalizeLabelPath(s), undefined, s);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseDatalist } from '../../plugins/modelzoo/src/lib/dataset/reader';
import { setAsideNpz } from '../../plugins/modelzoo/src/lib/vastai/stages';

test("a folder named like dataset-prep's npz set-aside but not made by it is never removed", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'npz-aside-'));
  const out = path.join(root, 'ds');
  fs.mkdirSync(path.join(out, 'npz'), { recursive: true });
  fs.writeFileSync(path.join(out, 'npz', 'npz-dataset.json'), '{}');
  const foreign = out + '.npz-resume';
  fs.mkdirSync(foreign);
  fs.writeFileSync(path.join(foreign, 'notes.txt'), 'mine');
  await assert.rejects(setAsideNpz(out), (err: Error) => err.name === 'UserError' && /was not left by dataset-prep .*move or remove it yourself/.test(err.message));
  assert.equal(fs.readFileSync(path.join(foreign, 'notes.txt'), 'utf8'), 'mine');
  assert.ok(fs.existsSync(path.join(out, 'npz', 'npz-dataset.json')), 'the npz folder stays where it was');

  // One it left (it holds the npz manifest) is replaced by the next set-aside.
  fs.rmSync(foreign, { recursive: true });
  fs.mkdirSync(foreign);
  fs.writeFileSync(path.join(foreign, 'npz-dataset.json'), '{"old":true}');
  await setAsideNpz(out);
  assert.equal(fs.readFileSync(path.join(foreign, 'npz-dataset.json'), 'utf8'), '{}');
  assert.ok(!fs.existsSync(path.join(out, 'npz')));
});

test('a bad datalist line is reported by number, never echoed', () => {
  const secret = 'root:x:0:0:root:/root:/bin/bash';
  assert.deepEqual(parseDatalist('a.JPEG 3\n\nb c.JPEG 7\r\n', 'dl'), [{ file: 'a.JPEG', label: 3 }, { file: 'b c.JPEG', label: 7 }]);
  assert.throws(() => parseDatalist(`a.JPEG 1\n${secret}\n`, 'dl'), (err: Error) => err.name === 'UserError' && /^dl:2: expected 'FILE INDEX'/.test(err.message) && !err.message.includes('root:'));
  assert.throws(() => parseDatalist('a.JPEG -2\n', 'dl'), /dl:1: negative class index -2/);
});

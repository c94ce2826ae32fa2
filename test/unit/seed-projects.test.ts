import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { seedProjectFiles } from '../../tools/write-seed-projects';
import { REPO_ROOT } from '../helpers/shared';

test('committed seed project.json files equal what the variant generator logic writes', () => {
  const files = seedProjectFiles();
  assert.equal(Object.keys(files).length, 11);
  for (const [file, text] of Object.entries(files)) {
    const committed = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
    assert.equal(committed, text, `${file} drifted: run npx tsx tools/write-seed-projects.ts`);
  }
});

test('every seed row has the zoo figures and a dataset target matching its preprocessing geometry', () => {
  for (const text of Object.values(seedProjectFiles())) {
    const p = JSON.parse(text);
    assert.ok(p.metadata.zoo.top1 > 50);
    const dep = p.targets['vamc-build'].dependsOn[1];
    const ds = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'models/datasets/imagenet-val/project.json'), 'utf8'));
    const target = ds.targets[dep.target];
    assert.ok(target, `dataset target ${dep.target} missing`);
    assert.equal(target.options.outputPath, p.targets['vamc-build'].options.dataset);
  }
});

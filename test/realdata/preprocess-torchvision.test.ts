import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT, SAMPLE_DIR, skipWithoutShared } from '../helpers/shared';

const PY = '/usr/bin/python3';
const hasTorchvision = spawnSync(PY, ['-c', 'import torchvision, PIL, numpy'], { stdio: 'ignore' }).status === 0;
const skip = skipWithoutShared || (hasTorchvision ? false : `${PY} with torchvision not available`);

/** Real ImageNet JPEGs (incl. grey and ICC-tagged ones) through torchvision itself vs ours. */
for (const interpolation of ['bilinear', 'bicubic']) {
  test(`first 50 sample images are bit-identical to torchvision Resize(256, ${interpolation}) + CenterCrop(224)`, { skip }, () => {
    const r = spawnSync(
      'npx',
      ['tsx', path.join(REPO_ROOT, 'tools', 'compare-torchvision.ts'), SAMPLE_DIR, '--limit', '50', '--interpolation', interpolation],
      { cwd: REPO_ROOT, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { images: number; identical: number; max_abs_diff: number; worst: unknown[] };
    assert.equal(res.images, 50);
    assert.equal(res.identical, 50, JSON.stringify(res.worst));
    assert.equal(res.max_abs_diff, 0);
  });
}

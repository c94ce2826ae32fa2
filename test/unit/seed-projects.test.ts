import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { seedProjectFiles } from '../../tools/write-seed-projects';
import { createNodes } from '../../plugins/modelzoo/src/plugins/variants';
import { REPO_ROOT } from '../helpers/shared';

/** What the plugin infers for the committed models/ tree: project name -> configuration. */
async function inferred(): Promise<Record<string, any>> {
  const files = [...fs.readdirSync(path.join(REPO_ROOT, 'models'), { recursive: true }) as string[]]
    .filter((f) => path.basename(f) === 'project.json')
    .map((f) => `models/${f.split(path.sep).join('/')}`);
  const results = await createNodes[1](files, undefined, { workspaceRoot: REPO_ROOT, nxJsonConfiguration: {} });
  const out: Record<string, any> = {};
  for (const [, r] of results) for (const [root, p] of Object.entries(r.projects ?? {})) out[p.name!] = { root, ...p };
  return out;
}

test('committed seed project.json files are the short declarations the seed table gives (at most 40 lines)', () => {
  const files = seedProjectFiles();
  assert.equal(Object.keys(files).length, 11);
  for (const [file, text] of Object.entries(files)) {
    const committed = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
    assert.equal(committed, text, `${file} drifted: run npx tsx tools/write-seed-projects.ts`);
    assert.ok(text.split('\n').length - 1 <= 40, `${file}: ${text.split('\n').length - 1} lines`);
    assert.equal(JSON.parse(text).targets, undefined, `${file}: targets are inferred, not written`);
  }
});

test('every seed row gets every stage inferred, each with a description, and the dataset project one prep target per geometry', async () => {
  const projects = await inferred();
  const ds = projects['imagenet-val'];
  assert.deepEqual(Object.keys(ds.targets).sort(), ['dataset-prep-cv2-bilinear', 'dataset-prep-pil-bicubic', 'dataset-prep-pil-bilinear']);
  for (const file of Object.keys(seedProjectFiles())) {
    const name = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, file), 'utf8')).name;
    const p = projects[name];
    assert.ok(p, `${name} inferred`);
    assert.ok(p.metadata.zoo.top1 > 50);
    assert.ok(p.tags.includes('variant'));
    for (const t of ['onnx-export', 'vamc-build', 'vamc-build-int8', 'vamp-bench', 'vamp-eval', 'vamp-eval-int8']) assert.ok(p.targets[t], `${name}:${t}`);
    for (const [t, c] of Object.entries<any>(p.targets)) {
      assert.match(c.metadata?.description ?? '', /\w/, `${name}:${t} has no description`);
      if (t !== 'onnx-export') assert.ok(c.configurations.vastai, `${name}:${t} has no vastai configuration`);
    }
    const dep = p.targets['vamc-build'].dependsOn[1];
    const target = ds.targets[dep.target];
    assert.ok(target, `dataset target ${dep.target} missing`);
    assert.equal(target.options.outputPath, p.targets['vamc-build'].options.dataset);
    assert.equal(target.configurations.vastai.outputPath, p.targets['vamc-build'].configurations.vastai.dataset);
  }
});

test("every seed row defaults to builtin random-init and names its official weights in the 'pretrained' configuration", async () => {
  const { OFFICIAL_WEIGHTS } = await import('../../plugins/modelzoo/src/lib/checkpoints/official');
  const projects = await inferred();
  const urls = new Set<string>();
  for (const p of Object.values(projects).filter((p) => p.tags?.includes('variant'))) {
    const t = p.targets['onnx-export'];
    assert.equal(t.options.source, 'builtin');
    assert.match(t.metadata.description, /random-init/);
    const c = t.configurations.pretrained;
    assert.equal(c.source, 'checkpoint');
    const official = OFFICIAL_WEIGHTS.find((o) => o.url === c.weights.url);
    assert.ok(official, `${c.weights.url} is not in OFFICIAL_WEIGHTS`);
    assert.equal(c.weights.sha256, official.sha256);
    assert.equal(c.format, official.format);
    assert.equal(t.options.width, official.width);
    // Honest about checksums: null (and said so) where the publisher gives none, and then the lock
    // file that pins it on first use is an input of the export.
    if (official.sha256 === null) {
      assert.match(t.metadata.description, /no published checksum: pinned on first use in models\/weights\.lock\.json/);
      assert.deepEqual(t.inputs, ['{workspaceRoot}/models/weights.lock.json']);
    } else assert.equal(t.inputs, undefined);
    urls.add(c.weights.url);
  }
  assert.equal(urls.size, 11, 'every row has its own weights');
});

test("each seed row's default builtin graph has the architecture of its pretrained checkpoint", async () => {
  const { cardTable } = await import('../../tools/card-table');
  const table = cardTable();
  assert.doesNotMatch(table, /default builtin graph differs/);
  // PaddleClas's own table: 1.53 / 1.98 / 2.65 / 3.54 / 6.90 / 11.33 M.
  for (const [row, m] of [['ppcls-x0.25', 1.53], ['ppcls-x0.5', 1.98], ['ppcls-x0.75', 2.65], ['ppcls-x1.0', 3.54], ['ppcls-x1.5', 6.9], ['ppcls-x2.0', 11.33]] as const) {
    const line = table.split('\n').find((l) => l.startsWith(`| ${row} |`))!;
    const lib = Number(line.split('|')[6]!.trim().split(' ')[0]!.replace(/,/g, ''));
    assert.equal(Math.round(lib / 1e4) / 100, m, row);
  }
  assert.match(table, /\| torchvision \| torchvision \| 1 \| 3,504,872 \|/);
});

test('README and docs/model-cards.md show the card table that tools/card-table.ts prints', async () => {
  const { cardTable, weightsTable } = await import('../../tools/card-table');
  const table = cardTable();
  assert.match(table, /\| torchvision \| torchvision \| 1 \| 3,504,872 \| 300\.8 \|/);
  for (const doc of ['README.md', 'docs/model-cards.md']) {
    const text = fs.readFileSync(path.join(REPO_ROOT, doc), 'utf8');
    assert.ok(text.includes(table), `${doc}: card table drifted, paste the output of npx tsx tools/card-table.ts`);
  }
  assert.ok(fs.readFileSync(path.join(REPO_ROOT, 'docs/model-cards.md'), 'utf8').includes(weightsTable()), 'docs/model-cards.md: weights table drifted');
});

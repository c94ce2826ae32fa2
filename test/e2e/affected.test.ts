import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type TempWorkspace, createTempWorkspace, writeTestVariant } from '../helpers/temp-workspace';
import { REPO_ROOT } from '../helpers/shared';

// `nx affected` between two commits of a temp git repository with the zoo's real nx.json, dataset and
// report projects and variants on two preprocessing geometries: which variants CI's matrix
// (`nx show projects --affected --withTarget vamp-eval`) and the report job select for each kind of change.
let ws: TempWorkspace;
let base: string;
const PIL = ['mobilenetv2-tv', 'mobilenetv2-keras', 'mobilenetv2-timm']; // pil-bilinear, pil-bicubic
const CV2 = ['mobilenetv2-mm']; // cv2-bilinear
const ALL = [...PIL, ...CV2].sort();

const git = (...args: string[]) => execFileSync('git', args, { cwd: ws.root, encoding: 'utf8' }).trim();

/** Commits `change` on top of the base, asks nx, and puts the repository back to the base. */
function affectedBy(change: () => void): { variants: string[]; report: boolean; output: string } {
  change();
  git('add', '-A');
  git('commit', '-q', '-m', 'change');
  try {
    const ask = (target: string) => {
      const r = ws.nx(['show', 'projects', '--affected', `--base=${base}`, '--head=HEAD', '--withTarget', target, '--json']);
      assert.equal(r.status, 0, r.output);
      const json = r.output.slice(r.output.indexOf('['), r.output.lastIndexOf(']') + 1);
      return { list: (JSON.parse(json) as string[]).sort(), output: r.output };
    };
    const v = ask('vamp-eval');
    const rep = ask('report');
    return { variants: v.list, report: rep.list.includes('zoo-report'), output: v.output + rep.output };
  } finally {
    git('reset', '-q', '--hard', base);
    git('clean', '-qfd');
  }
}

const edit = (rel: string, f: (s: string) => string) => {
  const p = path.join(ws.root, rel);
  fs.writeFileSync(p, f(fs.readFileSync(p, 'utf8')));
};

before(() => {
  ws = createTempWorkspace('nx-affected');
  // tools/ is a symlink in temp workspaces: git must see real files, and the repo's own dataset and
  // report projects are what CI runs against.
  for (const rel of ['models/datasets/imagenet-val/project.json', 'models/report/project.json']) {
    fs.mkdirSync(path.dirname(path.join(ws.root, rel)), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, rel), path.join(ws.root, rel));
  }
  fs.cpSync(path.join(REPO_ROOT, 'data', 'demo'), path.join(ws.root, 'data', 'demo'), { recursive: true });
  fs.mkdirSync(path.join(ws.root, 'docs'));
  fs.writeFileSync(path.join(ws.root, 'docs', 'guide.md'), '# Guide\n');
  fs.writeFileSync(path.join(ws.root, 'README.md'), '# zoo\n');
  writeTestVariant(ws, 'tv', 'torchvision');
  writeTestVariant(ws, 'keras', 'keras', { padding: 'tf-same', bnEpsilon: 0.001 });
  writeTestVariant(ws, 'timm', 'timm');
  writeTestVariant(ws, 'mm', 'mmcls');
  fs.appendFileSync(path.join(ws.root, '.gitignore'), 'tools\n');
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'ci@example.invalid');
  git('config', 'user.name', 'ci');
  git('add', '-A');
  git('commit', '-q', '-m', 'base');
  base = git('rev-parse', 'HEAD');
});

after(() => fs.rmSync(ws.root, { recursive: true, force: true }));

test("one variant's options changed: that variant and the report", () => {
  const r = affectedBy(() =>
    edit('models/mobilenetv2/keras/project.json', (s) => {
      const p = JSON.parse(s);
      p.targets['vamp-eval'].options.batch = 3;
      return JSON.stringify(p, null, 2);
    }),
  );
  assert.deepEqual(r.variants, ['mobilenetv2-keras'], r.output);
  assert.ok(r.report, r.output);
});

test('the cv2 resampler changed: every cv2-bilinear variant (and the report), no PIL variant', () => {
  const r = affectedBy(() => edit('plugins/modelzoo/src/lib/preprocess/cv2-resize.ts', (s) => `${s}\n// changed\n`));
  assert.deepEqual(r.variants, CV2, r.output);
  assert.ok(r.report, r.output);
});

test('the Pillow resampler changed: every PIL variant (and the report), no cv2 variant', () => {
  const r = affectedBy(() => edit('plugins/modelzoo/src/lib/preprocess/pillow-resample.ts', (s) => `${s}\n// changed\n`));
  assert.deepEqual(r.variants, [...PIL].sort(), r.output);
  assert.ok(r.report, r.output);
});

test('a dataset image changed: every variant reading the dataset (all geometries read the same images)', () => {
  const img = fs.readdirSync(path.join(ws.root, 'data', 'demo')).find((f) => /\.jpe?g$/i.test(f))!;
  const r = affectedBy(() => fs.appendFileSync(path.join(ws.root, 'data', 'demo', img), Buffer.from([0])));
  assert.deepEqual(r.variants, ALL, r.output);
  assert.ok(r.report, r.output);
});

test('shared pipeline code changed (the evaluator): every variant', () => {
  const r = affectedBy(() => edit('plugins/modelzoo/src/lib/eval/run-eval.ts', (s) => `${s}\n// changed\n`));
  assert.deepEqual(r.variants, ALL, r.output);
});

test('docs only: nothing', () => {
  const r = affectedBy(() => {
    edit('docs/guide.md', (s) => `${s}\nMore.\n`);
    edit('README.md', (s) => `${s}\nMore.\n`);
  });
  assert.deepEqual(r.variants, [], r.output);
  assert.equal(r.report, false, r.output);
});

test("every target CI's workflow names exists in the project graph", async () => {
  const { parse } = await import('yaml');
  const text = fs.readFileSync(path.join(REPO_ROOT, '.github', 'workflows', 'zoo.yml'), 'utf8');
  parse(text);
  const named = new Set([...text.matchAll(/\b(dataset-prep-[\w-]+|vamp-eval|vamp-bench|report)\b/g)].map((m) => m[1]!));
  assert.ok(named.size >= 5, [...named].join());
  for (const target of named) {
    const r = ws.nx(['show', 'projects', '--withTarget', target, '--json']);
    assert.equal(r.status, 0, r.output);
    const list = JSON.parse(r.output.slice(r.output.indexOf('['), r.output.lastIndexOf(']') + 1)) as string[];
    assert.ok(list.length > 0, `the workflow runs ${target}, which no project has`);
  }
});

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CreateNodesContextV2, CreateNodesResult, CreateNodesV2, ProjectConfiguration } from '@nx/devkit';
import { type ModelzooMetadata, declarationToSpec } from '../lib/nx/declaration';
import { datasetPrepTargets, inferVariantProject } from '../lib/nx/inferred';
import { DATASET_PROJECT } from '../lib/nx/variant-project';

/**
 * Inferred targets. A project.json with `metadata.modelzoo.variant` (a declaration: model, row,
 * preprocess, width, source, weights, zoo figures...) gets every stage target from variantProject();
 * one with `metadata.modelzoo.dataset` gets a dataset-prep target per preprocessing geometry that the
 * variants naming it need. Nx merges project.json over what is inferred here, so any target, option or
 * configuration written there wins (nx.json targetDefaults sit between the two).
 *
 * All project.json files come in one batch, so the dataset project sees every variant's geometry.
 */
const PROJECT_JSON = '**/project.json';

interface Read {
  file: string;
  root: string;
  json: Partial<ProjectConfiguration> & { metadata?: { modelzoo?: ModelzooMetadata } };
}

export const createNodes: CreateNodesV2 = [
  PROJECT_JSON,
  (files: readonly string[], _options: unknown, context: CreateNodesContextV2) => {
    const read: Read[] = [];
    for (const file of files) {
      if (file.split('/').includes('node_modules')) continue;
      const text = fs.readFileSync(path.join(context.workspaceRoot, file), 'utf8');
      // Cheap pre-filter: most project.json files (the plugin's own, the report) declare nothing.
      if (!text.includes('"modelzoo"')) continue;
      let json: Read['json'];
      try {
        json = JSON.parse(text);
      } catch {
        continue; // Nx's own project.json plugin reports the syntax error with its position.
      }
      if (json.metadata?.modelzoo) read.push({ file, root: path.posix.dirname(file), json });
    }

    const results: Array<readonly [string, CreateNodesResult]> = [];
    const needs = new Map<string, string[]>();
    for (const { file, root, json } of read) {
      const decl = json.metadata!.modelzoo!.variant;
      if (decl === undefined) continue;
      const spec = declarationToSpec(decl, file);
      const project = inferVariantProject(spec, root);
      if (json.name) project.name = json.name;
      const ds = spec.datasetProject ?? DATASET_PROJECT;
      needs.set(ds, [...(needs.get(ds) ?? []), spec.preprocess]);
      results.push([file, { projects: { [root]: project } }]);
    }
    for (const { file, root, json } of read) {
      const options = json.metadata!.modelzoo!.dataset;
      if (options === undefined) continue;
      const name = json.name ?? path.posix.basename(root);
      const targets = datasetPrepTargets(needs.get(name) ?? [], options);
      results.push([file, { projects: { [root]: { name, tags: ['dataset'], targets } } }]);
    }
    return results;
  },
];

/** Nx 24 reads `createNodes`; earlier majors (and docs) name the same batch form `createNodesV2`. */
export const createNodesV2 = createNodes;

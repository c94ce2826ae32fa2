// Writes models/mobilenetv2/<row>/project.json for every seed row (the same config the `variant`
// generator writes). test/unit/seed-projects.test.ts fails when the committed files drift from this.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MOBILENETV2_SEED } from '../plugins/modelzoo/src/lib/nx/seed-table';
import { variantProject } from '../plugins/modelzoo/src/lib/nx/variant-project';

export function seedProjectFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const v of MOBILENETV2_SEED) {
    const root = `models/${v.model}/${v.row}`;
    const { root: _root, ...config } = variantProject(v, root);
    const json = { $schema: '../../../node_modules/nx/schemas/project-schema.json', ...config };
    files[`${root}/project.json`] = JSON.stringify(json, null, 2) + '\n';
  }
  return files;
}

if (require.main === module) {
  const repo = path.resolve(__dirname, '..');
  for (const [file, text] of Object.entries(seedProjectFiles())) {
    fs.mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
    fs.writeFileSync(path.join(repo, file), text);
    console.log('wrote', file);
  }
}

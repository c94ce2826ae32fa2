// Writes models/mobilenetv2/<row>/project.json for every seed row: the row's short declaration
// (metadata.modelzoo.variant), from which the plugin infers every target (src/plugins/variants.ts).
// test/unit/seed-projects.test.ts fails when the committed files drift from the seed table.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { declarationProjectJson, specToDeclaration } from '../plugins/modelzoo/src/lib/nx/declaration';
import { MOBILENETV2_SEED, OFFICIAL_ROW } from '../plugins/modelzoo/src/lib/nx/seed-table';

export function seedProjectFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const v of MOBILENETV2_SEED) {
    const root = `models/${v.model}/${v.row}`;
    const json = declarationProjectJson(specToDeclaration(v, OFFICIAL_ROW[v.row]), '../../../node_modules/nx/schemas/project-schema.json');
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

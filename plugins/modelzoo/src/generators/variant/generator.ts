import { type Tree, addProjectConfiguration } from '@nx/devkit';
import { validateOptions } from '../../lib/common/options';
import { type VariantSpec, variantProject, variantProjectName } from '../../lib/nx/variant-project';
import schema from './schema.json';

export default async function variantGenerator(tree: Tree, options: VariantSpec) {
  const o = validateOptions<VariantSpec>(schema, options, { project: options.row ?? '(new variant)', target: 'generate variant' });
  const root = `models/${o.model}/${o.row}`;
  const { name: _name, ...config } = variantProject(o, root);
  addProjectConfiguration(tree, variantProjectName(o), { ...config, root });
}

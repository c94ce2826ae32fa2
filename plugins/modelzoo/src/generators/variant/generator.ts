import { type Tree, addProjectConfiguration } from '@nx/devkit';
import type { CheckpointFormat } from '../../lib/checkpoints/mobilenetv2-keys';
import { validateOptions } from '../../lib/common/options';
import { UserError } from '../../lib/common/errors';
import { type VariantSpec, variantProject, variantProjectName } from '../../lib/nx/variant-project';
import schema from './schema.json';

/** The generator's flat options: a VariantSpec whose checkpoint is given as --weights/--sha256/--format/--exporter. */
export interface VariantGeneratorOptions extends Omit<VariantSpec, 'checkpoint' | 'pretrained' | 'zoo' | 'datasetProject'> {
  weights?: string;
  sha256?: string;
  format?: CheckpointFormat;
  exporter?: 'native' | 'framework';
}

export default async function variantGenerator(tree: Tree, options: VariantGeneratorOptions) {
  const o = validateOptions<VariantGeneratorOptions>(schema, options, { project: options.row ?? '(new variant)', target: 'generate variant' });
  const { weights, sha256, format, exporter, ...spec } = o;
  const variant: VariantSpec = { ...spec };
  if (weights !== undefined) {
    const isUrl = /^[a-z]+:\/\//i.test(weights);
    if (isUrl && !sha256) throw new UserError(`generate variant ${o.row}: --weights is a URL, so --sha256 is required (a download is only used once its checksum matches)`);
    if (!isUrl && sha256) throw new UserError(`generate variant ${o.row}: --sha256 applies to a --weights URL; a local file is content-hashed by Nx already`);
    variant.checkpoint = { weights: isUrl ? { url: weights, sha256: sha256! } : weights, ...(format ? { format } : {}), ...(exporter ? { exporter } : {}) };
  } else if (sha256 || format || exporter) {
    throw new UserError(`generate variant ${o.row}: --sha256, --format and --exporter describe a checkpoint: give it with --weights`);
  }
  const root = `models/${o.model}/${o.row}`;
  const { name: _name, ...config } = variantProject(variant, root);
  addProjectConfiguration(tree, variantProjectName(variant), { ...config, root });
}

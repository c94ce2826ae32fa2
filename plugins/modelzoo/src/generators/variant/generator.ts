import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Tree, logger, writeJson } from '@nx/devkit';
import { loadCheckpoint } from '../../lib/checkpoints/load';
import type { CheckpointFormat } from '../../lib/checkpoints/mobilenetv2-keys';
import { validateOptions } from '../../lib/common/options';
import { UserError } from '../../lib/common/errors';
import { declarationProjectJson, specToDeclaration } from '../../lib/nx/declaration';
import { type VariantSpec, variantProjectName } from '../../lib/nx/variant-project';
import { decodeModel } from '../../lib/onnx/proto';
import schema from './schema.json';

/** The generator's flat options: a variant declaration given as command-line flags. */
export interface VariantGeneratorOptions extends Omit<VariantSpec, 'checkpoint' | 'pretrained' | 'zoo' | 'datasetProject' | 'onnxFile'> {
  source?: 'builtin' | 'onnx' | 'checkpoint';
  file?: string;
  weights?: string;
  sha256?: string;
  format?: CheckpointFormat;
  exporter?: 'native' | 'framework';
  zooTop1?: number;
  zooTop5?: number;
  force?: boolean;
}

const HDF5 = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * What a local model file is, from its bytes (a name says nothing: `model.pth` may be an ONNX file).
 * ONNX: a ModelProto that decodes with a graph. Otherwise the checkpoint readers decide (zip or
 * legacy pickle: torch flavours and PaddleClas by their key layout; HDF5: Keras).
 */
export async function detectModelFile(file: string): Promise<{ kind: 'onnx' } | { kind: 'checkpoint'; format: CheckpointFormat }> {
  let head: Buffer;
  try {
    const fd = fs.openSync(file, 'r');
    head = Buffer.alloc(8);
    fs.readSync(fd, head, 0, 8, 0);
    fs.closeSync(fd);
  } catch (err) {
    throw new UserError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give an existing file, or --format to skip detection`);
  }
  const zip = head.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'));
  const pickle = head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5;
  // ModelProto starts with ir_version (field 1, varint: tag 0x08); a checkpoint never does.
  if (!zip && !pickle && !head.equals(HDF5) && head[0] === 0x08) {
    try {
      const m = decodeModel(new Uint8Array(fs.readFileSync(file)), file);
      if (m.graph) return { kind: 'onnx' };
    } catch {
      /* not ONNX: the checkpoint readers below give the error */
    }
  }
  const { meta } = await loadCheckpoint(file);
  return { kind: 'checkpoint', format: meta.format };
}

/**
 * Writes models/<model>/<row>/project.json: the variant's short declaration (metadata.modelzoo.variant);
 * the plugin infers its targets. Prints the commands that take it through the pipeline.
 */
export default async function variantGenerator(tree: Tree, options: VariantGeneratorOptions) {
  const o = validateOptions<VariantGeneratorOptions>(schema, options, { project: options.row ?? '(new variant)', target: 'generate variant' });
  const where = `generate variant ${o.row}`;
  // The schema's patterns already refuse separators; this keeps '.'/'..' and the like out too.
  for (const [k, v] of [['row', o.row], ['model', o.model]] as const) {
    if (v === '.' || v === '..' || v.includes('/') || v.includes('\\')) throw new UserError(`${where}: --${k} '${v}' must be one path segment (letters, digits, '.', '_', '-')`);
  }
  const { weights, sha256, format, exporter, file, zooTop1, zooTop5, force, source: givenSource, ...rest } = o;
  const spec: VariantSpec = { ...rest };
  const source = givenSource ?? (file !== undefined ? 'onnx' : weights !== undefined ? 'checkpoint' : 'builtin');
  let detected: CheckpointFormat | undefined;

  if (source === 'checkpoint' && weights === undefined) throw new UserError(`${where}: --source=checkpoint needs --weights (a local checkpoint or an https URL)`);
  if (source === 'onnx' && file === undefined) throw new UserError(`${where}: --source=onnx needs --file (the ONNX model)`);
  if (source !== 'checkpoint' && (weights !== undefined || sha256 || exporter)) throw new UserError(`${where}: --weights, --sha256 and --exporter describe a checkpoint: use --source=checkpoint`);
  if (source !== 'onnx' && file !== undefined) throw new UserError(`${where}: --file is an ONNX model: use --source=onnx`);
  if (source === 'builtin' && format) throw new UserError(`${where}: --format describes a checkpoint: give it with --source=checkpoint --weights`);

  if (source === 'onnx') {
    const kind = await detectModelFile(path.resolve(tree.root, file!)).catch((err: Error) => {
      throw new UserError(`${where}: --file ${file}: not an ONNX model (${err.message})`);
    });
    if (kind.kind !== 'onnx') throw new UserError(`${where}: --file ${file} is a ${kind.format} checkpoint, not an ONNX model: use --source=checkpoint --weights=${file}`);
    spec.onnxFile = file;
  }
  if (source === 'checkpoint') {
    const isUrl = /^[a-z]+:\/\//i.test(weights!);
    if (isUrl && !sha256) throw new UserError(`${where}: --weights is a URL, so --sha256 is required (a download is only used once its checksum matches)`);
    if (!isUrl && sha256) throw new UserError(`${where}: --sha256 applies to a --weights URL; a local file is content-hashed by Nx already`);
    if (!isUrl && !format) {
      const kind = await detectModelFile(path.resolve(tree.root, weights!)).catch((err: Error) => {
        throw new UserError(`${where}: --weights ${weights}: ${err.message.replace(/pass the format explicitly/, 'pass --format')}`);
      });
      if (kind.kind === 'onnx') throw new UserError(`${where}: --weights ${weights} is an ONNX model, not a checkpoint: use --source=onnx --file=${weights}`);
      detected = kind.format;
    }
    spec.checkpoint = { weights: isUrl ? { url: weights!, sha256: sha256! } : weights!, ...(format || detected ? { format: format ?? detected } : {}), ...(exporter ? { exporter } : {}) };
  }
  if (zooTop1 !== undefined || zooTop5 !== undefined) spec.zoo = { ...(zooTop1 !== undefined ? { top1: zooTop1 } : {}), ...(zooTop5 !== undefined ? { top5: zooTop5 } : {}) };

  const name = variantProjectName(spec);
  const root = `models/${o.model}/${o.row}`;
  const projectFile = `${root}/project.json`;
  if (tree.exists(projectFile) && !force) throw new UserError(`${where}: ${projectFile} exists (project ${name}); pass --force to overwrite it`);
  writeJson(tree, projectFile, declarationProjectJson(specToDeclaration(spec), `${'../'.repeat(root.split('/').length)}node_modules/nx/schemas/project-schema.json`));

  return () => {
    if (detected) logger.info(`--weights ${weights}: a ${detected} checkpoint (from its content)`);
    logger.info(`Added ${name} (${projectFile}); its targets are inferred: npx nx show project ${name}`);
    logger.info(`Run it:  npx nx run-many -t vamp-eval vamp-bench -p ${name}`);
    logger.info(`Report:  npx nx run zoo-report:report`);
  };
}

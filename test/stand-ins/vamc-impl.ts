import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { STAND_IN_MARKER } from '../../plugins/modelzoo/src/lib/vastai/vamp-output';
import { parseVamcYaml, vamcModelPrefix } from '../../plugins/modelzoo/src/lib/vastai/vamc-config';
import { vamcConfigErrors } from '../../plugins/modelzoo/src/lib/vastai/vamc-schema';
import type { StandInModel } from './model-marker';

const USAGE = 'usage: vamc build <config.yaml>   (2023 schema)\n       vamc compile <config.yaml> (2025 schema)\n';

export async function main(argv: string[]): Promise<number> {
  const [cmd, file, ...rest] = argv;
  if ((cmd !== 'build' && cmd !== 'compile') || !file || rest.length) {
    process.stderr.write(USAGE);
    return 2;
  }
  const generation = cmd === 'build' ? '2023' : '2025';
  process.stdout.write(`vamc ${cmd} (${STAND_IN_MARKER}; the model is kept as ONNX and run by the vamp stand-in)\n`);
  const text = await fs.readFile(file, 'utf8').catch((err: Error) => {
    throw new Error(`cannot read config ${file}: ${err.message}`);
  });
  const config = parseVamcYaml(text, file) as Record<string, any>;
  const errors = vamcConfigErrors(config, generation);
  if (errors.length) {
    process.stderr.write(`${file}: not a valid ${generation} config for 'vamc ${cmd}':\n  ${errors.join('\n  ')}\n`);
    return 1;
  }
  const front = generation === '2023' ? config.model : config.frontend;
  const checkpoint = path.resolve(front.checkpoint);
  if (path.extname(checkpoint).toLowerCase() !== '.onnx') throw new Error(`the stand-in only takes ONNX checkpoints, got ${checkpoint}`);
  const onnx = await fs.readFile(checkpoint).catch((err: Error) => {
    throw new Error(`checkpoint ${checkpoint}: ${err.message}`);
  });
  const inputs = (generation === '2023' ? front.inputs : front.shape) as Record<string, number[]>;
  const [inputName, inputShape] = Object.entries(inputs)[0]!;
  const int8 = generation === '2023' ? config.engine.common.do_quantization === true : config.backend.dtype === 'int8';
  const extraSoftmax =
    generation === '2023' ? config.engine.add_extra_ops_to_graph?.type === 'softmax' : config.graph?.extra_ops?.type === 'softmax';
  const marker: StandInModel = {
    stand_in: true,
    generator: 'vamc stand-in',
    generation,
    precision: int8 ? 'int8' : 'fp16',
    onnx: '',
    inputName,
    inputShape,
    extraSoftmax,
  };
  if (int8) {
    // Calibration is not simulated, but its inputs are checked as vamc would need them.
    const dir = path.resolve(config.dataset.path);
    const suffix = String(config.dataset.sampler.suffix).toLowerCase();
    const names = await fs.readdir(dir).catch((err: Error) => {
      throw new Error(`dataset.path ${dir}: ${err.message}`);
    });
    const images = names.filter((n) => n.toLowerCase().endsWith(`.${suffix}`)).length;
    if (images === 0) throw new Error(`dataset.path ${dir} has no *.${suffix} calibration images`);
    const requested = config.dataset.sampler.get_data_num as number;
    const mode = generation === '2023' ? config.engine.calibration.quant_mode : config.backend.quantize.calibrate_mode;
    marker.calibration = { mode, images: Math.min(images, requested), requested };
    process.stdout.write(`calibration: ${mode}, ${marker.calibration.images} of ${requested} requested images\n`);
  }
  const prefix = path.resolve(vamcModelPrefix(config, generation));
  await fs.mkdir(path.dirname(prefix), { recursive: true });
  marker.onnx = `${path.basename(prefix)}.onnx`;
  await fs.writeFile(`${prefix}.onnx`, onnx);
  for (const ext of ['.so', '.params']) await fs.writeFile(`${prefix}${ext}`, `stand-in placeholder: the model is ${marker.onnx}\n`);
  await fs.writeFile(`${prefix}.json`, JSON.stringify(marker, null, 2) + '\n');
  process.stdout.write(`model saved to ${prefix}\n`);
  return 0;
}

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { withAtomicDir, writeFileAtomic, writeJsonAtomic } from '../common/atomic';
import { UserError } from '../common/errors';
import { openDataset } from '../dataset/reader';
import type { PreprocessSpec } from '../preprocess/spec';
import { CALIBRATION_SUFFIX, writeCalibrationImages } from './calibration-images';
import type { Generation } from './generation';
import { resolveTool, runTool } from './tools';
import { DEFAULT_CALIBRATION_COUNT, generateVamcConfig, vamcConfigToYaml, vamcModelPrefix, type VamcQuantization } from './vamc-config';
import { validateVamcConfig } from './vamc-schema';
import { generateVdspParams } from './vdsp-params';
import { STAND_IN_MARKER } from './vamp-output';

export const VAMC_CONFIG_FILE = 'vamc-config.yaml';
export const VDSP_PARAMS_FILE = 'vdsp_params.json';
export const VAMC_LOG_FILE = 'vamc.log';

export interface VamcBuildOptions {
  /** The exported ONNX model (onnx-export's model.onnx). */
  modelOnnx: string;
  /** Build output directory; replaced atomically. vamc runs inside it. */
  outDir: string;
  spec: PreprocessSpec;
  precision: 'int8' | 'fp16';
  generation: Generation;
  quantization?: VamcQuantization;
  /** int8: the prepared dataset whose calibration subset is written as PNGs for vamc (preferred). */
  calibrationDataset?: string;
  /** int8: or a directory of raw images (e.g. ILSVRC2012_img_calib) that vamc resizes and crops itself. */
  calibrationDir?: string;
  calibrationSuffix?: string;
  /** vamc model name (output file names). Default 'mobilenet_v2'. */
  name?: string;
  inputName?: string;
  /** [N, C, H, W]; H and W are the spec's crop size. */
  inputShape?: number[];
  extraSoftmax?: boolean;
  vamcPath?: string;
  timeoutMs?: number;
  /** Called inside the temp output directory before it is swapped in (e.g. to write build.json). */
  onComplete?: (tmpDir: string, details: VamcBuildDetails) => Promise<void>;
}

/** What the executor puts into BuildManifest.details (backend 'vastai'); paths relative to outDir. */
export interface VamcBuildDetails {
  generation: Generation;
  tool: 'vamc build' | 'vamc compile';
  vamc: string;
  config: string;
  /** vamp's `-m` argument, relative to outDir. */
  modelPrefix: string;
  /** Files vamc wrote for the model (relative to outDir) and their combined hash. */
  modelFiles: string[];
  sha256: string;
  /** vdsp_params for the prepared uint8 npz inputs (already resized and cropped). */
  vdspParams: string;
  inputShape: number[];
  calibration?: { source: 'prepared-dataset' | 'image-dir'; path: string; images?: number; files?: string[] };
  quantization: VamcQuantization;
  log: string;
  seconds: number;
  stand_in: boolean;
}

export async function runVamcBuild(o: VamcBuildOptions): Promise<VamcBuildDetails> {
  const modelOnnx = path.resolve(o.modelOnnx);
  await fs.access(modelOnnx).catch(() => {
    throw new UserError(`vamc-build: model ${modelOnnx} not found (run onnx-export first)`);
  });
  const vamc = await resolveTool('vamc', o.vamcPath);
  const crop = o.spec.geometry.cropSize;
  const inputShape = o.inputShape ?? [1, 3, crop, crop];
  if (inputShape[2] !== crop || inputShape[3] !== crop) {
    throw new UserError(`vamc-build: model input ${inputShape[2]}x${inputShape[3]} does not match preset '${o.spec.name}' crop ${crop}`);
  }
  const int8 = o.precision === 'int8';
  if (int8 && !o.calibrationDataset && !o.calibrationDir) {
    throw new UserError('vamc-build: int8 needs calibration images: set the dataset (prepared calibration subset) or vastai.calibrationDir');
  }
  const count = o.quantization?.calibration_count ?? DEFAULT_CALIBRATION_COUNT;
  const outDir = path.resolve(o.outDir);
  return withAtomicDir(outDir, async (tmp) => {
    let calibration: VamcBuildDetails['calibration'];
    let calibSource = { path: './calibration', suffix: CALIBRATION_SUFFIX, prepared: true };
    if (int8 && o.calibrationDataset) {
      const ds = await openDataset(o.calibrationDataset);
      try {
        const [, h, w] = ds.manifest.shape;
        if (h !== crop || w !== crop) throw new UserError(`vamc-build: dataset ${ds.dir} holds ${h}x${w} images, preset '${o.spec.name}' needs ${crop}x${crop}`);
        const written = await writeCalibrationImages(ds, path.join(tmp, 'calibration'), count);
        calibration = { source: 'prepared-dataset', path: 'calibration', images: written.count, files: written.files };
      } finally {
        await ds.close();
      }
    } else if (int8) {
      const dir = path.resolve(o.calibrationDir!);
      calibSource = { path: dir, suffix: o.calibrationSuffix ?? 'JPEG', prepared: false };
      calibration = { source: 'image-dir', path: dir };
    }
    const config = generateVamcConfig(
      {
        name: o.name ?? 'mobilenet_v2',
        checkpoint: modelOnnx,
        inputName: o.inputName,
        inputShape,
        spec: o.spec,
        precision: o.precision,
        quantization: o.quantization,
        extraSoftmax: o.extraSoftmax,
        calibration: calibSource,
      },
      o.generation,
    );
    validateVamcConfig(config, o.generation, `vamc-build: generated ${VAMC_CONFIG_FILE}`);
    await writeFileAtomic(path.join(tmp, VAMC_CONFIG_FILE), vamcConfigToYaml(config));
    const vdsp = generateVdspParams(o.spec, o.generation, crop);
    await writeJsonAtomic(path.join(tmp, VDSP_PARAMS_FILE), vdsp);
    const sub = o.generation === '2023' ? 'build' : 'compile';
    const run = await runTool('vamc', vamc, [sub, VAMC_CONFIG_FILE], tmp, o.timeoutMs);
    await writeFileAtomic(path.join(tmp, VAMC_LOG_FILE), run.stdout + (run.stderr ? `\n--- stderr ---\n${run.stderr}` : ''));
    const prefix = vamcModelPrefix(config, o.generation);
    const modelDir = path.join(tmp, path.dirname(prefix));
    const names = (await fs.readdir(modelDir).catch(() => [] as string[])).filter((n) => n.startsWith(path.basename(prefix) + '.')).sort();
    if (names.length === 0) {
      throw new UserError(`vamc ${sub} finished but wrote no model at ${prefix}.* (see ${path.join(outDir, VAMC_LOG_FILE)} once rerun)\n${run.stdout.slice(-2000)}`);
    }
    const hash = createHash('sha256');
    for (const n of names) hash.update(n).update(await fs.readFile(path.join(modelDir, n)));
    const details: VamcBuildDetails = {
      generation: o.generation,
      tool: `vamc ${sub}` as VamcBuildDetails['tool'],
      vamc,
      config: VAMC_CONFIG_FILE,
      modelPrefix: prefix,
      modelFiles: names.map((n) => path.join(path.dirname(prefix), n)),
      sha256: hash.digest('hex'),
      vdspParams: VDSP_PARAMS_FILE,
      inputShape,
      calibration,
      quantization: o.quantization ?? {},
      log: VAMC_LOG_FILE,
      seconds: run.seconds,
      stand_in: run.stdout.includes(STAND_IN_MARKER),
    };
    await o.onComplete?.(tmp, details);
    return details;
  });
}

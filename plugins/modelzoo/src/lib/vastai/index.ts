/** The VastAI backend (vamc / vamp) as a library; the executors call these. */
export { type Generation, GENERATIONS, checkGeneration } from './generation';
export { toFp16Bits, fromFp16Bits, roundFp16 } from './fp16';
export { vastNormalization, type VastNormalization } from './normalization';
export { generateVdspParams, parseVdspParams, vdspGeometry, type VdspSummary } from './vdsp-params';
export {
  generateVamcConfig,
  vamcConfigToYaml,
  parseVamcYaml,
  detectGeneration,
  vamcModelPrefix,
  transformOps,
  type VamcInput,
  type VamcQuantization,
  type VamcCalibrationSource,
} from './vamc-config';
export { validateVamcConfig, vamcConfigErrors, VAMC_SCHEMA_2023, VAMC_SCHEMA_2025 } from './vamc-schema';
export { encodeNpy, decodeNpy, encodeNpz, decodeNpz, npyToFloat64, type NpyArray } from './npy';
export { writeNpzDataset, readNpzLabels, npzRelPath, NPZ_DATALIST, NPZ_LABELS, NPZ_MANIFEST, type NpzDatasetResult } from './npz-dataset';
export { writeCalibrationImages } from './calibration-images';
export { resolveTool, runTool } from './tools';
export { parseVampOutput, vampReportToBench, type VampReport, type VampBenchConfigResult } from './vamp-output';
export { runVamcBuild, type VamcBuildOptions, type VamcBuildDetails, VAMC_CONFIG_FILE, VDSP_PARAMS_FILE } from './vamc-build';
export { runVampBench } from './vamp-bench';
export { runVampEval, decodeVampOutputs, type VampEvalOptions } from './vamp-eval';
export { VASTAI_OPTIONS_SCHEMA, NPZ_FORMAT_SCHEMA } from './options-schema';
export {
  vastaiBuild,
  vastaiBench,
  vastaiEval,
  writeDatasetNpz,
  readVastaiBuild,
  readNpzInputs,
  vamcQuantization,
  NPZ_SUBDIR,
  type VastaiBuildOptionsObject,
  type VampToolOptions,
} from './stages';

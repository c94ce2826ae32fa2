export { quantizeModel, QUANTIZER_ID, type QuantizeResult } from './quantize';
export {
  type Int8Options,
  type CalibrateMode,
  type ActivationType,
  DEFAULT_INT8_OPTIONS,
  INT8_OPTIONS_SCHEMA,
  resolveInt8Options,
} from './options';
export { type CalibrationBatch, type CalibrationSource, type CalibrationInput, type ProgressCallback } from './calibrate';
export { calibrationBatchesFromDataset } from './dataset-source';
export { type LayerSensitivity } from './sensitivity';

import { openDataset } from '../dataset/reader';
import { calibrationBatchesFromDataset, quantizeModel, resolveInt8Options } from '../quant';
import type { Quantizer } from './build-model';

/** The onnxruntime int8 path: calibration on the dataset's class-balanced subset, then QDQ quantization. */
export const int8Quantizer: Quantizer = async (model, datasetDir, quantization) => {
  const opts = resolveInt8Options(quantization);
  const ds = await openDataset(datasetDir);
  try {
    const source = await calibrationBatchesFromDataset(ds, opts.calibration_count, 8);
    const r = await quantizeModel(model, source, opts);
    // Which images calibrated the model: the evaluation counts how many of them it scores (the overlap).
    const calibration = { ...(r.details['calibration'] as object), method: 'class-balanced subset of the prepared dataset', files: source.files };
    return {
      model: r.model,
      details: { ...r.details, calibration },
      extraFiles: r.sensitivity ? { 'sensitivity.json': JSON.stringify(r.sensitivity, null, 2) + '\n' } : undefined,
    };
  } finally {
    await ds.close();
  }
};

import type { Quantizer } from './build-model';

/** The onnxruntime int8 path: calibration on the dataset's subset, then QDQ quantization. */
export const int8Quantizer: Quantizer = async () => {
  throw new Error('int8 quantizer is being wired');
};

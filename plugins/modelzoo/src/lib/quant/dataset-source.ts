import { calibrationImages } from '../dataset/calibration';
import type { OpenDataset } from '../dataset/reader';
import { ort } from '../runtime/session';
import type { CalibrationBatch, CalibrationSource } from './calibrate';

/**
 * `count` images of the dataset's class-balanced calibration subset, thinned by class round-robin
 * (calibrationImages: balance kept for any count), read as uint8 [b, 3, H, W] batches. The feed is named `inputName`; quantizeModel
 * renames a single feed to the model's input anyway.
 */
export async function calibrationBatchesFromDataset(
  ds: OpenDataset,
  count: number,
  batch = 8,
  inputName = 'image_u8',
): Promise<CalibrationSource> {
  // Stryker disable next-line ConditionalExpression,LogicalOperator: calibrationImages refuses the same counts with the same message; checked here before the subset is read
  if (!Number.isInteger(count) || count < 1) throw new Error(`calibration image count must be a positive integer, got ${count}`);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`calibration batch must be a positive integer, got ${batch}`);
  const indices = await calibrationImages(ds, count);
  const shape = ds.manifest.shape;
  return {
    images: indices.length,
    files: indices.map((i) => ds.entries[i]!.file),
    async *batches(): AsyncGenerator<CalibrationBatch> {
      for await (const b of ds.batches(indices, batch)) {
        yield { feeds: { [inputName]: new ort.Tensor('uint8', b.data, [b.indices.length, ...shape]) } };
      }
    },
  };
}

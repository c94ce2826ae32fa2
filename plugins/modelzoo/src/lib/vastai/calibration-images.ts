import * as path from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../common/atomic';
import { calibrationImages } from '../dataset/calibration';
import type { OpenDataset } from '../dataset/reader';

/**
 * The prepared dataset's calibration subset as lossless PNGs for vamc's `dataset.path`. They already
 * have the model's input geometry (resized and cropped by dataset-prep with the spec's resampler), so
 * the vamc config needs no Resize/CenterCrop and calibration sees exactly the pixels eval sees.
 */
export const CALIBRATION_SUFFIX = 'png';

export async function writeCalibrationImages(ds: OpenDataset, dir: string, count: number): Promise<{ dir: string; count: number; files: string[] }> {
  const indices = await calibrationImages(ds, count);
  const [, h, w] = ds.manifest.shape;
  const plane = h * w;
  let n = 0;
  for await (const { data } of ds.batches(indices, 32)) {
    for (let k = 0; k < data.length / ds.imageBytes; k++) {
      const chw = data.subarray(k * ds.imageBytes, (k + 1) * ds.imageBytes);
      const hwc = Buffer.alloc(ds.imageBytes);
      for (let i = 0; i < plane; i++) {
        hwc[3 * i] = chw[i]!;
        hwc[3 * i + 1] = chw[plane + i]!;
        hwc[3 * i + 2] = chw[2 * plane + i]!;
      }
      const png = await sharp(hwc, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
      await writeFileAtomic(path.join(dir, `calib_${String(n).padStart(5, '0')}.${CALIBRATION_SUFFIX}`), png);
      n++;
    }
  }
  return { dir, count: n, files: indices.map((i) => ds.entries[i]!.file) };
}

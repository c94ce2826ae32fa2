import { type Model, encodeModel } from '../onnx/proto';
import { createSession, type ort } from '../runtime/session';
import { type CalibrationSource, type ProgressCallback, batchSizeOf, feedsFor, withOutputs } from './calibrate';

export interface LayerSensitivity {
  /** Node that writes the tensor (what exclude_layers takes). */
  node: string;
  tensor: string;
  /** 10 log10(sum fp32^2 / sum (int8 - fp32)^2) over the calibration set; lower is worse. */
  snrDb: number;
}

/**
 * Signal-to-noise of every quantized activation, fp32 graph vs the QDQ graph run by ONNX Runtime, over
 * the calibration set. Errors accumulate through the network, so the first layer with a low SNR (not
 * only the lowest) is the candidate for exclude_layers.
 */
export async function measureSensitivity(
  floatModel: Model,
  qdqModel: Model,
  points: { tensor: string; node: string }[],
  source: CalibrationSource,
  o: { maxImages: number; progress?: ProgressCallback | undefined },
): Promise<LayerSensitivity[]> {
  const tensors = points.map((p) => p.tensor);
  const fp = await createSession(encodeModel(withOutputs(floatModel, tensors)));
  const q = await createSession(encodeModel(withOutputs(qdqModel, tensors)));
  const signal = new Float64Array(tensors.length);
  const noise = new Float64Array(tensors.length);
  const total = source.images !== undefined ? Math.min(source.images, o.maxImages) : undefined;
  let images = 0;
  try {
    for await (const batch of source.batches()) {
      if (images >= o.maxImages) break;
      const a = await fp.run(feedsFor(floatModel, batch.feeds), tensors);
      const b = await q.run(feedsFor(qdqModel, batch.feeds), tensors);
      tensors.forEach((t, i) => {
        const x = (a[t] as ort.Tensor).data as Float32Array;
        const y = (b[t] as ort.Tensor).data as Float32Array;
        let s = 0;
        let n = 0;
        for (let k = 0; k < x.length; k++) {
          const d = y[k]! - x[k]!;
          s += x[k]! * x[k]!;
          n += d * d;
        }
        signal[i]! += s;
        noise[i]! += n;
      });
      images += batchSizeOf(batch.feeds);
      o.progress?.(images, total);
    }
  } finally {
    await fp.release();
    await q.release();
  }
  return points
    .map((p, i) => ({ node: p.node, tensor: p.tensor, snrDb: snrDb(signal[i]!, noise[i]!) }))
    .sort((x, y) => x.snrDb - y.snrDb);
}

export function snrDb(signal: number, noise: number): number {
  if (noise === 0) return signal === 0 ? 0 : 200;
  if (signal === 0) return -200;
  return 10 * Math.log10(signal / noise);
}

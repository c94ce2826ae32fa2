import * as ort from 'onnxruntime-node';

export { ort };

export interface SessionOptions {
  /** intra-op threads; 0 lets ONNX Runtime choose (all cores). */
  threads?: number;
  optimizedModelFilePath?: string;
  level?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * false: intra-op worker threads sleep when idle instead of spinning (ONNX Runtime's default is to
   * spin). Benchmarks that alternate two sessions on few cores need it: one session's spinning workers
   * otherwise take the cores the other one is running on.
   */
  spinning?: boolean;
}

export async function createSession(model: string | Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: opts.level ?? 'all',
    intraOpNumThreads: opts.threads ?? 0,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // ONNX Runtime warns about every initializer its optimizer drops (folded normalization, fused QDQ
    // weights): noise in task logs. MODELZOO_ORT_LOG_LEVEL=0..4 brings its log back for debugging.
    logSeverityLevel: ortLogLevel(),
  };
  if (opts.optimizedModelFilePath) options.optimizedModelFilePath = opts.optimizedModelFilePath;
  if (opts.spinning === false) options.extra = { session: { intra_op: { allow_spinning: '0' } } };
  try {
    return typeof model === 'string'
      ? await ort.InferenceSession.create(model, options)
      : await ort.InferenceSession.create(model, options);
  } catch (err) {
    const where = typeof model === 'string' ? model : 'in-memory model';
    throw new Error(`ONNX Runtime cannot load ${where}: ${(err as Error).message}`);
  }
}

function ortLogLevel(): 0 | 1 | 2 | 3 | 4 {
  const v = Number(process.env['MODELZOO_ORT_LOG_LEVEL'] ?? 3);
  return (Number.isInteger(v) && v >= 0 && v <= 4 ? v : 3) as 0 | 1 | 2 | 3 | 4;
}

/** An input tensor for a batch of stored images: uint8 for built models, float for raw exports. */
export function imageTensor(data: Uint8Array, batch: number, shape: [number, number, number]): ort.Tensor {
  return new ort.Tensor('uint8', data, [batch, ...shape]);
}

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { applyVastNormalization } from '../../plugins/modelzoo/src/lib/vastai/normalization';
import { decodeNpz, encodeNpz, float32Npy } from '../../plugins/modelzoo/src/lib/vastai/npy';
import { parseVdspParams, type VdspSummary } from '../../plugins/modelzoo/src/lib/vastai/vdsp-params';
import { STAND_IN_MARKER } from '../../plugins/modelzoo/src/lib/vastai/vamp-output';
import type { StandInModel } from './model-marker';

const USAGE =
  'usage: vamp -m <model prefix> --vdsp_params <json> [-i <instances>] [-p <processes>] [-b <batch>] [-d <device>]\n' +
  '            [--datalist <txt> --path_output <dir>]\n';

interface Args {
  model: string;
  vdsp: string;
  instances: number;
  processes: number;
  batch: number;
  devices: number[];
  datalist?: string;
  output?: string;
}

function parseArgs(argv: string[]): Args | string {
  const a: Partial<Args> = { instances: 1, processes: 1, batch: 1, devices: [0] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (value === undefined) return `option ${flag} needs a value`;
    const int = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw new Error(`option ${flag} needs a non-negative integer, got '${value}'`);
      return n;
    };
    switch (flag) {
      case '-m': a.model = value; break;
      case '--vdsp_params': a.vdsp = value; break;
      case '-i': a.instances = int(); break;
      case '-p': a.processes = int(); break;
      case '-b': a.batch = int(); break;
      case '-d': a.devices = value.split(',').map(Number); break;
      case '--datalist': a.datalist = value; break;
      case '--path_output': a.output = value; break;
      default: return `unknown option ${flag}`;
    }
    i++;
  }
  if (!a.model) return 'option -m is required';
  if (!a.vdsp) return 'option --vdsp_params is required';
  if (!!a.datalist !== !!a.output) return '--datalist and --path_output go together';
  if (!(a.batch! >= 1)) return 'batch (-b) must be >= 1';
  return a as Args;
}

/** Device preprocessing on one uint8 RGB planar image: centre crop, channel order, normalization. */
function preprocess(u8: Uint8Array, v: VdspSummary, out: Float32Array, offset: number): void {
  const { inputWidth: w, inputHeight: h, cropWidth: cw, cropHeight: ch } = v;
  if (v.resizeWidth !== w || v.resizeHeight !== h) {
    throw new Error(`the stand-in does no resizing (input ${w}x${h}, resize ${v.resizeWidth}x${v.resizeHeight}): feed prepared images`);
  }
  const plane = cw * ch;
  const cropped = new Uint8Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const src = v.colorCvt === 'RGB2BGR' ? 2 - c : c;
    for (let y = 0; y < ch; y++) {
      const from = src * w * h + (y + v.cropY) * w + v.cropX;
      cropped.set(u8.subarray(from, from + cw), c * plane + y * cw);
    }
  }
  applyVastNormalization(cropped, plane, { type: v.normType, mean: v.mean, std: v.std }, out, offset);
}

function softmaxRows(x: Float32Array, classes: number): void {
  for (let r = 0; r < x.length / classes; r++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, x[r * classes + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += x[r * classes + c] = Math.exp(x[r * classes + c]! - max);
    for (let c = 0; c < classes; c++) x[r * classes + c]! /= sum;
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const stamp = () => new Date().toISOString().replace('T', ' ').slice(0, 19);

export async function main(argv: string[]): Promise<number> {
  let args: Args | string;
  try {
    args = parseArgs(argv);
  } catch (err) {
    args = (err as Error).message;
  }
  if (typeof args === 'string') {
    process.stderr.write(`vamp: ${args}\n${USAGE}`);
    return 2;
  }
  const markerFile = `${args.model}.json`;
  const marker = JSON.parse(
    await fs.readFile(markerFile, 'utf8').catch(() => {
      throw new Error(`model ${args.model} not found (no ${markerFile}; the stand-in runs models built by the vamc stand-in)`);
    }),
  ) as StandInModel;
  if (!marker.stand_in) throw new Error(`${markerFile} is not a stand-in model`);
  const vdsp = parseVdspParams(JSON.parse(await fs.readFile(args.vdsp, 'utf8')), args.vdsp);
  const session = await ort.InferenceSession.create(path.join(path.dirname(markerFile), marker.onnx));
  const [, c, mh, mw] = marker.inputShape;
  if (vdsp.cropWidth !== mw || vdsp.cropHeight !== mh) {
    throw new Error(`vdsp_params crop ${vdsp.cropWidth}x${vdsp.cropHeight} does not match the model input ${mw}x${mh}`);
  }
  const imageIn = 3 * vdsp.inputWidth * vdsp.inputHeight;
  const imageOut = 3 * mw! * mh!;
  let classes = 0;
  const infer = async (images: Uint8Array[]): Promise<Float32Array> => {
    const x = new Float32Array(images.length * imageOut);
    images.forEach((u8, k) => preprocess(u8, vdsp, x, k * imageOut));
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, [images.length, c!, mh!, mw!]) });
    const y = new Float32Array(out[session.outputNames[0]!]!.data as Float32Array);
    classes = y.length / images.length;
    if (marker.extraSoftmax) softmaxRows(y, classes);
    return y;
  };

  process.stdout.write(`${STAND_IN_MARKER} (vamp stand-in: ONNX Runtime on CPU, ${marker.precision} requested, run in fp32)\n`);
  process.stdout.write(`[max_batch_size_]: ${args.batch}\n[input_count]: 1\ninput[0]: [3,${vdsp.inputHeight},${vdsp.inputWidth}], dtype:u1\n`);
  const latencies: number[] = [];
  let samples = 0;
  const t0 = process.hrtime.bigint();
  process.stdout.write(`\n*** number of instances in each device:${args.instances} ****\nInference start time: [${stamp()}]\n`);
  const timed = async (images: Uint8Array[]) => {
    const s = process.hrtime.bigint();
    const y = await infer(images);
    latencies.push(Number(process.hrtime.bigint() - s) / 1e3);
    samples += images.length;
    return y;
  };
  if (args.datalist) {
    const files = (await fs.readFile(args.datalist, 'utf8')).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    await fs.mkdir(args.output!, { recursive: true });
    for (let i = 0; i < files.length; i += args.batch) {
      const group = files.slice(i, i + args.batch);
      const images = await Promise.all(
        group.map(async (f) => {
          const arr = decodeNpz(await fs.readFile(f), f)['input_0'];
          if (!arr || arr.dtype !== '|u1' || arr.data.length !== imageIn) {
            throw new Error(`${f}: input_0 must be uint8 [3,${vdsp.inputHeight},${vdsp.inputWidth}]`);
          }
          return arr.data;
        }),
      );
      const y = await timed(images);
      // One output file per input, named after it (the real tool's output naming is not relied upon).
      await Promise.all(
        group.map((f, k) =>
          fs.writeFile(
            path.join(args.output!, path.basename(f)),
            encodeNpz({ output_0: float32Npy(y.subarray(k * classes, (k + 1) * classes), [1, classes]) }),
          ),
        ),
      );
    }
  } else {
    const total = Number(process.env['VAMP_STANDIN_SAMPLES'] ?? Math.max(64, 8 * args.batch));
    const image = new Uint8Array(imageIn).map((_, i) => (i * 31) % 256);
    const batch = Array.from({ length: args.batch }, () => image);
    await infer(batch); // warm-up, not timed
    while (samples < total) await timed(batch);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(`Inference end time: [${stamp()}]\nnumber of samples in each process: ${samples}\nnumber of process:${args.processes}\n\n`);
  const sorted = [...latencies].sort((a, b) => a - b);
  const avg = latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length);
  const block = (name: string) =>
    `  ${name} latency (us):\n` +
    `    avg latency: ${Math.round(avg)}\n    min latency: ${Math.round(sorted[0] ?? 0)}\n    max latency: ${Math.round(sorted[sorted.length - 1] ?? 0)}\n` +
    [50, 90, 95, 99].map((p) => `    p${p} latency: ${Math.round(percentile(sorted, p))}\n`).join('');
  process.stdout.write(
    `- number of instances in each device: ${args.instances}\n  devices: [${args.devices.join(', ')}]\n  batch size: ${args.batch}\n` +
      `  samples: ${samples}\n  forwad time (s): ${seconds.toFixed(5)}\n  throughput (qps): ${(samples / seconds).toFixed(3)}\n` +
      block('e2e') + block('model'),
  );
  await session.release();
  return 0;
}

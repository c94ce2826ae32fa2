import type { PreprocessSpec } from '../preprocess/spec';
import { fromFp16Bits, roundFp16, toFp16Bits } from './fp16';
import type { Generation } from './generation';
import { centerOffset, vastNormalization, vdspResizeType } from './normalization';

/**
 * vdsp_params: the device-side preprocessing vamp applies to each uint8 RGB planar input before the
 * model. Generated from the variant's spec, never copied: resize, crop, normalization and colour order
 * all come from the one PreprocessSpec.
 *
 * `inputSize` is the side of the square images vamp is fed. Left out, it is the spec's resize size
 * (the zoo's own workflow). Equal to the crop size, the images are taken to be prepared already
 * (dataset-prep resized and cropped them with the spec's exact resampler), so the device does no
 * geometry at all: resize to the same size and a full-size crop are identities.
 */
export interface VdspGeometry {
  inputSize: number;
  /** Side the device resizes to (the shorter side; inputs are square). */
  resizeTo: number;
  crop: number;
  cropOffset: number;
}

export function vdspGeometry(spec: PreprocessSpec, inputSize?: number): VdspGeometry {
  const g = spec.geometry;
  const input = inputSize ?? g.resizeSize;
  if (!Number.isInteger(input) || input < g.cropSize) {
    throw new Error(`vdsp_params: input size ${input} must be an integer >= the crop size ${g.cropSize} (preset '${spec.name}')`);
  }
  const resizeTo = input === g.cropSize ? g.cropSize : g.resizeSize;
  return { inputSize: input, resizeTo, crop: g.cropSize, cropOffset: centerOffset(resizeTo, g.cropSize) };
}

type Prop = { Property: string; DType: string; ParamType: 'ELEMENT'; Value: string | number };

export interface Vdsp2023 {
  vdsp_op_type: string;
  config: Prop[];
}

export interface Vdsp2025 {
  OpType: string;
  OpConfig: Record<string, unknown>;
}

export function generateVdspParams(spec: PreprocessSpec, generation: Generation, inputSize?: number): Vdsp2023 | Vdsp2025 {
  const geo = vdspGeometry(spec, inputSize);
  const norm = vastNormalization(spec.normalize);
  const bgr = spec.normalize.channelOrder === 'BGR';
  const resizeType = vdspResizeType(spec.geometry);
  if (generation === '2023') {
    const p = (Property: string, DType: string, Value: string | number): Prop => ({ Property, DType, ParamType: 'ELEMENT', Value });
    return {
      vdsp_op_type: 'RGB_RESIZE_CVTCOLOR_CROP_NORMALIZATION_TENSORIZATION_U8',
      config: [
        p('iimage_format', 'UINT_32', 'RGB_PLANAR'),
        p('iimage_width', 'INT', geo.inputSize),
        p('iimage_height', 'INT', geo.inputSize),
        p('iimage_width_pitch', 'UINT_32', geo.inputSize),
        p('iimage_height_pitch', 'UINT_32', geo.inputSize),
        p('short_edge_threshold', 'INT', geo.resizeTo),
        p('crop_size', 'UINT_32', geo.crop),
        // mean/std are fp16 bit patterns, in the model's channel order (channel 0 first).
        p('meanr', 'UINT_16', toFp16Bits(norm.mean[0])),
        p('meang', 'UINT_16', toFp16Bits(norm.mean[1])),
        p('meanb', 'UINT_16', toFp16Bits(norm.mean[2])),
        p('stdr', 'UINT_16', toFp16Bits(norm.std[0])),
        p('stdg', 'UINT_16', toFp16Bits(norm.std[1])),
        p('stdb', 'UINT_16', toFp16Bits(norm.std[2])),
        p('norma_type', 'INT', norm.type),
        p('resize_type', 'INT', resizeType),
        p('color_cvt_code', 'UINT_16', bgr ? 'COLOR_RGB2BGR' : 'COLOR_NO_CHANGE'),
        p('color_space', 'UINT_16', 'COLOR_SPACE_BT709'),
      ],
    };
  }
  return {
    OpType: 'FUSION_OP_RGB_RESIZE_CVTCOLOR_CROP_NORM_TENSOR',
    OpConfig: {
      IimageFormat: 'RGB_PLANAR',
      IimageWidth: geo.inputSize,
      IimageHeight: geo.inputSize,
      OimageWidth: geo.crop,
      OimageHeight: geo.crop,
      CropX: geo.cropOffset,
      CropY: geo.cropOffset,
      ResizeWidth: geo.resizeTo,
      ResizeHeight: geo.resizeTo,
      IimageWidthPitch: geo.inputSize,
      IimageHeightPitch: geo.inputSize,
      Mean: norm.mean.map(roundFp16),
      Std: norm.std.map(roundFp16),
      NormaType: norm.type,
      ColorCvtCode: bgr ? 'RGB2BGR' : 'NO_CHANGE',
      ResizeType: resizeType,
    },
  };
}

/** What a vdsp_params file asks the device to do, whichever generation wrote it. */
export interface VdspSummary {
  generation: Generation;
  inputWidth: number;
  inputHeight: number;
  resizeWidth: number;
  resizeHeight: number;
  cropWidth: number;
  cropHeight: number;
  cropX: number;
  cropY: number;
  normType: string;
  mean: number[];
  std: number[];
  colorCvt: 'NO_CHANGE' | 'RGB2BGR' | string;
  resizeType: string;
}

export function parseVdspParams(obj: unknown, where: string): VdspSummary {
  const o = obj as Record<string, unknown>;
  const need = <T>(v: T | undefined, key: string): T => {
    if (v === undefined || v === null) throw new Error(`${where}: missing '${key}'`);
    return v;
  };
  if (o && typeof o === 'object' && Array.isArray(o['config'])) {
    const props = new Map((o['config'] as Prop[]).map((p) => [p.Property, p.Value]));
    const num = (k: string) => Number(need(props.get(k), k));
    const w = num('iimage_width');
    const h = num('iimage_height');
    const short = num('short_edge_threshold');
    const crop = num('crop_size');
    // Square or not, the shorter side goes to short_edge_threshold.
    const s = short / Math.min(w, h);
    const rw = Math.round(w * s);
    const rh = Math.round(h * s);
    return {
      generation: '2023',
      inputWidth: w,
      inputHeight: h,
      resizeWidth: rw,
      resizeHeight: rh,
      cropWidth: crop,
      cropHeight: crop,
      cropX: centerOffset(rw, crop),
      cropY: centerOffset(rh, crop),
      normType: String(need(props.get('norma_type'), 'norma_type')),
      mean: ['meanr', 'meang', 'meanb'].map((k) => fromFp16Bits(num(k))),
      std: ['stdr', 'stdg', 'stdb'].map((k) => fromFp16Bits(num(k))),
      colorCvt: String(props.get('color_cvt_code') ?? 'COLOR_NO_CHANGE').replace(/^COLOR_/, ''),
      resizeType: String(props.get('resize_type') ?? 'BILINEAR_CV'),
    };
  }
  if (o && typeof o === 'object' && o['OpConfig'] && typeof o['OpConfig'] === 'object') {
    const c = o['OpConfig'] as Record<string, unknown>;
    const num = (k: string) => Number(need(c[k], k));
    return {
      generation: '2025',
      inputWidth: num('IimageWidth'),
      inputHeight: num('IimageHeight'),
      resizeWidth: num('ResizeWidth'),
      resizeHeight: num('ResizeHeight'),
      cropWidth: num('OimageWidth'),
      cropHeight: num('OimageHeight'),
      cropX: num('CropX'),
      cropY: num('CropY'),
      normType: String(need(c['NormaType'], 'NormaType')),
      mean: (need(c['Mean'], 'Mean') as number[]).map(roundFp16),
      std: (need(c['Std'], 'Std') as number[]).map(roundFp16),
      colorCvt: String(c['ColorCvtCode'] ?? 'NO_CHANGE'),
      resizeType: String(c['ResizeType'] ?? 'BILINEAR_CV'),
    };
  }
  throw new Error(`${where}: neither a 2023 (vdsp_op_type + config) nor a 2025 (OpType + OpConfig) vdsp_params file`);
}

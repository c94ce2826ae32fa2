/**
 * One declarative preprocessing spec per variant. The geometric part (decode, resize, crop) decides the
 * uint8 tensors dataset-prep stores; the numeric part (scale/mean/std, channel order) is folded into the
 * model by vamc-build, so variants that differ only in normalization share one prepared dataset.
 */
export type Interpolation = 'bilinear' | 'bicubic' | 'nearest';
/** Which library's resampler to reproduce: Pillow (antialiased, fixed-point) or OpenCV (cv2.resize). */
export type ResizeBackend = 'pillow' | 'cv2';

export interface GeometrySpec {
  /** 'shorter': shorter side to `size` keeping aspect (torchvision Resize(int)); 'square': both sides. */
  resize: 'shorter' | 'square';
  resizeSize: number;
  interpolation: Interpolation;
  backend: ResizeBackend;
  /** Center crop to cropSize x cropSize after resizing. */
  cropSize: number;
}

export interface NormalizeSpec {
  /** Applied as ((x * scale) - mean) / std per channel, x in [0, 255], channels in `channelOrder`. */
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
  /** Channel order the model expects; mean/std are in this order. Stored tensors are always RGB. */
  channelOrder: 'RGB' | 'BGR';
}

export interface PreprocessSpec {
  name: string;
  geometry: GeometrySpec;
  normalize: NormalizeSpec;
}

const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

export const PRESETS: Record<string, PreprocessSpec> = {
  // transforms.Resize(256) + CenterCrop(224) + ToTensor + Normalize (the zoo page's pipeline).
  torchvision: {
    name: 'torchvision',
    geometry: { resize: 'shorter', resizeSize: 256, interpolation: 'bilinear', backend: 'pillow', cropSize: 224 },
    normalize: { scale: 1 / 255, mean: IMAGENET_MEAN, std: IMAGENET_STD, channelOrder: 'RGB' },
  },
  // timm mobilenetv2_100 default_cfg: bicubic, crop_pct 0.875 -> Resize(int(224 / 0.875) = 256).
  timm: {
    name: 'timm',
    geometry: { resize: 'shorter', resizeSize: 256, interpolation: 'bicubic', backend: 'pillow', cropSize: 224 },
    normalize: { scale: 1 / 255, mean: IMAGENET_MEAN, std: IMAGENET_STD, channelOrder: 'RGB' },
  },
  // mmcls mobilenet_v2 config: Resize((256, -1)) with the cv2 backend, CenterCrop(224), to_rgb.
  mmcls: {
    name: 'mmcls',
    geometry: { resize: 'shorter', resizeSize: 256, interpolation: 'bilinear', backend: 'cv2', cropSize: 224 },
    normalize: {
      scale: 1,
      mean: [123.675, 116.28, 103.53],
      std: [58.395, 57.12, 57.375],
      channelOrder: 'RGB',
    },
  },
  // keras.applications.mobilenet_v2.preprocess_input ("tf" mode): x / 127.5 - 1.
  keras: {
    name: 'keras',
    geometry: { resize: 'shorter', resizeSize: 256, interpolation: 'bilinear', backend: 'pillow', cropSize: 224 },
    normalize: { scale: 1 / 127.5, mean: [1, 1, 1], std: [1, 1, 1], channelOrder: 'RGB' },
  },
  // PaddleClas ResizeImage(resize_short=256) (cv2) + CropImage(224) + NormalizeImage(scale 1/255).
  ppcls: {
    name: 'ppcls',
    geometry: { resize: 'shorter', resizeSize: 256, interpolation: 'bilinear', backend: 'cv2', cropSize: 224 },
    normalize: { scale: 1 / 255, mean: IMAGENET_MEAN, std: IMAGENET_STD, channelOrder: 'RGB' },
  },
};

export function resolvePreset(nameOrSpec: string | PreprocessSpec, where = 'preprocess'): PreprocessSpec {
  if (typeof nameOrSpec !== 'string') return nameOrSpec;
  const spec = PRESETS[nameOrSpec];
  if (!spec) {
    throw new Error(`${where}: unknown preprocessing preset '${nameOrSpec}' (known: ${Object.keys(PRESETS).join(', ')})`);
  }
  return spec;
}

/** A stable identity for the stored tensors: two specs with equal geometry share a prepared dataset. */
export function geometryKey(g: GeometrySpec): string {
  return `${g.backend}-${g.interpolation}-${g.resize}${g.resizeSize}-crop${g.cropSize}`;
}

export function sameGeometry(a: GeometrySpec, b: GeometrySpec): boolean {
  return geometryKey(a) === geometryKey(b);
}

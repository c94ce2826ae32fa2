import type { CheckpointFormat } from './mobilenetv2-keys';

/**
 * Official pretrained MobileNetV2 weights for each seed row of the model-zoo page. `sha256` is what the
 * publisher states: torchvision, timm and OpenMMLab put the first 8 hex digits of the file's sha256 in
 * the file name (torch hub's check_hash convention), which resolveWeights accepts as a prefix. Keras
 * and PaddleClas publish no checksum; their `sha256` is null until someone pins the full hash from a
 * trusted download (resolveWeights refuses an unpinned URL).
 */
export interface OfficialWeights {
  row: string;
  format: CheckpointFormat;
  width: number;
  url: string;
  sha256: string | null;
  source: string;
}

const PADDLE = 'https://paddle-imagenet-models-name.bj.bcebos.com/dygraph';
const PADDLE_SRC = 'PaddleClas ppcls/arch/backbone/model_zoo/mobilenet_v2.py MODEL_URLS';

export const OFFICIAL_WEIGHTS: OfficialWeights[] = [
  {
    row: 'torchvision-mobilenet_v2',
    format: 'torchvision',
    width: 1.0,
    url: 'https://download.pytorch.org/models/mobilenet_v2-b0353104.pth',
    sha256: 'b0353104',
    source: 'torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1 (71.878 top-1, as on the page)',
  },
  {
    row: 'timm-mobilenetv2_100',
    format: 'timm',
    width: 1.0,
    url: 'https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/mobilenetv2_100_ra-b33bc2c4.pth',
    sha256: 'b33bc2c4',
    source: "timm efficientnet.py default_cfgs 'mobilenetv2_100.ra_in1k'",
  },
  {
    row: 'mmcls-mobilenet_v2',
    format: 'mmcls',
    width: 1.0,
    url: 'https://download.openmmlab.com/mmclassification/v0/mobilenet_v2/mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth',
    sha256: '3b2dc3af',
    source: 'mmclassification configs/mobilenet_v2 README (mobilenet-v2_8xb32_in1k)',
  },
  {
    row: 'keras-mobilenet_v2',
    format: 'keras',
    width: 1.0,
    url: 'https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5',
    sha256: null,
    source: 'keras.applications.mobilenet_v2 BASE_WEIGHT_PATH (loaded without file_hash)',
  },
  ...(
    [
      ['x0_25', 0.25],
      ['x0_5', 0.5],
      ['x0_75', 0.75],
      ['', 1.0],
      ['x1_5', 1.5],
      ['x2_0', 2.0],
    ] as const
  ).map(
    ([tag, width]): OfficialWeights => ({
      row: `ppcls-MobileNetV2${tag ? `_${tag}` : ''}`,
      format: 'paddle',
      width,
      url: `${PADDLE}/MobileNetV2${tag ? `_${tag}` : ''}_pretrained.pdparams`,
      sha256: null,
      source: PADDLE_SRC,
    }),
  ),
  {
    row: 'ppcls-MobileNetV2_ssld',
    format: 'paddle',
    width: 1.0,
    url: `${PADDLE}/MobileNetV2_ssld_pretrained.pdparams`,
    sha256: null,
    source: 'PaddleClas load_dygraph_pretrain(use_ssld=True): MODEL_URLS["MobileNetV2"] with _pretrained -> _ssld_pretrained',
  },
];

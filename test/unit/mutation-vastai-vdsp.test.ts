import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REFERENCE_DIR } from '../helpers/shared';
import { PRESETS, type PreprocessSpec } from '../../plugins/modelzoo/src/lib/preprocess/spec';
import { generateVdspParams, parseVdspParams, vdspGeometry } from '../../plugins/modelzoo/src/lib/vastai/vdsp-params';

/**
 * vdsp_params documents pinned whole, with values worked out by hand: fp16 bit patterns of powers of two
 * are (exponent + 15) << 10 (128 -> 22528, 64 -> 21504, 32 -> 20480, 2 -> 16384, 4 -> 17408,
 * 0.5 -> 14336), and torchvision's centre crop offset is round-half-even((from - to) / 2).
 */
const tiny: PreprocessSpec = {
  name: 'tiny',
  geometry: { resize: 'shorter', resizeSize: 8, interpolation: 'bilinear', backend: 'cv2', cropSize: 5 },
  normalize: { scale: 1, mean: [128, 64, 32], std: [2, 4, 0.5], channelOrder: 'BGR' },
};

const prop = (Property: string, DType: string, Value: string | number) => ({ Property, DType, ParamType: 'ELEMENT', Value });

/** tiny's mean [128, 64, 32] and std [2, 4, 0.5] as 2023 properties (fp16 bit patterns, worked out above). */
const tinyMeanStd = [
  prop('meanr', 'UINT_16', 22528),
  prop('meang', 'UINT_16', 21504),
  prop('meanb', 'UINT_16', 20480),
  prop('stdr', 'UINT_16', 16384),
  prop('stdg', 'UINT_16', 17408),
  prop('stdb', 'UINT_16', 14336),
];

type Pair = [number, number];

/** parseVdspParams' whole result for a file without ColorCvtCode / ResizeType (their defaults). */
const parsed = (generation: '2023' | '2025', [inputWidth, inputHeight]: Pair, [resizeWidth, resizeHeight]: Pair, [cropWidth, cropHeight]: Pair, [cropX, cropY]: Pair, normType: string, mean: number[], std: number[]) => ({
  generation, inputWidth, inputHeight, resizeWidth, resizeHeight, cropWidth, cropHeight, cropX, cropY, normType, mean, std, colorCvt: 'NO_CHANGE', resizeType: 'BILINEAR_CV',
});

/** Each key, left out (`without`) and then set to null (`nulled`), is refused as `<file>: missing '<key>'`. */
function assertEachMissingNamed(file: string, keys: string[], without: (key: string) => unknown, nulled: (key: string) => unknown): void {
  for (const key of keys) {
    assert.throws(() => parseVdspParams(without(key), file), (e: Error) => e.message === `${file}: missing '${key}'`, key);
    assert.throws(() => parseVdspParams(nulled(key), file), (e: Error) => e.message === `${file}: missing '${key}'`, `${key} null`);
  }
}

test('2023 document: every property, its DType and order; BGR, no div255, input 11 resized to 8, crop 5', () => {
  assert.deepStrictEqual(generateVdspParams(tiny, '2023', 11), {
    vdsp_op_type: 'RGB_RESIZE_CVTCOLOR_CROP_NORMALIZATION_TENSORIZATION_U8',
    config: [
      prop('iimage_format', 'UINT_32', 'RGB_PLANAR'),
      prop('iimage_width', 'INT', 11),
      prop('iimage_height', 'INT', 11),
      prop('iimage_width_pitch', 'UINT_32', 11),
      prop('iimage_height_pitch', 'UINT_32', 11),
      prop('short_edge_threshold', 'INT', 8),
      prop('crop_size', 'UINT_32', 5),
      ...tinyMeanStd,
      prop('norma_type', 'INT', 'MINUSMEAN_DIVSTD'),
      prop('resize_type', 'INT', 'BILINEAR_CV'),
      prop('color_cvt_code', 'UINT_16', 'COLOR_RGB2BGR'),
      prop('color_space', 'UINT_16', 'COLOR_SPACE_BT709'),
    ],
  });
});

test('2025 document: every key in order; crop offset (8 - 5) / 2 = 1.5 rounds half to even = 2', () => {
  const doc = generateVdspParams(tiny, '2025', 11);
  assert.deepStrictEqual(doc, {
    OpType: 'FUSION_OP_RGB_RESIZE_CVTCOLOR_CROP_NORM_TENSOR',
    OpConfig: {
      IimageFormat: 'RGB_PLANAR',
      IimageWidth: 11,
      IimageHeight: 11,
      OimageWidth: 5,
      OimageHeight: 5,
      CropX: 2,
      CropY: 2,
      ResizeWidth: 8,
      ResizeHeight: 8,
      IimageWidthPitch: 11,
      IimageHeightPitch: 11,
      Mean: [128, 64, 32],
      Std: [2, 4, 0.5],
      NormaType: 'MINUSMEAN_DIVSTD',
      ColorCvtCode: 'RGB2BGR',
      ResizeType: 'BILINEAR_CV',
    },
  });
  assert.deepEqual(Object.keys((doc as { OpConfig: object }).OpConfig).slice(0, 3), ['IimageFormat', 'IimageWidth', 'IimageHeight']);
  // RGB models keep the channel order in both generations.
  const rgb: PreprocessSpec = { ...tiny, normalize: { ...tiny.normalize, channelOrder: 'RGB' } };
  assert.equal((generateVdspParams(rgb, '2025') as unknown as { OpConfig: { ColorCvtCode: string } }).OpConfig.ColorCvtCode, 'NO_CHANGE');
  const c23 = (generateVdspParams(rgb, '2023') as { config: { Property: string; Value: unknown }[] }).config;
  assert.equal(c23.find((p) => p.Property === 'color_cvt_code')!.Value, 'COLOR_NO_CHANGE');
});

test('2025 Mean/Std are the fp16-rounded values the device uses (0.485 -> 0.485107421875, as the zoo writes)', () => {
  const doc = generateVdspParams(PRESETS['torchvision']!, '2025') as unknown as { OpConfig: { Mean: number[]; Std: number[] } };
  assert.deepEqual(doc.OpConfig.Mean, [0.485107421875, 0.4560546875, 0.406005859375]);
  assert.deepEqual(doc.OpConfig.Std, [0.22900390625, 0.2239990234375, 0.2249755859375]);
  const c23 = (generateVdspParams(PRESETS['torchvision']!, '2023') as { config: { Property: string; Value: unknown }[] }).config;
  assert.deepEqual(c23.slice(7, 13).map((p) => p.Value), [14275, 14156, 13951, 13140, 13099, 13107]);
});

test('vdspGeometry: default input is the resize size; input == crop means prepared (no geometry); bounds', () => {
  assert.deepEqual(vdspGeometry(tiny), { inputSize: 8, resizeTo: 8, crop: 5, cropOffset: 2 });
  assert.deepEqual(vdspGeometry(tiny, 5), { inputSize: 5, resizeTo: 5, crop: 5, cropOffset: 0 });
  assert.deepEqual(vdspGeometry(tiny, 6), { inputSize: 6, resizeTo: 8, crop: 5, cropOffset: 2 });
  assert.deepEqual(vdspGeometry(PRESETS['timm']!, 300), { inputSize: 300, resizeTo: 256, crop: 224, cropOffset: 16 });
  assert.throws(() => vdspGeometry(tiny, 4), (e: Error) => e.message === "vdsp_params: input size 4 must be an integer >= the crop size 5 (preset 'tiny')");
  assert.throws(() => vdspGeometry(tiny, 5.5), (e: Error) => e.message === "vdsp_params: input size 5.5 must be an integer >= the crop size 5 (preset 'tiny')");
  assert.throws(() => generateVdspParams(tiny, '2023', 4), /input size 4 must be an integer >= the crop size 5/);
});

test('parse 2023: a non-square input scales its shorter side to short_edge_threshold; crop centred per axis', () => {
  const doc = {
    vdsp_op_type: 'X',
    config: [
      prop('iimage_width', 'INT', 320),
      prop('iimage_height', 'INT', 240),
      prop('short_edge_threshold', 'INT', 256),
      prop('crop_size', 'UINT_32', 224),
      ...tinyMeanStd,
      prop('norma_type', 'INT', 'MINUSMEAN_DIVSTD'),
    ],
  };
  // 320 * 256 / 240 = 341.33 -> 341; (341 - 224) / 2 = 58.5 -> 58 (even); (256 - 224) / 2 = 16.
  assert.deepStrictEqual(
    parseVdspParams(doc, 'd.json'),
    parsed('2023', [320, 240], [341, 256], [224, 224], [58, 16], 'MINUSMEAN_DIVSTD', [128, 64, 32], [2, 4, 0.5]),
  );
  // Portrait: the width is the shorter side.
  const tall = { ...doc, config: doc.config.map((p) => (p.Property === 'iimage_width' ? { ...p, Value: 240 } : p.Property === 'iimage_height' ? { ...p, Value: 320 } : p)) };
  const t = parseVdspParams(tall, 'd.json');
  assert.deepEqual([t.resizeWidth, t.resizeHeight, t.cropX, t.cropY], [256, 341, 16, 58]);
  // Only a leading COLOR_ is removed; resize_type is taken as written.
  const more = { ...doc, config: [...doc.config, prop('color_cvt_code', 'UINT_16', 'COLOR_RGB2BGR'), prop('resize_type', 'INT', 'BICUBIC_PILLOW')] };
  const m = parseVdspParams(more, 'd.json');
  assert.deepEqual([m.colorCvt, m.resizeType], ['RGB2BGR', 'BICUBIC_PILLOW']);
  const odd = { ...doc, config: [...doc.config, prop('color_cvt_code', 'UINT_16', 'MY_COLOR_X')] };
  assert.equal(parseVdspParams(odd, 'd.json').colorCvt, 'MY_COLOR_X');
});

test('parse 2023: each missing (or null) property is named with the file', () => {
  const full = generateVdspParams(tiny, '2023', 11) as { config: { Property: string; Value: unknown }[] };
  assertEachMissingNamed(
    'p/v.json',
    ['iimage_width', 'iimage_height', 'short_edge_threshold', 'crop_size', 'norma_type', 'meanr', 'meang', 'meanb', 'stdr', 'stdg', 'stdb'],
    (key) => ({ ...full, config: full.config.filter((p) => p.Property !== key) }),
    (key) => ({ ...full, config: full.config.map((p) => (p.Property === key ? { ...p, Value: null } : p)) }),
  );
});

test('parse 2025: values as written, Mean/Std rounded to fp16, defaults for the optional keys', () => {
  const OpConfig = {
    IimageWidth: 300, IimageHeight: 200, ResizeWidth: 384, ResizeHeight: 256, OimageWidth: 224, OimageHeight: 220,
    CropX: 80, CropY: 18, NormaType: 'DIV255_MINUSMEAN_DIVSTD', Mean: [0.485, 1, 0.1], Std: [0.229, 2, 3],
  };
  assert.deepStrictEqual(
    parseVdspParams({ OpType: 'X', OpConfig }, 'n.json'),
    parsed('2025', [300, 200], [384, 256], [224, 220], [80, 18], 'DIV255_MINUSMEAN_DIVSTD', [0.485107421875, 1, 0.0999755859375], [0.22900390625, 2, 3]),
  );
  const set = parseVdspParams({ OpConfig: { ...OpConfig, ColorCvtCode: 'RGB2BGR', ResizeType: 'NEAREST' } }, 'n.json');
  assert.deepEqual([set.colorCvt, set.resizeType], ['RGB2BGR', 'NEAREST']);
  assertEachMissingNamed(
    'n.json',
    Object.keys(OpConfig),
    (key) => {
      const without: Record<string, unknown> = { ...OpConfig };
      delete without[key];
      return { OpConfig: without };
    },
    (key) => ({ OpConfig: { ...OpConfig, [key]: null } }),
  );
});

test('parse: anything else is refused with one message naming the file', () => {
  const msg = 'w.json: neither a 2023 (vdsp_op_type + config) nor a 2025 (OpType + OpConfig) vdsp_params file';
  for (const bad of [null, undefined, 42, 'config', [], { config: 'x' }, { config: {} }, { OpConfig: 'RGB' }, { OpConfig: null }, { OpConfig: 0 }]) {
    assert.throws(() => parseVdspParams(bad, 'w.json'), (e: Error) => e.message === msg, JSON.stringify(bad) ?? 'undefined');
  }
  // Only objects are read: a function carrying the same keys (not something JSON.parse can produce, but
  // the argument is `unknown`) is refused rather than read through its properties.
  const full23 = generateVdspParams(tiny, '2023', 11) as { config: unknown[] };
  const fn23 = Object.assign(() => undefined, { config: full23.config });
  assert.throws(() => parseVdspParams(fn23, 'w.json'), (e: Error) => e.message === msg);
  const full25 = generateVdspParams(tiny, '2025', 11) as { OpConfig: object };
  const fn25 = Object.assign(() => undefined, { OpConfig: full25.OpConfig });
  assert.throws(() => parseVdspParams(fn25, 'w.json'), (e: Error) => e.message === msg);
  // The same keys on a plain object do parse.
  assert.equal(parseVdspParams({ config: full23.config }, 'w.json').inputWidth, 11);
  assert.equal(parseVdspParams({ OpConfig: full25.OpConfig }, 'w.json').cropX, 2);
});

const ZOO = path.join(REFERENCE_DIR, 'vastmodelzoo');
const skip = fs.existsSync(ZOO) ? false : `reference configs not found at ${ZOO}`;

test("the zoo's real vdsp_params files (2023 and 2025) parse to the device request they describe", { skip }, () => {
  const read = (rel: string) => JSON.parse(fs.readFileSync(path.join(ZOO, rel), 'utf8')) as unknown;
  const expected = {
    inputWidth: 256, inputHeight: 256, resizeWidth: 256, resizeHeight: 256, cropWidth: 224, cropHeight: 224, cropX: 16, cropY: 16,
    normType: 'DIV255_MINUSMEAN_DIVSTD', mean: [0.485107421875, 0.4560546875, 0.406005859375], std: [0.22900390625, 0.2239990234375, 0.2249755859375],
    colorCvt: 'NO_CHANGE', resizeType: 'BILINEAR_CV',
  };
  assert.deepStrictEqual(parseVdspParams(read('2023/torchvision-mobilenet_v2-vdsp_params.json'), 'a'), { generation: '2023', ...expected });
  assert.deepStrictEqual(parseVdspParams(read('2025/torchvision-mobilenet_v2-vdsp_params.json'), 'b'), { generation: '2025', ...expected });
});

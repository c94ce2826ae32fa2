import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REFERENCE_DIR } from '../helpers/shared';
import { PRESETS } from '../../plugins/modelzoo/src/lib/preprocess/spec';
import type { Generation } from '../../plugins/modelzoo/src/lib/vastai/generation';
import { generateVamcConfig, parseVamcYaml, vamcConfigToYaml } from '../../plugins/modelzoo/src/lib/vastai/vamc-config';
import { vamcConfigErrors } from '../../plugins/modelzoo/src/lib/vastai/vamc-schema';
import { generateVdspParams } from '../../plugins/modelzoo/src/lib/vastai/vdsp-params';

/**
 * Every config in the zoo's reference copies, regenerated from the variant's one spec, compared field
 * by field. A difference is allowed only where it is listed below with the reason the reference is
 * wrong; a listed exception that stops differing fails too, so the list stays true.
 */
const ZOO = path.join(REFERENCE_DIR, 'vastmodelzoo');
const skip = fs.existsSync(ZOO) ? false : `reference configs not found at ${ZOO}`;

const RESIZE_SHORTER =
  'the frameworks resize the shorter side to 256 (torchvision Resize(256), timm crop_pct, mmcls Resize((256, -1)), ' +
  'ppcls resize_short=256, keras preset) and keep the aspect ratio; the zoo squashes every image to 256x256. ' +
  "The spec's 'shorter' maps to an int size (shorter side, as torchvision reads it); our own builds feed prepared " +
  'calibration images and emit no Resize at all.';
const KERAS_MEAN =
  'Keras MobileNetV2 expects x / 127.5 - 1 (preprocess_input "tf" mode) = (x - 127.5) / 127.5; the zoo copied ' +
  "caffe's BGR means 103.939/116.779/123.68 with std 1, which feeds the model values in [-124, 152].";
const PILLOW_RESIZE =
  'the spec resamples with Pillow (torchvision/timm/keras load images with PIL) and the device has Pillow-exact ' +
  'kernels; the zoo writes BILINEAR_CV (OpenCV) for every variant, including bicubic timm.';

/** Build options that are not part of the preprocessing spec: the zoo's choices per variant. */
interface Variant {
  preset: string;
  softmax: boolean;
}
const VARIANTS: Record<string, Variant> = {
  torchvision: { preset: 'torchvision', softmax: true },
  timm: { preset: 'timm', softmax: true },
  mmcls: { preset: 'mmcls', softmax: false },
  keras: { preset: 'keras', softmax: false },
  ppcls: { preset: 'ppcls', softmax: false },
};

/** field path -> reason, per reference file. */
const VAMC_EXCEPTIONS: Record<string, Record<string, string>> = {
  '2023/torchvision_mobilenetv2.yaml': { 'dataset.transform_ops.1.size': RESIZE_SHORTER },
  '2023/timm_mobilenetv2.yaml': { 'dataset.transform_ops.1.size': RESIZE_SHORTER },
  '2023/mmcls_mobilenetv2.yaml': { 'dataset.transform_ops.1.size': RESIZE_SHORTER },
  '2023/ppcls_mobilenetv2.yaml': { 'dataset.transform_ops.1.size': RESIZE_SHORTER },
  '2023/keras_mobilenetv2.yaml': {
    'dataset.transform_ops.1.size': RESIZE_SHORTER,
    'dataset.transform_ops.3.mean': KERAS_MEAN,
    'dataset.transform_ops.3.std': KERAS_MEAN,
  },
  '2025/torchvision_mobilenetv2.yaml': { 'dataset.process_ops.1.size': RESIZE_SHORTER },
  '2025/timm_mobilenetv2.yaml': { 'dataset.process_ops.1.size': RESIZE_SHORTER },
  '2025/ppcls_mobilenetv2.yaml': { 'dataset.process_ops.1.size': RESIZE_SHORTER },
};

const VDSP_EXCEPTIONS: Record<string, Record<string, string>> = {
  '2023/torchvision-mobilenet_v2-vdsp_params.json': { 'config.14.Value': PILLOW_RESIZE },
  '2023/timm-mobilenetv2_100-vdsp_params.json': { 'config.14.Value': PILLOW_RESIZE },
  '2023/keras-mobilenet_v2-vdsp_params.json': {
    'config.7.Value': KERAS_MEAN,
    'config.8.Value': KERAS_MEAN,
    'config.9.Value': KERAS_MEAN,
    'config.10.Value': KERAS_MEAN,
    'config.11.Value': KERAS_MEAN,
    'config.12.Value': KERAS_MEAN,
    'config.14.Value': PILLOW_RESIZE,
  },
  '2025/torchvision-mobilenet_v2-vdsp_params.json': { 'OpConfig.ResizeType': PILLOW_RESIZE },
  '2025/timm-mobilenetv2_100-vdsp_params.json': { 'OpConfig.ResizeType': PILLOW_RESIZE },
};

function diffPaths(a: unknown, b: unknown, at = ''): string[] {
  if (a === b) return [];
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length && typeof a[0] === 'object') {
    return a.flatMap((v, i) => diffPaths(v, b[i], `${at}${at ? '.' : ''}${i}`));
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => diffPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}${at ? '.' : ''}${k}`));
  }
  try {
    assert.deepStrictEqual(a, b);
    return [];
  } catch {
    return [at];
  }
}

function variantOf(file: string): Variant {
  const source = path.basename(file).split(/[_-]/)[0]!;
  const v = VARIANTS[source];
  if (!v) throw new Error(`no variant for ${file}`);
  return v;
}

function checkAgainst(rel: string, generated: unknown, reference: unknown, exceptions: Record<string, string>): void {
  const diffs = diffPaths(generated, reference).sort();
  const expected = Object.keys(exceptions).sort();
  assert.deepEqual(
    diffs,
    expected,
    `${rel}: generated differs at [${diffs.join(', ')}], listed exceptions are [${expected.join(', ')}]`,
  );
  for (const reason of Object.values(exceptions)) assert.ok(reason.length > 20, 'every exception gives its reason');
}

const yamlFiles = (gen: Generation) =>
  fs.existsSync(path.join(ZOO, gen)) ? fs.readdirSync(path.join(ZOO, gen)).filter((f) => f.endsWith('.yaml')).sort() : [];
const jsonFiles = (gen: Generation) =>
  fs.existsSync(path.join(ZOO, gen)) ? fs.readdirSync(path.join(ZOO, gen)).filter((f) => f.endsWith('-vdsp_params.json')).sort() : [];

test('the reference set is the one the exception lists were written for', { skip }, () => {
  const yamls = (['2023', '2025'] as const).flatMap((g) => yamlFiles(g).map((f) => `${g}/${f}`));
  assert.deepEqual(yamls.sort(), Object.keys(VAMC_EXCEPTIONS).sort());
  assert.equal(jsonFiles('2023').length + jsonFiles('2025').length, 14);
});

for (const gen of ['2023', '2025'] as const) {
  test(`vamc ${gen}: every reference config is regenerated from its spec, exceptions listed`, { skip }, () => {
    for (const file of yamlFiles(gen)) {
      const rel = `${gen}/${file}`;
      const ref = parseVamcYaml(fs.readFileSync(path.join(ZOO, gen, file), 'utf8'), rel) as Record<string, any>;
      assert.deepEqual(vamcConfigErrors(ref, gen), [], `${rel} itself passes the ${gen} schema`);
      const v = variantOf(file);
      const generated = generateVamcConfig(
        {
          name: gen === '2023' ? ref.model.name : 'mobilenet_v2',
          configName: gen === '2025' ? ref.name : undefined,
          // Where the model file lives is a build input, not something the spec decides.
          checkpoint: gen === '2023' ? ref.model.checkpoint : ref.frontend.checkpoint,
          inputShape: [1, 3, 224, 224],
          spec: PRESETS[v.preset]!,
          precision: 'int8',
          quantization: { calibrate_mode: 'percentile', per_channel: true, calibration_count: gen === '2023' ? 1000 : 50 },
          extraSoftmax: v.softmax,
          calibration: { path: ref.dataset.path, suffix: 'JPEG' },
          workDir: gen === '2023' ? ref.workspace.work_dir : ref.workspace.path,
        },
        gen,
      );
      assert.deepEqual(vamcConfigErrors(generated, gen), [], `generated ${rel} passes the schema`);
      // What is written to disk reads back to the same object.
      assert.deepEqual(parseVamcYaml(vamcConfigToYaml(generated), rel), generated);
      checkAgainst(rel, generated, ref, VAMC_EXCEPTIONS[rel] ?? {});
    }
  });

  test(`vdsp_params ${gen}: every reference file is regenerated from its spec, exceptions listed`, { skip }, () => {
    for (const file of jsonFiles(gen)) {
      const rel = `${gen}/${file}`;
      const ref = JSON.parse(fs.readFileSync(path.join(ZOO, gen, file), 'utf8'));
      const generated = generateVdspParams(PRESETS[variantOf(file).preset]!, gen);
      checkAgainst(rel, generated, ref, VDSP_EXCEPTIONS[rel] ?? {});
    }
  });
}

test('keras exceptions: what the zoo feeds is caffe BGR means, ours is the tf-mode normalization', { skip }, () => {
  const ref = JSON.parse(fs.readFileSync(path.join(ZOO, '2023', 'keras-mobilenet_v2-vdsp_params.json'), 'utf8'));
  const gen = generateVdspParams(PRESETS['keras']!, '2023') as { config: { Property: string; Value: unknown }[] };
  const val = (c: { Property: string; Value: unknown }[], k: string) => c.find((p) => p.Property === k)!.Value;
  assert.equal(val(ref.config, 'meanr'), 22143); // fp16 of 103.94: caffe's B mean in the R slot
  assert.equal(val(gen.config, 'meanr'), 22520); // fp16 of 127.5
  assert.equal(val(gen.config, 'stdr'), 22520);
  assert.equal(val(gen.config, 'norma_type'), 'MINUSMEAN_DIVSTD');
});

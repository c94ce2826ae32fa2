import * as fs from 'node:fs';
import * as path from 'node:path';

/** ../shared beside the checkout (or MODELZOO_SHARED). Tests that need it skip cleanly when absent. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const SHARED_DIR = process.env['MODELZOO_SHARED'] ?? path.resolve(REPO_ROOT, '..', 'shared');
export const SAMPLE_DIR = path.join(SHARED_DIR, 'data', 'imagenet-sample');
export const TF_MODEL = path.join(SHARED_DIR, 'models', 'mobilenetv2-1.0-224-tf', 'model.onnx');
export const REFERENCE_DIR = path.join(SHARED_DIR, 'reference');

export const hasShared = fs.existsSync(path.join(SAMPLE_DIR, 'val_label.txt')) && fs.existsSync(TF_MODEL);
/** Pass as the `skip` option of node:test's test(). */
export const skipWithoutShared: string | false = hasShared ? false : `../shared not found at ${SHARED_DIR}`;

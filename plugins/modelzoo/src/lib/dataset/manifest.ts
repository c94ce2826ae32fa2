import type { GeometrySpec } from '../preprocess/spec';

/**
 * What dataset-prep writes and every later stage reads. Tensors are uint8, RGB, CHW, stored in shards
 * of raw bytes: `count * 3 * cropSize * cropSize` bytes each, images in datalist order.
 */
export interface DatasetManifest {
  format: 'modelzoo-uint8-chw/1';
  geometry: GeometrySpec;
  /** [3, H, W] of one image. */
  shape: [number, number, number];
  count: number;
  classes: number;
  /** true when the built-in demo images were used instead of ImageNet val. */
  demo: boolean;
  /**
   * Content identity of the images and labels (lib/dataset/fingerprint.ts): no folder path, no time, so
   * the same images anywhere give the same manifest and downstream cache keys.
   */
  source: { fingerprint: string };
  shards: { file: string; count: number; sha256: string }[];
  /** One line per image, datalist order: `relative/file.JPEG label`. */
  datalist: string;
  /** sha256 of the datalist file (checked by the reader; absent in older outputs). */
  datalistSha256?: string;
  /** Indices (into the datalist) of the class-balanced calibration subset. */
  calibration: {
    file: string;
    count: number;
    /** sha256 of `file` (the index list). */
    sha256: string;
    /** calibration.json: files, labels, indices and `tensorsSha256` (absent in older outputs). */
    json?: string;
    /** sha256 over the calibration images' uint8 tensors in calibration order. */
    tensorsSha256?: string;
  };
  skipped: { file: string; reason: string }[];
}

/**
 * `geometry.json`: the part of the manifest a build reads (tensor layout). A build's Nx inputs hash this
 * file and calibration.json only, so an image outside the calibration subset never invalidates a
 * compiled model.
 */
export const GEOMETRY_FILE = 'geometry.json';
export type GeometryJson = Pick<DatasetManifest, 'format' | 'geometry' | 'shape' | 'classes'>;

export function geometryOf(m: GeometryJson): GeometryJson {
  return { format: m.format, geometry: m.geometry, shape: m.shape, classes: m.classes };
}

export interface DatasetEntry {
  file: string;
  label: number;
}

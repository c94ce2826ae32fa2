/** What the vamc stand-in writes beside the model (`<prefix>.json`) and the vamp stand-in reads back. */
export interface StandInModel {
  stand_in: true;
  generator: 'vamc stand-in';
  generation: '2023' | '2025';
  precision: 'int8' | 'fp16';
  /** The ONNX file the stand-in runs, relative to the marker. */
  onnx: string;
  inputName: string;
  inputShape: number[];
  extraSoftmax: boolean;
  calibration?: { mode: string; images: number; requested: number };
}

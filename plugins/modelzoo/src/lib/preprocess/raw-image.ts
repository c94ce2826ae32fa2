/** Decoded pixels, interleaved. One channel means grey, replicated to R=G=B when the crop is written. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

/** Resamplers trust width*height*channels; a short buffer would otherwise read as silent zeros. */
export function checkRaw(img: RawImage, where: string): void {
  if (img.data.length < img.width * img.height * img.channels) {
    throw new Error(`${where}: pixel buffer has ${img.data.length} bytes, expected ${img.width * img.height * img.channels}`);
  }
}

/**
 * Just enough of a JPEG marker walk to learn the frame size and component count before decoding: grey
 * JPEGs can then be decoded as one channel instead of three, CMYK ones routed around libvips' colour
 * management, and only the rectangle the crop window reads decoded, without a separate metadata pass.
 */
export interface JpegHeader {
  components: number;
  /** Frame size from SOF; height 0 means it is only defined later (DNL marker). */
  width: number;
  height: number;
}

export function readJpegHeader(buf: Uint8Array): JpegHeader | null {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return null;
  let p = 2;
  while (p + 4 <= buf.length) {
    if (buf[p] !== 0xff) return null;
    const marker = buf[p + 1]!;
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      p += 2;
      continue;
    }
    const len = (buf[p + 2]! << 8) | buf[p + 3]!;
    if (len < 2) return null;
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the component count.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (p + 10 > buf.length) return null;
      return { components: buf[p + 9]!, height: (buf[p + 5]! << 8) | buf[p + 6]!, width: (buf[p + 7]! << 8) | buf[p + 8]! };
    }
    if (marker === 0xda || marker === 0xd9) return null;
    p += 2 + len;
  }
  return null;
}

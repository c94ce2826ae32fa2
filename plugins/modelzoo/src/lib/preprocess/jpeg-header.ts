/**
 * Just enough of a JPEG marker walk to learn the component count and whether an Adobe APP14 marker is
 * present: libvips and Pillow disagree on CMYK polarity only when that marker is missing, and grey
 * JPEGs can be decoded as one channel instead of three.
 */
export interface JpegHeader {
  components: number;
  adobe: boolean;
}

export function readJpegHeader(buf: Uint8Array): JpegHeader | null {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return null;
  let adobe = false;
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
    const body = p + 4;
    if (marker === 0xee && len >= 14 && String.fromCharCode(...buf.subarray(body, body + 5)) === 'Adobe') adobe = true;
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the component count.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (body + 6 > buf.length) return null;
      // Adobe APP14 normally precedes SOF; keep walking to the scan in case it does not.
      const components = buf[body + 5]!;
      return { components, adobe: adobe || scanForAdobe(buf, p + 2 + len) };
    }
    if (marker === 0xda || marker === 0xd9) return null;
    p += 2 + len;
  }
  return null;
}

function scanForAdobe(buf: Uint8Array, p: number): boolean {
  while (p + 4 <= buf.length && buf[p] === 0xff) {
    const marker = buf[p + 1]!;
    if (marker === 0xda || marker === 0xd9) return false;
    const len = (buf[p + 2]! << 8) | buf[p + 3]!;
    if (marker === 0xee && len >= 14 && String.fromCharCode(...buf.subarray(p + 4, p + 9)) === 'Adobe') return true;
    p += 2 + len;
  }
  return false;
}

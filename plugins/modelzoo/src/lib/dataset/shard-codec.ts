/**
 * PNG's "sub" filter over uint8 CHW rows: each byte minus its left neighbour (the first byte of a row
 * kept). Neighbouring pixels of a natural image are close, so the deltas cluster near 0 and an entropy
 * coder packs them far tighter than the raw bytes.
 */
export function subFilter(src: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let row = 0; row < src.length; row += width) {
    out[row] = src[row]!;
    for (let x = row + 1; x < row + width; x++) out[x] = (src[x]! - src[x - 1]!) & 255;
  }
  return out;
}

/** Undoes subFilter in place. */
export function unSubFilter(buf: Uint8Array, width: number): void {
  for (let row = 0; row < buf.length; row += width) {
    for (let x = row + 1; x < row + width; x++) buf[x] = (buf[x]! + buf[x - 1]!) & 255;
  }
}

// BMP (Windows bitmap) -> RGB, as cv2.imread reads it: BITMAPINFOHEADER and its V4/V5 extensions,
// 1/4/8-bit palettes, 16-bit (5-5-5 or bitfields), 24-bit, 32-bit (BI_RGB or bitfields; alpha
// dropped), bottom-up or top-down rows, and RLE8/RLE4 compression. Lossless, so the pixels equal
// cv2's exactly. Errors are ImageFormatError naming what is wrong.
//
// Imports: ./exif (the error type and pixel type).

import { ImageFormatError, type Pixels } from './exif.js';
import { checkImageSize } from './image_checks.js';

export const isBmp = (b: Uint8Array) => b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d; // 'BM'

export function decodeBmp(bytes: Uint8Array): Pixels {
  if (bytes.length < 26) throw new ImageFormatError('truncated BMP header');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOff = dv.getUint32(10, true);
  const hdr = dv.getUint32(14, true);
  if (hdr < 40) throw new ImageFormatError(`unsupported BMP header (${hdr} bytes; OS/2 bitmaps are not supported)`);
  if (bytes.length < 14 + hdr) throw new ImageFormatError('truncated BMP header');
  const width = dv.getInt32(18, true), rawH = dv.getInt32(22, true);
  const bpp = dv.getUint16(28, true), comp = dv.getUint32(30, true);
  const height = Math.abs(rawH), topDown = rawH < 0;
  if (width <= 0 || height === 0) throw new ImageFormatError('zero-size image');
  checkImageSize(width, height); // the pixel cap every decoder shares, before any allocation
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) throw new ImageFormatError(`unsupported BMP bit depth ${bpp}`);
  // BI_RGB 0, BI_RLE8 1, BI_RLE4 2, BI_BITFIELDS 3, BI_ALPHABITFIELDS 6
  if (![0, 1, 2, 3, 6].includes(comp)) throw new ImageFormatError(`unsupported BMP compression ${comp} (embedded JPEG/PNG or other)`);
  let masks: number[] | null = null;
  if (comp === 3 || comp === 6) {
    const at = hdr >= 52 ? 14 + 40 : 14 + hdr; // V4/V5 carry the masks inside the header, V3 right after it
    masks = [0, 1, 2].map((i) => dv.getUint32(at + 4 * i, true));
  } else if (bpp === 16) masks = [0x7c00, 0x03e0, 0x001f];
  else if (bpp === 32) masks = [0xff0000, 0x00ff00, 0x0000ff];
  const nColors = dv.getUint32(46, true) || (bpp <= 8 ? 1 << bpp : 0);
  const palAt = 14 + hdr + (comp === 3 && hdr === 40 ? 12 : comp === 6 && hdr === 40 ? 16 : 0);
  const palette: number[][] = [];
  for (let i = 0; i < nColors && bpp <= 8; i++) {
    const p = palAt + 4 * i;
    if (p + 3 > bytes.length) throw new ImageFormatError('truncated BMP palette');
    palette.push([bytes[p + 2], bytes[p + 1], bytes[p]]);
  }
  const out = new Uint8Array(width * height * 3);
  const put = (x: number, row: number, rgb: ArrayLike<number>) => {
    const y = topDown ? row : height - 1 - row;
    const o = (y * width + x) * 3;
    out[o] = rgb[0], out[o + 1] = rgb[1], out[o + 2] = rgb[2];
  };
  const pal = (i: number) => palette[i] ?? [0, 0, 0];
  if (comp === 1 || comp === 2) {
    decodeRle(bytes, dataOff, width, height, comp === 1 ? 8 : 4, (x, row, i) => put(x, row, pal(i)));
    return { width, height, data: out };
  }
  const stride = Math.floor((width * bpp + 31) / 32) * 4;
  if (dataOff + stride * height > bytes.length) throw new ImageFormatError(`truncated BMP pixel data (${bytes.length - dataOff} of ${stride * height} bytes)`);
  const chan = (v: number, m: number) => {
    if (!m) return 0;
    const shift = 31 - Math.clz32(m & -m), bits = 32 - Math.clz32(m >>> shift);
    const c = (v & m) >>> shift;
    return bits >= 8 ? c >>> (bits - 8) : Math.round((c * 255) / ((1 << bits) - 1));
  };
  for (let row = 0; row < height; row++) {
    const base = dataOff + row * stride;
    for (let x = 0; x < width; x++) {
      if (bpp <= 8) {
        const bit = x * bpp, byte = bytes[base + (bit >> 3)];
        put(x, row, pal((byte >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1)));
      } else if (bpp === 24) {
        const p = base + x * 3;
        put(x, row, [bytes[p + 2], bytes[p + 1], bytes[p]]);
      } else {
        const v = bpp === 16 ? dv.getUint16(base + x * 2, true) : dv.getUint32(base + x * 4, true);
        put(x, row, [chan(v, masks![0]), chan(v, masks![1]), chan(v, masks![2])]);
      }
    }
  }
  return { width, height, data: out };
}

/** RLE8 / RLE4 runs, escapes (end of line, end of bitmap, delta) and absolute runs. */
function decodeRle(b: Uint8Array, at: number, width: number, height: number, bits: 8 | 4, set: (x: number, row: number, i: number) => void) {
  let x = 0, row = 0, p = at;
  const need = (n: number) => { if (p + n > b.length) throw new ImageFormatError('truncated BMP RLE data'); };
  while (row < height) {
    need(2);
    const n = b[p], v = b[p + 1];
    p += 2;
    if (n > 0) {
      for (let k = 0; k < n && x < width; k++, x++) set(x, row, bits === 8 ? v : k % 2 ? v & 15 : v >> 4);
    } else if (v === 0) { x = 0; row++; }
    else if (v === 1) return;
    else if (v === 2) { need(2); x += b[p]; row += b[p + 1]; p += 2; }
    else {
      const len = bits === 8 ? v : (v + 1) >> 1;
      need(len);
      for (let k = 0; k < v && x < width; k++, x++) set(x, row, bits === 8 ? b[p + k] : k % 2 ? b[p + (k >> 1)] & 15 : b[p + (k >> 1)] >> 4);
      p += len + (len & 1); // absolute runs are word-aligned
    }
  }
}

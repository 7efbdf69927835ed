// TIFF -> RGB, as cv2.imread reads baseline files: the first image (IFD 0), 8-bit grey, RGB or
// palette (alpha and other extra samples dropped), in strips, uncompressed, PackBits, LZW or
// Deflate, with the horizontal-differencing predictor. Tiles, planar (separate) layout and other
// bit depths are refused by name. Lossless, so the pixels equal cv2's exactly.
//
// Imports: node zlib, ./exif (the error type and pixel type).

import { inflateSync } from 'node:zlib';
import { ImageFormatError, type Pixels } from './exif.js';
import { checkImageSize } from './image_checks.js';

export const isTiff = (b: Uint8Array) => b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 42 && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 42));

export function decodeTiff(bytes: Uint8Array): Pixels {
  if (bytes.length < 8) throw new ImageFormatError('truncated TIFF header');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = bytes[0] === 0x49;
  const u16 = (o: number) => dv.getUint16(o, le), u32 = (o: number) => dv.getUint32(o, le);
  const ifd = u32(4);
  if (ifd + 2 > bytes.length) throw new ImageFormatError('truncated TIFF (IFD offset past the end)');
  const tags = new Map<number, number[]>();
  const n = u16(ifd);
  const SIZE: Record<number, number> = { 1: 1, 3: 2, 4: 4, 6: 1, 7: 1, 8: 2, 9: 4 };
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > bytes.length) throw new ImageFormatError('truncated TIFF directory');
    const tag = u16(e), type = u16(e + 2), count = u32(e + 4), size = SIZE[type];
    if (!size) continue; // rationals, ascii...: no tag we read uses them
    const at = size * count <= 4 ? e + 8 : u32(e + 8);
    if (at + size * count > bytes.length) throw new ImageFormatError(`truncated TIFF tag ${tag}`);
    const vals: number[] = [];
    for (let k = 0; k < count; k++) vals.push(size === 1 ? bytes[at + k] : size === 2 ? u16(at + 2 * k) : u32(at + 4 * k));
    tags.set(tag, vals);
  }
  const one = (t: number, d?: number) => { const v = tags.get(t)?.[0] ?? d; if (v === undefined) throw new ImageFormatError(`TIFF tag ${t} missing`); return v; };
  const width = one(256), height = one(257);
  if (!width || !height) throw new ImageFormatError('zero-size image');
  const spp = one(277, 1), bits = tags.get(258) ?? [1];
  const comp = one(259, 1), photo = one(262), predictor = one(317, 1);
  if (tags.has(322)) throw new ImageFormatError('tiled TIFF is not supported (strips only)');
  if (one(284, 1) !== 1) throw new ImageFormatError('planar (separate) TIFF layout is not supported');
  if (!bits.every((b) => b === 8)) throw new ImageFormatError(`unsupported TIFF bit depth ${bits.join('/')} (8 bits per sample is supported)`);
  if (![0, 1, 2, 3].includes(photo)) throw new ImageFormatError(`unsupported TIFF photometric interpretation ${photo} (grey, RGB and palette are supported)`);
  if (![1, 5, 8, 32773, 32946].includes(comp)) throw new ImageFormatError(`unsupported TIFF compression ${comp} (none, LZW, PackBits and Deflate are supported)`);
  const offsets = tags.get(273), counts = tags.get(279);
  if (!offsets || !counts || offsets.length !== counts.length) throw new ImageFormatError('TIFF strip offsets/byte counts missing');
  const rowsPerStrip = Math.min(one(278, height), height);
  checkImageSize(width, height); // the pixel cap every decoder shares, before any allocation
  const rowBytes = width * spp;
  const raw = new Uint8Array(rowBytes * height);
  let filled = 0;
  offsets.forEach((off, s) => {
    if (off + counts[s] > bytes.length) throw new ImageFormatError(`truncated TIFF strip ${s}`);
    const src = bytes.subarray(off, off + counts[s]);
    const want = Math.min(rowsPerStrip, height - s * rowsPerStrip) * rowBytes;
    const data = comp === 1 ? src : comp === 32773 ? unpackBits(src, want) : comp === 5 ? lzw(src, want) : inflate(src, s);
    if (data.length < want) throw new ImageFormatError(`TIFF strip ${s} holds ${data.length} of ${want} bytes`);
    raw.set(data.subarray(0, want), filled);
    filled += want;
  });
  if (predictor === 2) for (let y = 0; y < height; y++) for (let x = spp; x < rowBytes; x++) raw[y * rowBytes + x] += raw[y * rowBytes + x - spp];
  else if (predictor !== 1) throw new ImageFormatError(`unsupported TIFF predictor ${predictor}`);
  const out = new Uint8Array(width * height * 3);
  const cmap = tags.get(320);
  for (let i = 0; i < width * height; i++) {
    const p = i * spp;
    if (photo === 2) out.set(raw.subarray(p, p + 3), i * 3);
    else if (photo === 3) {
      if (!cmap) throw new ImageFormatError('palette TIFF without a colour map');
      const v = raw[p];
      for (let c = 0; c < 3; c++) out[i * 3 + c] = cmap[c * 256 + v] >> 8;
    } else {
      const g = photo === 0 ? 255 - raw[p] : raw[p];
      out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = g;
    }
  }
  return { width, height, data: out };
}

function unpackBits(src: Uint8Array, want: number): Uint8Array {
  const out = new Uint8Array(want);
  let i = 0, o = 0;
  while (i < src.length && o < want) {
    const n = (src[i++] << 24) >> 24;
    if (n >= 0) { out.set(src.subarray(i, i + n + 1).subarray(0, want - o), o); o += n + 1; i += n + 1; }
    else if (n !== -128) { out.fill(src[i++], o, Math.min(want, o + 1 - n)); o += 1 - n; }
  }
  return out;
}

/** TIFF LZW: MSB-first codes of 9 to 12 bits, Clear 256, EOI 257, widths growing one code early. */
function lzw(src: Uint8Array, want: number): Uint8Array {
  const out = new Uint8Array(want);
  let o = 0, bitPos = 0, width = 9;
  let table: Uint8Array[] = [];
  const reset = () => { table = Array.from({ length: 258 }, (_, i) => Uint8Array.of(i)); width = 9; };
  reset();
  let prev: Uint8Array | null = null;
  const emit = (s: Uint8Array) => { out.set(s.subarray(0, Math.max(0, want - o)), o); o += s.length; };
  while (o < want) {
    if (bitPos + width > src.length * 8) break;
    let code = 0;
    for (let k = 0; k < width; k++, bitPos++) code = (code << 1) | ((src[bitPos >> 3] >> (7 - (bitPos & 7))) & 1);
    if (code === 257) break;
    if (code === 256) { reset(); prev = null; continue; }
    let entry: Uint8Array;
    if (code < table.length) entry = table[code];
    else if (prev && code === table.length) { entry = new Uint8Array(prev.length + 1); entry.set(prev); entry[prev.length] = prev[0]; }
    else throw new ImageFormatError('corrupt TIFF LZW data');
    emit(entry);
    if (prev) {
      const next = new Uint8Array(prev.length + 1);
      next.set(prev);
      next[prev.length] = entry[0];
      table.push(next);
    }
    prev = entry;
    if (table.length + 1 >= 1 << width && width < 12) width++;
  }
  return out.subarray(0, Math.min(o, want));
}

function inflate(src: Uint8Array, strip: number): Uint8Array {
  try {
    return new Uint8Array(inflateSync(src));
  } catch (e) {
    throw new ImageFormatError(`corrupt TIFF Deflate data in strip ${strip} (${(e as Error).message})`);
  }
}

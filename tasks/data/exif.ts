// Image metadata that changes the pixels we hand to the model: the JPEG header (frame size, chroma
// sampling, colour-space markers, where the entropy-coded data ends), PNG chunks and the EXIF
// orientation tag, applied the way cv2.imread(IMREAD_COLOR) applies it.
//
// Pure functions over bytes and plain RGB arrays; no imports from the rest of the project.

/** Interleaved 8-bit pixels, row-major HWC. `data.length === width * height * channels`. */
export interface Pixels {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface JpegComponent {
  id: number;
  h: number; // horizontal sampling factor (1..4)
  v: number; // vertical sampling factor (1..4)
}

export interface JpegInfo {
  sofMarker: number; // 0xC0 baseline, 0xC1 extended, 0xC2 progressive, others unsupported
  precision: number;
  width: number;
  height: number;
  components: JpegComponent[];
  sawJfif: boolean;
  /** Offset of the Adobe APP14 transform byte, or -1 when there is no Adobe marker. */
  adobeTransformOffset: number;
  adobeTransform: number;
  /** TIFF block of the first APP1 segment (cv2 only looks at the first one), or null. */
  exifTiff: Uint8Array | null;
  /** True when an EOI marker follows the first scan, i.e. the file is not cut short. */
  hasEoi: boolean;
}

/** Thrown for structural problems; image.ts prefixes the file name. */
export class ImageFormatError extends Error {}

const u16be = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];

/**
 * Walks JPEG marker segments from SOI to the first SOS (everything libjpeg's jpeg_read_header
 * looks at), then checks that an EOI marker exists after it. 0xFFD9 cannot occur inside
 * entropy-coded data (0xFF is byte-stuffed there), so finding one means the data is complete.
 */
export function readJpegInfo(bytes: Uint8Array): JpegInfo {
  const info: JpegInfo = {
    sofMarker: 0, precision: 0, width: 0, height: 0, components: [], sawJfif: false,
    adobeTransformOffset: -1, adobeTransform: 0, exifTiff: null, hasEoi: false,
  };
  let sawApp1 = false;
  let pos = 2; // after SOI
  for (;;) {
    while (pos < bytes.length && bytes[pos] !== 0xff) pos++; // tolerate junk between segments
    while (pos < bytes.length && bytes[pos] === 0xff) pos++; // fill bytes
    if (pos >= bytes.length) throw new ImageFormatError('truncated JPEG data (no image scan)');
    const marker = bytes[pos++];
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (marker === 0xd9) throw new ImageFormatError('corrupt JPEG data (end of image before any scan)');
    if (pos + 2 > bytes.length) throw new ImageFormatError('truncated JPEG data');
    const len = u16be(bytes, pos);
    const body = pos + 2;
    const end = pos + len;
    if (len < 2 || end > bytes.length) throw new ImageFormatError('truncated JPEG data');
    if (marker === 0xda) {
      if (info.sofMarker === 0) throw new ImageFormatError('corrupt JPEG data (scan before frame header)');
      info.hasEoi = findEoi(bytes, end);
      return info;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      info.sofMarker = marker;
      info.precision = bytes[body];
      info.height = u16be(bytes, body + 1);
      info.width = u16be(bytes, body + 3);
      const n = bytes[body + 5];
      if (6 + 3 * n > len - 2) throw new ImageFormatError('corrupt JPEG data (bad frame header)');
      for (let i = 0; i < n; i++) {
        const o = body + 6 + 3 * i;
        info.components.push({ id: bytes[o], h: bytes[o + 1] >> 4, v: bytes[o + 1] & 15 });
      }
    } else if (marker === 0xe0 && len >= 16 && ascii(bytes, body, 5) === 'JFIF\0') {
      info.sawJfif = true;
    } else if (marker === 0xe1 && !sawApp1) {
      sawApp1 = true;
      // cv2 skips 6 bytes ("Exif\0\0") of the first APP1 and parses the rest as TIFF.
      if (len - 2 > 6 && ascii(bytes, body, 4) === 'Exif') info.exifTiff = bytes.subarray(body + 6, end);
    } else if (marker === 0xee && len >= 14 && ascii(bytes, body, 5) === 'Adobe') {
      info.adobeTransformOffset = body + 11;
      info.adobeTransform = bytes[body + 11];
    }
    pos = end;
  }
}

function findEoi(bytes: Uint8Array, from: number): boolean {
  for (let i = bytes.length - 2; i >= from; i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  }
  return false;
}

function ascii(bytes: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + n));
}

export interface PngChunks {
  /** The file without its tRNS chunks (see stripPngTransparency). */
  withoutTrns: Uint8Array;
  /** TIFF block of an eXIf chunk that precedes the image data, or null. */
  exifTiff: Uint8Array | null;
}

/**
 * Walks PNG chunks (length, type, data, CRC). Drops tRNS: cv2.imread(IMREAD_COLOR) strips alpha
 * and keeps the colour of a colour-keyed pixel, whereas pngjs would zero that pixel's RGB.
 * libpng reads eXIf only before IDAT (png_read_info), so a later one is ignored, as in cv2.
 */
export function readPngChunks(bytes: Uint8Array): PngChunks {
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  let exifTiff: Uint8Array | null = null;
  let sawIdat = false;
  let pos = 8;
  for (;;) {
    if (pos + 12 > bytes.length) throw new ImageFormatError('truncated PNG data');
    const len = ((bytes[pos] << 24) >>> 0) + (bytes[pos + 1] << 16) + (bytes[pos + 2] << 8) + bytes[pos + 3];
    const type = ascii(bytes, pos + 4, 4);
    const end = pos + 12 + len;
    if (end > bytes.length) throw new ImageFormatError('truncated PNG data');
    if (type === 'IDAT') sawIdat = true;
    if (type === 'eXIf' && !sawIdat) exifTiff = bytes.subarray(pos + 8, pos + 8 + len);
    if (type !== 'tRNS') parts.push(bytes.subarray(pos, end));
    if (type === 'IEND') break;
    pos = end;
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const withoutTrns = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    withoutTrns.set(p, o);
    o += p.length;
  }
  return { withoutTrns, exifTiff };
}

/**
 * EXIF orientation (tag 0x0112 in IFD0) from a TIFF block, 1 (as stored) when absent or invalid.
 * Handles both byte orders; like cv2, a malformed block simply means "no orientation".
 */
export function readTiffOrientation(tiff: Uint8Array | null): number {
  if (!tiff || tiff.length < 8) return 1;
  const little = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!little && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return 1;
  const dv = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  if (dv.getUint16(2, little) !== 42) return 1;
  const ifd = dv.getUint32(4, little);
  if (ifd + 2 > tiff.length) return 1;
  const count = dv.getUint16(ifd, little);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > tiff.length) return 1;
    if (dv.getUint16(e, little) !== 0x0112) continue;
    const type = dv.getUint16(e + 2, little);
    const value = type === 3 ? dv.getUint16(e + 8, little) : type === 4 ? dv.getUint32(e + 8, little) : 0;
    return value >= 1 && value <= 8 ? value : 1;
  }
  return 1;
}

/**
 * Applies an EXIF orientation like OpenCV's ApplyExifOrientation: 2 flip x, 3 flip both,
 * 4 flip y, 5 transpose, 6 transpose + flip x (90° clockwise), 7 transpose + flip both,
 * 8 transpose + flip y (90° counter-clockwise).
 */
export function applyOrientation<T extends Pixels>(img: T, orientation: number): T {
  if (orientation <= 1 || orientation > 8) return img;
  const { width: w, height: h, data } = img;
  const c = data.length / (w * h);
  const transpose = orientation >= 5;
  const ow = transpose ? h : w;
  const oh = transpose ? w : h;
  const flipX = orientation === 2 || orientation === 3 || orientation === 6 || orientation === 7;
  const flipY = orientation === 3 || orientation === 4 || orientation === 7 || orientation === 8;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      // (tx, ty): position in the (possibly transposed) image before flipping.
      const tx = flipX ? ow - 1 - x : x;
      const ty = flipY ? oh - 1 - y : y;
      const sx = transpose ? ty : tx;
      const sy = transpose ? tx : ty;
      const s = (sy * w + sx) * c;
      const d = (y * ow + x) * c;
      for (let k = 0; k < c; k++) out[d + k] = data[s + k];
    }
  }
  return { ...img, width: ow, height: oh, data: out };
}

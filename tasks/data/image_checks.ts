// Checks every image decoder runs before it allocates pixels: the pixel cap (PIL's decompression-
// bomb limit, which is what Ultralytics' dataset checks meet through Image.open), and for PNG a walk
// of the chunks that verifies CRCs and inflates the image data once, so a header that promises more
// rows than the file holds is an error naming the row instead of a blank image.
//
// Imports: node:zlib, ./exif (ImageFormatError).

import { constants, crc32, inflateSync } from 'node:zlib';
import { ImageFormatError } from './exif.js';

/**
 * PIL's Image.MAX_IMAGE_PIXELS is 1024 * 1024 * 1024 // 4 // 3 = 89,478,485; Image.open warns above
 * it and raises DecompressionBombError above twice that. Ultralytics leaves the limit as PIL sets
 * it, so verify_image_label counts larger images as corrupt. We refuse above the same 2x limit.
 */
export const PIL_MAX_IMAGE_PIXELS = 89_478_485;
export const MAX_IMAGE_PIXELS = 2 * PIL_MAX_IMAGE_PIXELS;

/** Throws "image too large (W×H, limit N pixels)" above MAX_IMAGE_PIXELS, and for a 0-sized image. */
export function checkImageSize(width: number, height: number, limit = MAX_IMAGE_PIXELS): void {
  if (!(width > 0 && height > 0)) throw new ImageFormatError(`zero-size image (${width}×${height})`);
  if (width * height > limit) throw new ImageFormatError(`image too large (${width}×${height}, limit ${limit} pixels)`);
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7 = [ // x0, y0, dx, dy of the 7 interlace passes
  [0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2],
];

/**
 * Walks the chunks of a PNG (signature already matched): IHDR sanity and the pixel cap, a CRC
 * check of every critical chunk (libpng fails on those too; ancillary chunks are not checked, as
 * libpng only warns), and one inflate of the IDAT data, bounded by what the header needs, which
 * finds missing rows and bytes after the compressed stream. Throws ImageFormatError.
 */
export function checkPng(bytes: Uint8Array): void {
  if (bytes.length < 33) throw new ImageFormatError('truncated PNG data (no IHDR chunk)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ascii = (o: number) => String.fromCharCode(bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]);
  if (ascii(12) !== 'IHDR' || dv.getUint32(8) !== 13) throw new ImageFormatError('corrupt PNG data (the first chunk is not a 13-byte IHDR)');
  checkCrc(bytes, dv, 8, 13, 'IHDR'); // before any IHDR value is trusted
  const width = dv.getUint32(16), height = dv.getUint32(20), depth = bytes[24], colorType = bytes[25], interlace = bytes[28];
  const ch = CHANNELS[colorType];
  if (ch === undefined) throw new ImageFormatError(`corrupt PNG data (IHDR colour type ${colorType}, expected 0, 2, 3, 4 or 6)`);
  if (![1, 2, 4, 8, 16].includes(depth) || (ch > 1 && colorType !== 3 && depth < 8) || (colorType === 3 && depth > 8))
    throw new ImageFormatError(`corrupt PNG data (IHDR bit depth ${depth} is not valid for colour type ${colorType})`);
  if (interlace > 1) throw new ImageFormatError(`corrupt PNG data (IHDR interlace method ${interlace}, expected 0 or 1)`);
  checkImageSize(width, height);

  const idat: Uint8Array[] = [];
  let pos = 8, sawIend = false;
  while (pos + 12 <= bytes.length) {
    const len = dv.getUint32(pos), type = ascii(pos + 4), end = pos + 12 + len;
    if (end > bytes.length) { // truncated: the row check below says where the data ends
      if (type === 'IDAT') idat.push(bytes.subarray(pos + 8));
      break;
    }
    const critical = (bytes[pos + 4] & 0x20) === 0;
    if (critical) checkCrc(bytes, dv, pos, len, type);
    if (type === 'IDAT') idat.push(bytes.subarray(pos + 8, pos + 8 + len));
    pos = end;
    if (type === 'IEND') { sawIend = true; break; }
  }
  // Bytes after IEND are ignored, as libpng (and so cv2) does.

  const bits = ch * depth;
  const rowBytes = (w: number) => (w > 0 ? 1 + Math.ceil((w * bits) / 8) : 0); // filter byte + pixels
  let need = 0;
  if (interlace) {
    for (const [x0, y0, dx, dy] of ADAM7) need += rowBytes(Math.ceil((width - x0) / dx)) * Math.ceil((height - y0) / dy);
  } else need = rowBytes(width) * height;
  const stream = Buffer.concat(idat);
  let got: number, used: number;
  try {
    // finishFlush SYNC: a truncated stream gives what it holds instead of throwing.
    const r = inflateSync(stream, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: need, info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    got = r.buffer.length;
    used = r.engine.bytesWritten;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw new ImageFormatError(`corrupt PNG data (more image data than its ${width}×${height} header needs)`);
    throw new ImageFormatError(`corrupt PNG data (the compressed image data is damaged: ${(e as Error).message})`);
  }
  if (got < need) {
    const where = interlace ? `(${got} of ${need} bytes of interlaced data)` : `at row ${Math.floor(got / rowBytes(width))} of ${height}`;
    throw new ImageFormatError(`PNG data ends ${where}${sawIend ? '' : ': the file is truncated'}`);
  }
  if (!sawIend) throw new ImageFormatError(`truncated PNG data (the file ends at byte ${bytes.length}, before its IEND chunk)`);
  if (used < stream.length) throw new ImageFormatError(`corrupt PNG data (trailing garbage: ${stream.length - used} bytes after the end of the compressed image data)`);
}

function checkCrc(bytes: Uint8Array, dv: DataView, pos: number, len: number, type: string): void {
  const stored = dv.getUint32(pos + 8 + len), computed = crc32(bytes.subarray(pos + 4, pos + 8 + len)) >>> 0;
  const hex = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;
  if (stored !== computed) throw new ImageFormatError(`corrupt PNG data (bad CRC in the ${type} chunk at byte ${pos}: stored ${hex(stored)}, computed ${hex(computed)})`);
}

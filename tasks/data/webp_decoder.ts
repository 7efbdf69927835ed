// WebP (lossy VP8, lossless VP8L, VP8X with alpha) -> RGB as cv2.imread(f, IMREAD_COLOR) gives it.
// The pixels come from libwebp itself, compiled to WebAssembly (@cwasm/webp: WebPDecodeRGBA, loaded
// synchronously on the first WebP, no native build); OpenCV reads WebP through the same libwebp, so
// lossy files decode bit-exactly too (its YUV->RGB and fancy upsampling are libwebp's). cv2 drops
// the alpha channel without premultiplying, as here. The RIFF header is read here first, so that a
// damaged or huge file fails by name before the decoder allocates anything.
//
// Imports: node (createRequire), @cwasm/webp, ./exif (the error type), ./image_checks.

import { createRequire } from 'node:module';
import { ImageFormatError, type Pixels } from './exif.js';
import { checkImageSize } from './image_checks.js';

const ascii = (b: Uint8Array, at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));

/** RIFF....WEBP */
export function isWebp(b: Uint8Array): boolean {
  return b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP';
}

export interface WebpInfo {
  width: number;
  height: number;
  /** 'VP8 ' lossy, 'VP8L' lossless, 'VP8X' extended (alpha, metadata, animation) */
  kind: string;
  animated: boolean;
}

/** The canvas size from the first chunk's header, without decoding. */
export function readWebpInfo(b: Uint8Array): WebpInfo {
  if (b.length < 30) throw new ImageFormatError('truncated WebP header');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const kind = ascii(b, 12, 4);
  const riffSize = dv.getUint32(4, true);
  if (riffSize + 8 > b.length) throw new ImageFormatError(`truncated WebP data (RIFF says ${riffSize + 8} bytes, the file has ${b.length})`);
  if (kind === 'VP8 ') {
    if (!(b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a)) throw new ImageFormatError('corrupt WebP VP8 frame (no start code)');
    return { kind, width: dv.getUint16(26, true) & 0x3fff, height: dv.getUint16(28, true) & 0x3fff, animated: false };
  }
  if (kind === 'VP8L') {
    if (b[20] !== 0x2f) throw new ImageFormatError('corrupt WebP VP8L stream (no signature)');
    const bits = dv.getUint32(21, true);
    return { kind, width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, animated: false };
  }
  if (kind === 'VP8X') {
    const u24 = (o: number) => b[o] | (b[o + 1] << 8) | (b[o + 2] << 16);
    return { kind, width: u24(24) + 1, height: u24(27) + 1, animated: (b[20] & 0x02) !== 0 };
  }
  throw new ImageFormatError(`unsupported WebP chunk '${kind.replace(/[^ -~]/g, '?')}' (expected VP8, VP8L or VP8X)`);
}

let codec: { decode(src: Uint8Array): { width: number; height: number; data: Uint8ClampedArray } } | null = null;

/** Decodes a WebP file's first (only) frame to interleaved RGB. */
export function decodeWebp(bytes: Uint8Array): Pixels {
  const info = readWebpInfo(bytes);
  if (info.animated) throw new ImageFormatError('animated WebP is not supported (cv2.imread cannot read it either)');
  checkImageSize(info.width, info.height);
  codec ??= createRequire(import.meta.url)('@cwasm/webp');
  let rgba: { width: number; height: number; data: Uint8ClampedArray };
  try {
    rgba = codec!.decode(bytes);
  } catch {
    throw new ImageFormatError(`corrupt ${info.kind.trim()} WebP data (libwebp could not decode it)`);
  }
  const { width, height } = rgba;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, o = 0; o < data.length; i += 4, o += 3) {
    data[o] = rgba.data[i];
    data[o + 1] = rgba.data[i + 1];
    data[o + 2] = rgba.data[i + 2];
  }
  return { width, height, data };
}

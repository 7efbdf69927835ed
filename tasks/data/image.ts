// Image files <-> interleaved RGB arrays, matching cv2.imread(path, IMREAD_COLOR)[..., ::-1]
// (what Ultralytics feeds its models) as closely as the pure-JS decoders allow.
//
// JPEG (1 and 3 components): ./jpeg_decoder.ts does the entropy decoding and libjpeg's integer IDCT;
// chroma upsampling and YCbCr->RGB follow here with libjpeg-turbo's integer formulas (fancy
// upsampling, fixed-point tables), which makes them bit-exact with cv2. CMYK/YCCK go through jpeg-js. PNG: pngjs, then cv2's rules (alpha dropped, 16-bit >> 8).
// EXIF orientation is applied as cv2 does by default. Imports: node, jpeg-js, pngjs, ./exif.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { applyOrientation, ImageFormatError, readJpegInfo, readPngChunks, readTiffOrientation } from './exif.js';
import { decodeJpegComponents } from './jpeg_decoder.js';
import { checkImageSize, checkPng, MAX_IMAGE_PIXELS } from './image_checks.js';
import { InputError } from '../../engine/errors.js';
import { decodeBmp, isBmp } from './bmp_decoder.js';
import { decodeTiff, isTiff } from './tiff_decoder.js';
import { decodeWebp, isWebp } from './webp_decoder.js';
import type { JpegInfo, Pixels } from './exif.js';

/** An 8-bit RGB image, row-major HWC: `data.length === width * height * 3`. */
export interface RgbImage extends Pixels {}

// jpeg-js refuses work beyond these (it would otherwise allocate whatever a header asks for): the
// pixel cap every format shares (./image_checks); its block buffers take ~4 bytes/pixel/component.
const JPEG_LIMITS = { maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB: 4096 };

/** Reads and decodes a JPEG or PNG file. Errors name the file and the problem. */
export function readImage(path: string): RgbImage {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(path, 'file not found');
    throw new InputError(path, `cannot read file (${code ?? (e as Error).message})`);
  }
  return decodeImage(bytes, path);
}

/** Decodes JPEG/PNG bytes (format sniffed from magic bytes, not the name) to RGB. */
export function decodeImage(bytes: Uint8Array, name: string): RgbImage {
  if (bytes.length === 0) throw new InputError(name, 'empty file');
  try {
    if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return decodeJpeg(bytes);
    if (bytes.length >= 8 && bytes[0] === 0x89 && String.fromCharCode(...bytes.subarray(1, 4)) === 'PNG') {
      return decodePng(bytes);
    }
    if (isBmp(bytes)) return decodeBmp(bytes); // BMP and TIFF: own decoders (bmp_decoder.ts, tiff_decoder.ts); MPO is JPEG
    if (isTiff(bytes)) return decodeTiff(bytes);
    if (isWebp(bytes)) return decodeWebp(bytes); // libwebp as wasm (webp_decoder.ts), the library cv2 uses
  } catch (e) {
    if (e instanceof ImageFormatError) throw new InputError(name, e.message);
    throw new InputError(name, describeLibraryError(bytes[0] === 0xff ? 'JPEG' : 'PNG', e as Error), { cause: e });
  }
  throw new InputError(name, 'unsupported image format (expected JPEG, PNG, BMP, TIFF, WebP or MPO)');
}

// Truncation is caught before the libraries run (readJpegInfo / readPngChunks), so what they
// report is corruption, or a size limit.
function describeLibraryError(format: string, e: Error): string {
  const msg = e.message ?? String(e);
  if (/maxResolutionInMP|maxMemoryUsageInMB|allocate/.test(msg)) return `image too large (${msg})`;
  return `corrupt ${format} data (${msg})`;
}

// ---------------------------------------------------------------------------------------- JPEG

function decodeJpeg(bytes: Uint8Array): RgbImage {
  const info = readJpegInfo(bytes);
  if (info.sofMarker !== 0xc0 && info.sofMarker !== 0xc1 && info.sofMarker !== 0xc2) {
    throw new ImageFormatError(`unsupported JPEG type (SOF marker 0x${info.sofMarker.toString(16)}: lossless or arithmetic coding)`);
  }
  if (info.precision !== 8) throw new ImageFormatError(`unsupported JPEG precision (${info.precision}-bit)`);
  checkImageSize(info.width, info.height);
  if (!info.hasEoi) throw new ImageFormatError('truncated JPEG data');
  const n = info.components.length;
  if (n !== 1 && n !== 3 && n !== 4) throw new ImageFormatError(`unsupported JPEG colour mode (${n} components)`);

  let img: RgbImage;
  if (n === 4) {
    // CMYK/YCCK (Adobe): jpeg-js converts to RGB itself; close to cv2 but not bit-exact.
    img = jpegJs(info.adobeTransformOffset >= 0 ? bytes : withAdobeMarker(bytes), undefined);
  } else if (n === 1) {
    img = decodeJpegComponents(bytes, MAX_IMAGE_PIXELS); // gray replicated to 3 channels, as cv2 does
  } else {
    img = decodeJpegComponents(bytes, MAX_IMAGE_PIXELS); // raw components; the Adobe transform flag is read from `info`
    upsampleChromaLikeLibjpeg(img, info);
    if (isYCbCr(info)) yccToRgb(img.data);
  }
  return applyOrientation(img, readTiffOrientation(info.exifTiff));
}

function jpegJs(bytes: Uint8Array, colorTransform: boolean | undefined): RgbImage {
  const out = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, colorTransform, ...JPEG_LIMITS });
  return { width: out.width, height: out.height, data: out.data };
}

/** libjpeg treats a 4-component file without an Adobe marker as plain CMYK; jpeg-js needs the marker. */
function withAdobeMarker(bytes: Uint8Array): Uint8Array {
  const app14 = [0xff, 0xee, 0, 14, 0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, 0];
  const out = new Uint8Array(bytes.length + app14.length);
  out.set(bytes.subarray(0, 2));
  out.set(app14, 2);
  out.set(bytes.subarray(2), 2 + app14.length);
  return out;
}

/** libjpeg's default_decompress_parms rule for 3-component files. */
function isYCbCr(info: JpegInfo): boolean {
  if (info.sawJfif) return true;
  if (info.adobeTransformOffset >= 0) return info.adobeTransform !== 0;
  const [a, b, c] = info.components.map((k) => k.id);
  return !(a === 82 && b === 71 && c === 66); // component ids 'R','G','B' mean RGB
}

/**
 * jpeg-js upsampled subsampled components by pixel replication; rebuild each component plane
 * from that output and upsample it again with libjpeg-turbo's "fancy" triangle filters
 * (jdsample.c h2v1/h2v2/h1v2; integer ratios other than 2 stay replicated, as in libjpeg).
 * At image edges libjpeg replicates the outermost real sample, which is what clamping does.
 */
function upsampleChromaLikeLibjpeg(img: RgbImage, info: JpegInfo): void {
  const { width: W, height: H, data } = img;
  const maxH = Math.max(...info.components.map((c) => c.h));
  const maxV = Math.max(...info.components.map((c) => c.v));
  info.components.forEach((comp, ch) => {
    const rx = maxH / comp.h;
    const ry = maxV / comp.v;
    // libjpeg has fancy filters only for 2:1 ratios: h2v1, h2v2 and h1v2.
    const fancyX = rx === 2 && (ry === 1 || ry === 2);
    const fancyY = ry === 2 && (rx === 1 || rx === 2);
    if (!fancyX && !fancyY) return;
    const cw = Math.ceil(W / rx); // libjpeg's downsampled_width / height
    const chh = Math.ceil(H / ry);
    // h2v1/h2v2 fall back to replication when the component is only 1-2 samples wide.
    if (fancyX && cw <= 2) return;
    const plane = new Uint8Array(cw * chh);
    for (let y = 0; y < chh; y++) {
      for (let x = 0; x < cw; x++) plane[y * cw + x] = data[((y * ry) * W + x * rx) * 3 + ch];
    }
    // For each output column/row: the nearest plane sample and the next-nearest one (clamped at
    // the edges, where libjpeg repeats the outermost sample).
    const clampTo = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
    const colNear = new Int32Array(W);
    const colFar = new Int32Array(W);
    for (let x = 0; x < W; x++) {
      colNear[x] = fancyX ? x >> 1 : x;
      colFar[x] = fancyX ? clampTo(x & 1 ? (x >> 1) + 1 : (x >> 1) - 1, cw) : x;
    }
    for (let y = 0; y < H; y++) {
      const near = (fancyY ? y >> 1 : y) * cw;
      const far = (fancyY ? clampTo(y & 1 ? (y >> 1) + 1 : (y >> 1) - 1, chh) : y) * cw;
      let o = y * W * 3 + ch;
      if (fancyX && fancyY) {
        // h2v2: weights 9, 3, 3, 1 (/16); bias 8 for even, 7 for odd output columns.
        for (let x = 0; x < W; x++, o += 3) {
          const a = colNear[x];
          const b = colFar[x];
          const sumNear = 3 * plane[near + a] + plane[far + a];
          const sumFar = 3 * plane[near + b] + plane[far + b];
          data[o] = (3 * sumNear + sumFar + (x & 1 ? 7 : 8)) >> 4;
        }
      } else if (fancyX) {
        // h2v1: 3/4 nearer + 1/4 further sample; bias 1 for even, 2 for odd columns.
        for (let x = 0; x < W; x++, o += 3) {
          data[o] = (3 * plane[near + colNear[x]] + plane[near + colFar[x]] + (x & 1 ? 2 : 1)) >> 2;
        }
      } else {
        // h1v2: the same along y; bias 1 for even, 2 for odd rows.
        const bias = y & 1 ? 2 : 1;
        for (let x = 0; x < W; x++, o += 3) data[o] = (3 * plane[near + x] + plane[far + x] + bias) >> 2;
      }
    }
  });
}

// libjpeg-turbo jdcolor.c tables: 16-bit fixed point, FIX(x) = round(x * 65536).
const CR_R = new Int32Array(256);
const CB_B = new Int32Array(256);
const CR_G = new Int32Array(256);
const CB_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = (91881 * x + 32768) >> 16; // 1.40200
  CB_B[i] = (116130 * x + 32768) >> 16; // 1.77200
  CR_G[i] = -46802 * x; // -0.71414, still scaled
  CB_G[i] = -22554 * x + 32768; // -0.34414, plus the rounding half
}

function yccToRgb(d: Uint8Array): void {
  const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);
  for (let i = 0; i < d.length; i += 3) {
    const y = d[i];
    const cb = d[i + 1];
    const cr = d[i + 2];
    d[i] = clamp(y + CR_R[cr]);
    d[i + 1] = clamp(y + ((CB_G[cb] + CR_G[cr]) >> 16));
    d[i + 2] = clamp(y + CB_B[cb]);
  }
}

// ----------------------------------------------------------------------------------------- PNG

function decodePng(bytes: Uint8Array): RgbImage {
  checkPng(bytes); // pixel cap, CRCs, missing rows: before pngjs allocates the image
  const chunks = readPngChunks(bytes);
  const png = PNG.sync.read(Buffer.from(chunks.withoutTrns.buffer, chunks.withoutTrns.byteOffset, chunks.withoutTrns.byteLength), { skipRescale: true });
  const { width, height, depth } = png;
  if (width === 0 || height === 0) throw new ImageFormatError('zero-size image');
  // pngjs gives RGBA: Buffer for depth <= 8 (palette already expanded), Uint16Array for 16-bit.
  const src = png.data as unknown as ArrayLike<number>;
  const palette = (png.colorType as number) === 3; // @types/pngjs omits the palette type
  const out = new Uint8Array(width * height * 3);
  // libpng: 16-bit is stripped to its high byte (png_set_strip_16); 1/2/4-bit gray is expanded by
  // bit replication, i.e. v * 255 / (2^depth - 1). Palette entries are already 8-bit.
  const scale = palette || depth >= 8 ? 1 : 255 / ((1 << depth) - 1);
  for (let i = 0, j = 0; i < out.length; i += 3, j += 4) {
    for (let k = 0; k < 3; k++) {
      const v = src[j + k];
      out[i + k] = depth === 16 ? v >> 8 : v * scale;
    }
  }
  return applyOrientation({ width, height, data: out }, readTiffOrientation(chunks.exifTiff));
}

// ------------------------------------------------------------------------------------- writing

/** PNG bytes of an RGB image (8-bit, colour type 2). */
export function encodePNG(img: RgbImage): Uint8Array {
  const png = { width: img.width, height: img.height, data: Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength) };
  return PNG.sync.write(png as unknown as PNG, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}

/** Baseline JPEG bytes of an RGB image (jpeg-js encoder, 4:2:0). */
export function encodeJPEG(img: RgbImage, quality = 95): Uint8Array {
  const rgba = new Uint8Array(img.width * img.height * 4);
  for (let i = 0, j = 0; i < img.data.length; i += 3, j += 4) {
    rgba[j] = img.data[i];
    rgba[j + 1] = img.data[i + 1];
    rgba[j + 2] = img.data[i + 2];
    rgba[j + 3] = 255;
  }
  return jpeg.encode({ width: img.width, height: img.height, data: rgba }, quality).data;
}

/** Saves an RGB image: .jpg/.jpeg as JPEG quality 95, .png as PNG. Creates the folder. */
export function writeImage(path: string, img: RgbImage): void {
  const ext = extname(path).toLowerCase();
  let bytes: Uint8Array;
  if (ext === '.jpg' || ext === '.jpeg') bytes = encodeJPEG(img, 95);
  else if (ext === '.png') bytes = encodePNG(img);
  else throw new Error(`${path}: unsupported output format '${ext}' (expected .jpg, .jpeg or .png)`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
}

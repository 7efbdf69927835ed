// cache=disk's per-image files, in NumPy's .npy format exactly as Ultralytics writes them
// (np.save of cv2.imread's uint8 (H, W, 3) BGR array beside the image, `<image stem>.npy`), so a
// dataset cached by either tool is read by the other. Format 1.0, header padded to 64 bytes.
//
// Imports: node, ./image (types), ./exif (the error type).

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { RgbImage } from './image.js';
import { ImageFormatError } from './exif.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** The .npy that np.save writes for `img` as a BGR uint8 (H, W, 3) array. */
export function encodeNpyImage(img: RgbImage): Uint8Array {
  let header = `{'descr': '|u1', 'fortran_order': False, 'shape': (${img.height}, ${img.width}, 3), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const out = new Uint8Array(10 + header.length + img.width * img.height * 3);
  out.set([...MAGIC, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(Buffer.from(header, 'latin1'), 10);
  const d = img.data, o = 10 + header.length;
  for (let i = 0; i < img.width * img.height; i++) (out[o + i * 3] = d[i * 3 + 2]), (out[o + i * 3 + 1] = d[i * 3 + 1]), (out[o + i * 3 + 2] = d[i * 3]);
  return out;
}

/** Reads a uint8 (H, W, 3) BGR or (H, W) grey .npy back to RGB. */
export function decodeNpyImage(b: Uint8Array, name: string): RgbImage {
  if (b.length < 10 || MAGIC.some((v, i) => b[i] !== v)) throw new ImageFormatError(`${name}: not a .npy file`);
  const major = b[6];
  const hlen = major === 1 ? b[8] | (b[9] << 8) : b[8] | (b[9] << 8) | (b[10] << 16) | (b[11] << 24);
  const start = (major === 1 ? 10 : 12) + hlen;
  const header = Buffer.from(b.subarray(major === 1 ? 10 : 12, start)).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1], fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if ((descr !== '|u1' && descr !== '<u1') || fortran !== 'False' || !shape || !(shape.length === 2 || (shape.length === 3 && shape[2] === 3)))
    throw new ImageFormatError(`${name}: expected a uint8 (H, W, 3) or (H, W) C-order array, got ${header.trim()}`);
  const [height, width] = shape, ch = shape[2] ?? 1;
  if (b.length < start + width * height * ch) throw new ImageFormatError(`${name}: truncated .npy data`);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const p = start + i * ch;
    if (ch === 3) (data[i * 3] = b[p + 2]), (data[i * 3 + 1] = b[p + 1]), (data[i * 3 + 2] = b[p]);
    else data[i * 3] = data[i * 3 + 1] = data[i * 3 + 2] = b[p];
  }
  return { width, height, data };
}

/** Ultralytics' cache file for an image: the same path with the suffix .npy. */
export const npyPath = (imFile: string) => imFile.replace(/\.[^./\\]+$/, '') + '.npy';

/** The cached decode of `imFile`, creating the .npy (atomically) on first use. */
export function readThroughNpy(imFile: string, decode: (f: string) => RgbImage): RgbImage {
  const f = npyPath(imFile);
  let bytes: Uint8Array | null = null;
  try { bytes = readFileSync(f); } catch { /* not cached yet */ }
  if (bytes) return decodeNpyImage(bytes, f);
  const img = decode(imFile);
  const tmp = `${f}.${process.pid}.tmp`;
  writeFileSync(tmp, encodeNpyImage(img));
  renameSync(tmp, f);
  return img;
}

// YOLO pose label files, one image at a time: the image <-> label path rule (img2label_paths), the
// label parser with Ultralytics' checks, and verifyImageLabel, which (like Ultralytics'
// verify_image_label) never throws: a bad image or label file comes back as `corrupt` with a message
// naming the file and line, and the caller skips that image.
//
// Ultralytics 8.2's rules for a pose label line `cls cx cy w h x1 y1 [v1] ...`:
//   - exactly 5 + K * ndim columns (kpt_shape [K, ndim]),
//   - keypoint x and y <= 1 (boxes are not checked against 1), every value >= 0,
//   - class < nc; duplicate rows are removed (np.unique: the rest come back sorted) with a warning,
//   - with ndim 2 the visibility is 1, or 0 where a coordinate is negative.
// A missing label file is a background image; so is an empty one.
//
// Imports: node, engine/errors, ./exif.ts, ./image_checks.ts.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { sep } from 'node:path';
import { readJpegInfo, readTiffOrientation } from './exif.js';
import { checkPng, MAX_IMAGE_PIXELS } from './image_checks.js';
import { decodeImage } from './image.js';
import { isBmp } from './bmp_decoder.js';
import { isTiff } from './tiff_decoder.js';
import { isWebp, readWebpInfo } from './webp_decoder.js';
import { readingFile } from '../../engine/errors.js';

/** img2label_paths: the last `/images/` becomes `/labels/` and the suffix `.txt`. */
export function labelPath(imageFile: string): string {
  const sa = `${sep}images${sep}`, sb = `${sep}labels${sep}`;
  const i = imageFile.lastIndexOf(sa);
  const p = i < 0 ? imageFile : imageFile.slice(0, i) + sb + imageFile.slice(i + sa.length);
  const dot = p.lastIndexOf('.');
  return (dot < 0 ? p : p.slice(0, dot)) + '.txt';
}

/** The objects of one image: n boxes, normalized to the image. */
export interface PoseLabels {
  cls: Float32Array; // (n)
  bboxes: Float32Array; // (n, 4) normalized xywh
  keypoints: Float32Array; // (n, K, 3) normalized x, y and visibility (0 not labelled, 1 hidden, 2 visible)
}

/**
 * One YOLO pose label file. Throws `<file>:<line>: ...` for a wrong column count, a non-number, a
 * class outside [0, nc), a negative value or a keypoint coordinate above 1 (Ultralytics' checks).
 * Duplicate lines are dropped with a warning, leaving the rows in np.unique's (sorted) order.
 */
export function parsePoseLabels(text: string, file: string, kptShape: [number, number], nc: number, warn: (m: string) => void = console.warn): PoseLabels {
  return readingFile(file, () => parseLines(text, file, kptShape, nc, warn));
}

function parseLines(text: string, file: string, kptShape: [number, number], nc: number, warn: (m: string) => void): PoseLabels {
  const [nk, nd] = kptShape;
  const cols = 5 + nk * nd;
  const rows: number[][] = [];
  text.split(/\r?\n/).forEach((line, li) => {
    const parts = line.trim().split(/\s+/).filter(Boolean);
    if (!parts.length) return;
    const at = `${file}:${li + 1}`;
    if (parts.length !== cols)
      throw new Error(`${at}: ${parts.length} values, but kpt_shape [${nk}, ${nd}] needs ${cols} (class, 4 box values, ${nk} x ${nd} keypoint values)`);
    const v = parts.map((s) => Number(s));
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new Error(`${at}: value ${bad + 1} ('${parts[bad]}') is not a number`);
    if (!Number.isInteger(v[0]) || v[0] < 0 || v[0] >= nc) throw new Error(`${at}: class ${parts[0]} is not one of the dataset's ${nc} classes (0..${nc - 1})`);
    const neg = v.findIndex((x) => x < 0);
    if (neg >= 0) throw new Error(`${at}: negative label value ${parts[neg]} (value ${neg + 1})`);
    for (let k = 0; k < nk; k++)
      for (let d = 0; d < 2; d++) {
        const x = v[5 + k * nd + d];
        if (Math.fround(x) > 1) throw new Error(`${at}: keypoint ${k} ${d ? 'y' : 'x'} = ${parts[5 + k * nd + d]} is not normalized to [0, 1]`);
      }
    rows.push(v.map(Math.fround)); // Ultralytics reads labels as float32
  });
  // np.unique(lb, axis=0): drop duplicate rows (they come back sorted).
  const key = (r: number[]) => r.join(' ');
  if (new Set(rows.map(key)).size < rows.length) {
    const uniq = new Map(rows.map((r) => [key(r), r]));
    const sorted = [...uniq.values()].sort((a, b) => {
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
      return 0;
    });
    warn(`WARNING: ${file}: ${rows.length - sorted.length} duplicate labels removed`);
    rows.splice(0, rows.length, ...sorted);
  }
  const n = rows.length;
  const out: PoseLabels = { cls: new Float32Array(n), bboxes: new Float32Array(n * 4), keypoints: new Float32Array(n * nk * 3) };
  rows.forEach((r, i) => {
    out.cls[i] = r[0];
    out.bboxes.set(r.slice(1, 5), i * 4);
    for (let k = 0; k < nk; k++) {
      const x = r[5 + k * nd], y = r[5 + k * nd + 1];
      const o = (i * nk + k) * 3;
      out.keypoints[o] = x;
      out.keypoints[o + 1] = y;
      // (x, y) only: visible unless a coordinate is negative (never, after the checks above)
      out.keypoints[o + 2] = nd === 3 ? r[5 + k * nd + 2] : x < 0 || y < 0 ? 0 : 1;
    }
  });
  return out;
}

/** Reads (height, width) from the file header of a JPEG, PNG or WebP, or by decoding a BMP / TIFF (see imageSize). */
export function imageSizeOf(bytes: Uint8Array, file: string): [number, number] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length > 24 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return [b.readUInt32BE(20), b.readUInt32BE(16)];
  if (b.length > 3 && b[0] === 0xff && b[1] === 0xd8) {
    try {
      const info = readJpegInfo(b);
      const o = readTiffOrientation(info.exifTiff);
      return o === 6 || o === 8 ? [info.width, info.height] : [info.height, info.width];
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
  }
  try {
    if (isWebp(b)) {
      const { width, height } = readWebpInfo(b);
      return [height, width];
    }
    // BMP, TIFF (MPO is a JPEG): their headers are small, decoding them is the check
    if (isBmp(b) || isTiff(b)) {
      const { width, height } = decodeImage(b, file);
      return [height, width];
    }
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message.replace(`${file}: `, '')}`);
  }
  throw new Error(`${file}: unsupported image format (expected JPEG, PNG, BMP, TIFF, WebP or MPO)`);
}

/**
 * (height, width) from the file header, without decoding: JPEG frame or PNG IHDR. Like
 * Ultralytics' exif_size, a JPEG with EXIF orientation 6 or 8 reports its rotated size.
 */
export function imageSize(file: string): [number, number] {
  return imageSizeOf(readFileSync(file), file);
}

/** One image and its labels after the checks, as stored in the label cache. */
export interface LabelEntry extends PoseLabels {
  imFile: string;
  /** (height, width) as stored, EXIF 6/8 rotated */
  shape: [number, number];
}

export interface VerifyResult {
  /** null when the image or its label file is corrupt (the image is skipped) */
  entry: LabelEntry | null;
  /** label file missing / found / found but empty / corrupt: each 0 or 1, as Ultralytics counts */
  nm: number;
  nf: number;
  ne: number;
  nc: number;
  /** a warning or the reason for `corrupt`, naming the file (and line); '' when all is well */
  msg: string;
  /** why the image is skipped (naming the file and line), '' unless corrupt */
  error: string;
}

/**
 * verify_image_label: checks one image (exists, JPEG or PNG, at least 10x10, a JPEG ends with its
 * EOI marker) and its label file. Never throws.
 */
export function verifyImageLabel(imFile: string, lbFile: string, kptShape: [number, number], nc: number, prefix = ''): VerifyResult {
  const r: VerifyResult = { entry: null, nm: 0, nf: 0, ne: 0, nc: 0, msg: '', error: '' };
  const warnings: string[] = [];
  try {
    if (!existsSync(imFile)) throw new Error(`${imFile}: image file not found`);
    const bytes = readFileSync(imFile);
    const shape = imageSizeOf(bytes, imFile);
    if (shape[0] < 10 || shape[1] < 10) throw new Error(`${imFile}: image size ${shape[1]}x${shape[0]} is below 10 pixels`);
    if (shape[0] * shape[1] > MAX_IMAGE_PIXELS) throw new Error(`${imFile}: image too large (${shape[1]}×${shape[0]}, limit ${MAX_IMAGE_PIXELS} pixels)`);
    // A JPEG without its end-of-image marker is truncated: Ultralytics re-saves it, we cannot decode it.
    if (bytes[0] === 0xff && !(bytes[bytes.length - 2] === 0xff && bytes[bytes.length - 1] === 0xd9))
      throw new Error(`${imFile}: corrupt JPEG (no end-of-image marker, the file is truncated)`);
    // PIL's verify() reads a PNG's data and CRCs: so does checkPng (one inflate, no pixels allocated).
    if (bytes[0] === 0x89) {
      try {
        checkPng(bytes);
      } catch (e) {
        throw new Error(`${imFile}: ${(e as Error).message}`);
      }
    }

    let labels: PoseLabels;
    if (existsSync(lbFile) && statSync(lbFile).isFile()) {
      r.nf = 1;
      labels = parsePoseLabels(readFileSync(lbFile, 'utf8'), lbFile, kptShape, nc, (m) => warnings.push(m.replace(/^WARNING: /, '')));
      if (!labels.cls.length) r.ne = 1;
    } else {
      r.nm = 1;
      labels = parsePoseLabels('', lbFile, kptShape, nc);
    }
    r.entry = { imFile, shape, ...labels };
    if (warnings.length) r.msg = `${prefix}WARNING ⚠️ ${warnings.join('; ')}`;
  } catch (e) {
    r.nc = 1;
    r.error = (e as Error).message;
    r.msg = `${prefix}WARNING ⚠️ ${imFile}: ignoring corrupt image/label: ${r.error}`;
  }
  return r;
}

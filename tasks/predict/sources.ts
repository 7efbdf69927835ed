// Prediction sources, as Ultralytics' LoadImagesAndVideos / LoadPilAndNumpy accept them: one image
// file, a directory (its image files, sorted), a glob ('imgs/*.jpg', '**' for any depth), a .txt
// file listing paths, an http(s) URL (downloaded once into a cache), an in-memory RGB image, or a
// list of any of these. Images are decoded one at a time when the predictor asks for them, so a
// large directory is never held in memory; only its file names are listed.
//
// A missing or undecodable file in a directory or list is yielded as an item whose load() throws
// (naming the file), so the predictor can report it and go on; a single bad source throws.
//
// Video files (VID_FORMATS) in any of these, and live streams (a camera index, rtsp://, or an http URL
// that names no image or video file), become items with a `video` field: the predictor reads their
// frames through ffmpeg (./video). As in Ultralytics, a folder, glob or list yields its images first,
// then its videos.
//
// Imports: node, ../data/image, ../data/dataset (IMG_FORMATS), ../download, ./video.

import { existsSync, opendirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, resolve, sep } from 'node:path';
import { readImage, type RgbImage } from '../data/image.js';
import { IMG_FORMATS } from '../data/dataset.js'; // files with these extensions are picked from folders and globs
import { cachedDownload, isUrl } from '../download.js';
import { isStreamSource, isVideoFile, VID_FORMATS } from './video.js';

export type SourceInput = string | RgbImage | (string | RgbImage)[];

export interface SourceItem {
  /** Absolute file path, or 'image{i}.jpg' for an in-memory image (Ultralytics' naming). */
  path: string;
  /** Decodes the image; throws an Error naming the file when it cannot. */
  load(): RgbImage;
  /** Set for a video file or live stream: its frames are read through ffmpeg, load() throws. */
  video?: { input: string; live: boolean };
}

export interface Source {
  items: SourceItem[];
  /** True when the input named exactly one image: its failure should throw, not be skipped. */
  single: boolean;
}

export function isRgbImage(x: unknown): x is RgbImage {
  const o = x as RgbImage;
  return (
    !!o &&
    typeof o === 'object' &&
    o.data instanceof Uint8Array &&
    Number.isInteger(o.width) &&
    Number.isInteger(o.height)
  );
}

function checkRgb(img: RgbImage, name: string): RgbImage {
  if (img.width <= 0 || img.height <= 0 || img.data.length !== img.width * img.height * 3)
    throw new Error(
      `${name}: an in-memory image must be RGB HWC uint8 with data.length = width * height * 3 (got ${img.width}x${img.height}, ${img.data.length} bytes)`,
    );
  return img;
}

const isImageFile = (p: string) => IMG_FORMATS.has(extname(p).slice(1).toLowerCase());
const isMediaFile = (p: string) => isImageFile(p) || isVideoFile(p);
const FORMATS = `image formats: ${[...IMG_FORMATS].join(', ')}; video formats: ${[...VID_FORMATS].join(', ')}`;

/** Images first, then videos, each group in its own order (Ultralytics' LoadImagesAndVideos). */
const imagesThenVideos = (items: SourceItem[]) => [...items.filter((i) => !i.video), ...items.filter((i) => i.video)];
const hasGlob = (s: string) => /[*?[]/.test(s);

/** Image files directly inside `dir`, sorted (glob '*.*': no dot files); names only, not pixels. */
function listDir(dir: string): string[] {
  const names: string[] = [];
  const d = opendirSync(dir);
  try {
    for (let e = d.readSync(); e; e = d.readSync())
      if (!e.isDirectory() && !e.name.startsWith('.') && isMediaFile(e.name)) names.push(join(dir, e.name));
  } finally {
    d.closeSync();
  }
  return names.sort();
}

/** One glob segment ('*.jpg', 'img?', '[ab]*') as a RegExp; like Python's glob, '*' skips dot files. */
function segmentRegExp(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = seg.slice(i + 1, end);
        re += `[${body.startsWith('!') ? '^' + body.slice(1) : body}]`.replace(/\\/g, '\\\\');
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${seg.startsWith('.') ? '' : '(?!\\.)'}${re}$`);
}

/** Python's glob.glob(pattern, recursive=True), sorted: '*', '?', '[...]' and '**' (any depth). */
export function globFiles(pattern: string): string[] {
  const abs = resolve(pattern);
  const parts = abs.split(sep);
  const first = parts.findIndex(hasGlob);
  if (first < 0) return existsSync(abs) ? [abs] : [];
  const out: string[] = [];
  const walk = (dir: string, k: number) => {
    if (k === parts.length) {
      if (existsSync(dir) && statSync(dir).isFile()) out.push(dir);
      return;
    }
    const seg = parts[k];
    if (!hasGlob(seg)) return walk(join(dir, seg), k + 1);
    let entries: { name: string; dir: boolean }[];
    try {
      const d = opendirSync(dir);
      entries = [];
      for (let e = d.readSync(); e; e = d.readSync()) entries.push({ name: e.name, dir: e.isDirectory() });
      d.closeSync();
    } catch {
      return;
    }
    if (seg === '**') {
      walk(dir, k + 1); // zero directories
      for (const e of entries) if (e.dir && !e.name.startsWith('.')) walk(join(dir, e.name), k);
      return;
    }
    const re = segmentRegExp(seg);
    for (const e of entries) if (re.test(e.name)) walk(join(dir, e.name), k + 1);
  };
  walk(parts.slice(0, first).join(sep) || sep, first);
  return [...new Set(out)].sort();
}

function fileItem(path: string): SourceItem {
  if (isVideoFile(path)) return videoItem(path, path, false);
  return { path, load: () => readImage(path) };
}

function videoItem(path: string, input: string, live: boolean): SourceItem {
  return {
    path,
    video: { input, live },
    load: () => {
      throw new Error(`${path}: a ${live ? 'stream' : 'video'}, read frame by frame`);
    },
  };
}

function failedItem(path: string, message: string): SourceItem {
  return {
    path,
    load: () => {
      throw new Error(message);
    },
  };
}

/** Expands one string source into file items (URLs are downloaded here, once). */
async function expand(src: string, parent?: string): Promise<{ items: SourceItem[]; single: boolean }> {
  if (isStreamSource(src)) return { items: [videoItem(src, src, true)], single: true };
  if (isUrl(src)) return { items: [fileItem(await cachedDownload(src))], single: true };
  const abs = resolve(src);
  if (hasGlob(abs)) {
    const files = globFiles(src).filter(isMediaFile);
    if (!files.length) throw new Error(`${src}: no images match this pattern, nor videos (${FORMATS})`);
    return { items: imagesThenVideos(files.map(fileItem)), single: false };
  }
  if (existsSync(abs) && statSync(abs).isDirectory()) {
    const files = listDir(abs);
    if (!files.length) throw new Error(`${src}: no images found in this directory, nor videos (${FORMATS})`);
    return { items: imagesThenVideos(files.map(fileItem)), single: false };
  }
  if (extname(abs).toLowerCase() === '.txt' && existsSync(abs)) {
    // A text file listing sources, one per line; relative paths are relative to the file.
    const lines = readFileSync(abs, 'utf8')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(Boolean);
    const items: SourceItem[] = [];
    for (const l of lines) items.push(...(await expandInList(l, dirname(abs))));
    return { items: imagesThenVideos(items), single: false };
  }
  if (!existsSync(abs) && parent && !isAbsolute(src) && existsSync(join(parent, src)))
    return { items: [fileItem(join(parent, src))], single: true };
  if (!existsSync(abs)) throw new Error(`${src}: file not found`);
  return { items: [fileItem(abs)], single: true };
}

/** In a list a bad entry becomes a failing item, so the rest are still predicted. */
async function expandInList(src: string, parent?: string): Promise<SourceItem[]> {
  try {
    return (await expand(src, parent)).items;
  } catch (e) {
    return [failedItem(isUrl(src) ? src : resolve(parent ?? '.', src), (e as Error).message)];
  }
}

/** Resolves a source into the images to predict, in order. */
export async function loadSource(source: SourceInput): Promise<Source> {
  if (typeof source === 'string') return expand(source);
  if (isRgbImage(source))
    return { items: [{ path: 'image0.jpg', load: () => checkRgb(source, 'image0.jpg') }], single: true };
  if (Array.isArray(source)) {
    if (!source.length) throw new Error('source: empty list');
    const items: SourceItem[] = [];
    for (const [i, s] of source.entries()) {
      if (typeof s === 'string') items.push(...(await expandInList(s)));
      else if (isRgbImage(s)) items.push({ path: `image${i}.jpg`, load: () => checkRgb(s, `image${i}.jpg`) });
      else items.push(failedItem(`source[${i}]`, `source[${i}]: not a path, URL or RGB image`));
    }
    return { items: imagesThenVideos(items), single: false };
  }
  throw new Error(
    `source: expected a path, directory, glob, URL, RGB image ({width, height, data}) or a list of them, got ${typeof source}`,
  );
}

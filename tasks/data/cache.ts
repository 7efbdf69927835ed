// The label scan and its cache, as YOLODataset.get_labels / cache_labels do it: every image and its
// label file are checked once (verifyImageLabel), a progress bar reports
//   train: Scanning /data/labels/train... 4 images, 0 backgrounds, 0 corrupt: 100%|██████████| 4/4 [...]
// and the result is saved beside the labels folder as `<labels dir>.cache` (JSON here, an .npy
// pickle in Ultralytics). The next run reuses it while the hash of the file list (paths, sizes,
// mtimes of every image and label file, plus kpt_shape and nc) is unchanged.
//
// Counts follow Ultralytics: "images" is the number of label files found, "backgrounds" the missing
// plus empty ones, "corrupt" the images skipped (their messages name the file and line).
//
// Imports: node, ./labels.ts, ../progress.ts.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ProgressBar, type ProgressOptions } from '../progress.js';
import { labelPath, verifyImageLabel, type LabelEntry } from './labels.js';

/** Bumped whenever the cached fields or the checks change. */
export const CACHE_VERSION = 'yolo-ts-labels-1';

export interface ScanCounts {
  nf: number; // label files found
  nm: number; // missing
  ne: number; // empty
  nc: number; // corrupt (image skipped)
  n: number; // images looked at
}

export interface LabelScan extends ScanCounts {
  /** the images that passed, in the order given */
  labels: LabelEntry[];
  /** warnings and corrupt-image reasons, one per affected image */
  msgs: string[];
  cachePath: string;
  fromCache: boolean;
}

export interface ScanOptions {
  kptShape: [number, number];
  nc: number;
  /** 'train: ' or 'val: ' */
  prefix?: string;
  /** Read and write `<labels dir>.cache`. Default true. */
  cache?: boolean;
  log?: (m: string) => void;
  /** Progress bar settings (tests capture the output). */
  progress?: Omit<ProgressOptions, 'desc' | 'initial'>;
}

interface CacheFile extends ScanCounts {
  version: string;
  hash: string;
  msgs: string[];
  labels: { im_file: string; shape: [number, number]; cls: number[]; bboxes: number[]; keypoints: number[] }[];
}

/** `<labels dir>.cache`, e.g. /data/labels/train.cache for /data/labels/train/*.txt. */
export function labelCachePath(labelFiles: string[]): string {
  return `${dirname(labelFiles[0])}.cache`;
}

/** Hash of the file list: every path with its size and mtime ('-' when missing), plus `extra`. */
export function filesHash(files: string[], extra = ''): string {
  const h = createHash('sha256');
  for (const f of files) {
    let st = '-';
    try {
      const s = statSync(f);
      st = `${s.size}:${s.mtimeMs}`;
    } catch {
      // a missing label file is allowed (background); adding it later changes the hash
    }
    h.update(`${f}\0${st}\n`);
  }
  h.update(extra);
  return h.digest('hex');
}

/** get_labels: the cached scan when it is still valid, else a fresh scan (saved when possible). */
export function scanLabels(imFiles: string[], opts: ScanOptions): LabelScan {
  const { kptShape, nc, prefix = '', log = console.log } = opts;
  if (!imFiles.length) throw new Error(`${prefix}no images to scan`);
  const labelFiles = imFiles.map(labelPath);
  const cachePath = labelCachePath(labelFiles);
  const hash = filesHash([...labelFiles, ...imFiles], `kpt_shape=${kptShape.join(',')} nc=${nc}`);
  const useCache = opts.cache ?? true;

  const cached = useCache ? readCache(cachePath, hash) : null;
  if (cached) {
    const d = `${prefix}Scanning ${cachePath}... ${cached.nf} images, ${cached.nm + cached.ne} backgrounds, ${cached.nc} corrupt`;
    new ProgressBar(cached.n, { ...opts.progress, desc: d, initial: cached.n }).close();
    if (cached.msgs.length) log(cached.msgs.join('\n'));
    const { nf, nm, ne, nc: ncor, n, msgs } = cached;
    const labels = cached.labels.map((l): LabelEntry => ({
      imFile: l.im_file, shape: l.shape, cls: Float32Array.from(l.cls), bboxes: Float32Array.from(l.bboxes), keypoints: Float32Array.from(l.keypoints),
    }));
    return { labels, nf, nm, ne, nc: ncor, n, msgs, cachePath, fromCache: true };
  }

  const desc = `${prefix}Scanning ${cachePath.slice(0, -'.cache'.length)}...`;
  const bar = new ProgressBar(imFiles.length, { ...opts.progress, desc });
  const scan: LabelScan = { labels: [], nf: 0, nm: 0, ne: 0, nc: 0, n: imFiles.length, msgs: [], cachePath, fromCache: false };
  imFiles.forEach((im, i) => {
    const r = verifyImageLabel(im, labelFiles[i], kptShape, nc, prefix);
    scan.nf += r.nf;
    scan.nm += r.nm;
    scan.ne += r.ne;
    scan.nc += r.nc;
    if (r.entry) scan.labels.push(r.entry);
    if (r.msg) scan.msgs.push(r.msg);
    bar.desc = `${desc} ${scan.nf} images, ${scan.nm + scan.ne} backgrounds, ${scan.nc} corrupt`;
    bar.update(1);
  });
  bar.close();
  if (scan.msgs.length) log(scan.msgs.join('\n'));
  if (scan.nf === 0) log(`${prefix}WARNING: no labels found in ${dirname(labelFiles[0])} (looked for ${labelFiles[0]} and the like)`);
  if (useCache) writeCache(cachePath, hash, scan, prefix, log);
  return scan;
}

function readCache(path: string, hash: string): CacheFile | null {
  if (!existsSync(path)) return null;
  try {
    const c = JSON.parse(readFileSync(path, 'utf8')) as CacheFile;
    return c.version === CACHE_VERSION && c.hash === hash ? c : null;
  } catch {
    return null; // unreadable or half-written: scan again
  }
}

// Written to a temp file and renamed, so a crash never leaves a half cache behind.
function writeCache(path: string, hash: string, s: LabelScan, prefix: string, log: (m: string) => void): void {
  const file: CacheFile = {
    version: CACHE_VERSION, hash, nf: s.nf, nm: s.nm, ne: s.ne, nc: s.nc, n: s.n, msgs: s.msgs,
    labels: s.labels.map((l) => ({ im_file: l.imFile, shape: l.shape, cls: [...l.cls], bboxes: [...l.bboxes], keypoints: [...l.keypoints] })),
  };
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(file));
    renameSync(tmp, path);
    log(`${prefix}New cache created: ${path}`);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was written
    }
    log(`${prefix}WARNING: cache directory ${dirname(path)} is not writeable, cache not saved (${(e as Error).message})`);
  }
}

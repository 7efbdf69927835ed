// The one label scan, for every split (train, val, test), as YOLODataset.get_labels / cache_labels do
// it: every image and its label file are checked once (verifyImageLabel), a progress bar reports
//   train: Scanning /data/labels/train... 4 images, 0 backgrounds, 0 corrupt: 100%|██████████| 4/4 [...]
// and the result is saved beside the labels folder as `<labels dir>.cache` (labels/train.cache,
// labels/val.cache; JSON here, an .npy pickle in Ultralytics). The next run reuses it while the hash
// of the file list (paths, sizes, mtimes of every image and label file, plus kpt_shape and nc) is unchanged.
//
// Counts follow Ultralytics: "images" is the number of label files found (a corrupt label file
// counts too), "backgrounds" the missing plus empty ones, "corrupt" the images skipped (their
// `WARNING ⚠️` lines name the file and line). A split without labels or without usable images gets
// Ultralytics' "No labels found" / "No images found" warnings; the caller decides what is fatal.
//
// Imports: node, ./labels.ts, ../progress.ts.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ProgressBar, type ProgressOptions } from '../progress.js';
import { labelPath, verifyImageLabel, type LabelEntry } from './labels.js';

/** Bumped whenever the cached fields or the checks change. */
export const CACHE_VERSION = 'yolo-ts-labels-2';

/** Ultralytics' HELP_URL, appended to its dataset warnings. */
export const HELP_URL = 'See https://docs.ultralytics.com/datasets for dataset formatting guidance.';

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
  /** why each skipped image was skipped, naming the file (and line) */
  corrupt: string[];
  /** labelled objects in all */
  nInstances: number;
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
  corrupt: string[];
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

/**
 * get_labels: the cached scan when it is still valid, else a fresh scan (cache_labels, saved when
 * possible). Logs the scan's messages and Ultralytics' warnings; throws only when there are no images.
 */
export function scanLabels(imFiles: string[], opts: ScanOptions): LabelScan {
  const { kptShape, nc, prefix = '', log = console.log } = opts;
  if (!imFiles.length) throw new Error(`${prefix}no images to scan`);
  const labelFiles = imFiles.map(labelPath);
  const cachePath = labelCachePath(labelFiles);
  const hash = filesHash([...labelFiles, ...imFiles], `kpt_shape=${kptShape.join(',')} nc=${nc}`);
  const useCache = opts.cache ?? true;

  const cached = useCache ? readCache(cachePath, hash) : null;
  let scan: LabelScan;
  if (cached) {
    const d = `${prefix}Scanning ${cachePath}... ${cached.nf} images, ${cached.nm + cached.ne} backgrounds, ${cached.nc} corrupt`;
    new ProgressBar(cached.n, { ...opts.progress, desc: d, initial: cached.n }).close();
    if (cached.msgs.length) log(cached.msgs.join('\n'));
    const { nf, nm, ne, nc: ncor, n, msgs, corrupt } = cached;
    const labels = cached.labels.map((l): LabelEntry => ({
      imFile: l.im_file, shape: l.shape, cls: Float32Array.from(l.cls), bboxes: Float32Array.from(l.bboxes), keypoints: Float32Array.from(l.keypoints),
    }));
    scan = { labels, nf, nm, ne, nc: ncor, n, msgs, corrupt, nInstances: 0, cachePath, fromCache: true };
  } else scan = cacheLabels(imFiles, labelFiles, cachePath, hash, opts);

  scan.nInstances = scan.labels.reduce((s, l) => s + l.cls.length, 0);
  if (!scan.labels.length) log(`WARNING ⚠️ No images found in ${cachePath}, training may not work correctly. ${HELP_URL}`);
  else if (!scan.nInstances) log(`WARNING ⚠️ No labels found in ${cachePath}, training may not work correctly. ${HELP_URL}`);
  return scan;
}

/** cache_labels: scans every image and label file with a progress bar, logs the messages, saves the cache. */
function cacheLabels(imFiles: string[], labelFiles: string[], cachePath: string, hash: string, opts: ScanOptions): LabelScan {
  const { kptShape, nc, prefix = '', log = console.log } = opts;
  const desc = `${prefix}Scanning ${cachePath.slice(0, -'.cache'.length)}...`;
  const bar = new ProgressBar(imFiles.length, { ...opts.progress, desc });
  const scan: LabelScan = { labels: [], nf: 0, nm: 0, ne: 0, nc: 0, n: imFiles.length, msgs: [], corrupt: [], nInstances: 0, cachePath, fromCache: false };
  imFiles.forEach((im, i) => {
    const r = verifyImageLabel(im, labelFiles[i], kptShape, nc, prefix);
    scan.nf += r.nf;
    scan.nm += r.nm;
    scan.ne += r.ne;
    scan.nc += r.nc;
    if (r.entry) scan.labels.push(r.entry);
    if (r.msg) scan.msgs.push(r.msg);
    if (r.error) scan.corrupt.push(r.error);
    bar.desc = `${desc} ${scan.nf} images, ${scan.nm + scan.ne} backgrounds, ${scan.nc} corrupt`;
    bar.update(1);
  });
  bar.close();
  if (scan.msgs.length) log(scan.msgs.join('\n'));
  if (scan.nf === 0) log(`${prefix}WARNING ⚠️ No labels found in ${cachePath}. ${HELP_URL}`);
  if (opts.cache ?? true) writeCache(cachePath, hash, scan, prefix, log);
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
    version: CACHE_VERSION, hash, nf: s.nf, nm: s.nm, ne: s.ne, nc: s.nc, n: s.n, msgs: s.msgs, corrupt: s.corrupt,
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
    log(`${prefix}WARNING ⚠️ Cache directory ${dirname(path)} is not writeable, cache not saved. (${(e as Error).message})`);
  }
}

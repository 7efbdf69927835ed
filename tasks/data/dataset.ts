// Ultralytics pose datasets on disk: the dataset yaml (check_det_dataset), the image list of a split
// (BaseDataset.get_img_files), images <-> labels by the `/images/` -> `/labels/` rule
// (img2label_paths), with errors that name the file. The label files themselves are checked by
// ./labels.ts (verify_image_label) and scanned, for every split, by ./cache.ts (get_labels).
//
// Imports: node, yaml, engine/errors, engine/paths, ./labels.ts (re-exports).

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve, sep } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { readingFile } from '../../engine/errors.js';
import { packageRoot } from '../../engine/paths.js';

// The label-file half lives in ./labels.ts and the scan in ./cache.ts (scanLabels, every split); re-exported for tasks/val.
export { imageSize, labelPath, parsePoseLabels, type PoseLabels } from './labels.js';

/** Image suffixes Ultralytics accepts (ultralytics/data/utils.py IMG_FORMATS). */
export const IMG_FORMATS = new Set(['bmp', 'dng', 'jpeg', 'jpg', 'mpo', 'png', 'tif', 'tiff', 'webp', 'pfm', 'heic']);

export type SplitSource = string | string[];

export interface DatasetConfig {
  /** The yaml this came from (absolute), for error messages. */
  yamlFile: string;
  /** Dataset root: `path:` resolved, or the yaml's folder when absent. */
  path: string;
  train?: SplitSource;
  val?: SplitSource;
  test?: SplitSource;
  names: Record<number, string>;
  nc: number;
  /** [number of keypoints, 2 or 3] */
  kptShape: [number, number];
  flipIdx?: number[];
}

export interface DatasetYamlOptions {
  /** Where a relative `path:` is looked up first (Ultralytics' settings datasets_dir). Default `<cwd>/datasets`. */
  datasetsDir?: string;
  /**
   * A relative `path:` that exists nowhere resolves under `datasetsDir` instead of failing: the
   * place a `download:` archive unpacks to (checkDataset downloads, then reads the yaml again).
   */
  allowMissingRoot?: boolean;
}

/** Reads an Ultralytics pose dataset yaml and resolves its paths as check_det_dataset does. */
export function loadDatasetYaml(file: string, opts: DatasetYamlOptions = {}): DatasetConfig {
  const yamlFile = findDatasetYaml(file, opts.datasetsDir ?? join(process.cwd(), 'datasets'));
  return readingFile(yamlFile, () => readDatasetYaml(yamlFile, opts));
}

function readDatasetYaml(yamlFile: string, opts: DatasetYamlOptions): DatasetConfig {
  let raw: Record<string, unknown>;
  try {
    raw = parseYaml(readFileSync(yamlFile, 'utf8')) ?? {};
  } catch (e) {
    throw new Error(`${yamlFile}: invalid YAML (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${yamlFile}: expected a mapping of keys (train, val, names, kpt_shape, ...)`);

  if (!('val' in raw) && 'validation' in raw) raw.val = raw.validation; // check_det_dataset's rename
  for (const k of ['train', 'val']) if (!(k in raw)) throw new Error(`${yamlFile}: '${k}:' key missing; a dataset yaml needs 'train' and 'val' (and 'names', 'kpt_shape' for pose)`);
  const names = parseNames(raw.names, raw.nc, yamlFile);
  const nc = Object.keys(names).length;

  const ks = raw.kpt_shape;
  if (!Array.isArray(ks) || ks.length !== 2 || !ks.every((v) => Number.isInteger(v) && v > 0) || (ks[1] !== 2 && ks[1] !== 3))
    throw new Error(`${yamlFile}: 'kpt_shape' must be [number of keypoints, 2 or 3], got ${JSON.stringify(ks)}`);
  const kptShape: [number, number] = [ks[0], ks[1]];

  let flipIdx: number[] | undefined;
  if (raw.flip_idx != null) {
    const f = raw.flip_idx;
    if (!Array.isArray(f) || f.length !== kptShape[0] || !f.every((v) => Number.isInteger(v) && v >= 0 && v < kptShape[0]))
      throw new Error(`${yamlFile}: 'flip_idx' must list ${kptShape[0]} keypoint indices, got ${JSON.stringify(f)}`);
    flipIdx = f as number[];
  }

  const path = resolveRoot(raw.path, yamlFile, opts.datasetsDir ?? join(process.cwd(), 'datasets'), !!opts.allowMissingRoot);
  const cfg: DatasetConfig = { yamlFile, path, names, nc, kptShape, flipIdx };
  for (const k of ['train', 'val', 'test'] as const) {
    const v = raw[k];
    if (v == null || v === '') continue;
    if (typeof v === 'string') cfg[k] = resolveSplit(path, v);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) cfg[k] = v.map((x) => resolve(path, x));
    else throw new Error(`${yamlFile}: '${k}' must be a folder, a .txt list of images, or a list of those; got ${JSON.stringify(v)}`);
  }
  return cfg;
}

/**
 * The yaml file: the path as given, else for a bare name ('coco8-pose.yaml', as Ultralytics accepts)
 * <datasets dir>/<stem>/<name>, then the datasets bundled with this package (data/<stem>/<name>).
 */
function findDatasetYaml(file: string, datasetsDir: string): string {
  const tried = [resolve(file)];
  if (!file.includes('/') && !file.includes(sep)) {
    const stem = basename(file, extname(file));
    tried.push(join(datasetsDir, stem, file), join(datasetsDir, file));
    const root = bundledDataRoot();
    if (root) tried.push(join(root, stem, file));
  }
  const found = tried.find((f) => existsSync(f));
  if (!found) throw new Error(`dataset '${file}' not found (looked for ${tried.join(', ')})`);
  return found;
}

/** <package>/data (the bundled dataset yamls), or null where the package ships without it. */
function bundledDataRoot(): string | null {
  const dir = join(packageRoot(), 'data');
  return existsSync(dir) ? dir : null;
}

function parseNames(names: unknown, nc: unknown, file: string): Record<number, string> {
  if (names == null) {
    if (Number.isInteger(nc) && (nc as number) > 0) return Object.fromEntries(Array.from({ length: nc as number }, (_, i) => [i, `class_${i}`]));
    throw new Error(`${file}: 'names:' key missing (class names, e.g. names: {0: person})`);
  }
  let out: Record<number, string>;
  if (Array.isArray(names)) out = Object.fromEntries(names.map((n, i) => [i, String(n)]));
  else if (typeof names === 'object') {
    out = {};
    for (const [k, v] of Object.entries(names as object)) {
      if (!/^\d+$/.test(k)) throw new Error(`${file}: class ids in 'names' must be integers 0..nc-1, got '${k}'`);
      out[Number(k)] = String(v);
    }
    const ids = Object.keys(out).map(Number).sort((a, b) => a - b);
    if (ids.some((id, i) => id !== i)) throw new Error(`${file}: class ids in 'names' must be 0..nc-1 without gaps, got ${ids.join(', ')}`);
  } else throw new Error(`${file}: 'names' must be a list or a mapping, got ${JSON.stringify(names)}`);
  if (nc != null && nc !== Object.keys(out).length) throw new Error(`${file}: nc: ${nc} but ${Object.keys(out).length} names`);
  return out;
}

// check_det_dataset: the root is `path`, else the yaml's folder; a relative `path` lives under the
// datasets dir. Ultralytics would download a missing one; we look beside the yaml too, then fail.
function resolveRoot(p: unknown, yamlFile: string, datasetsDir: string, allowMissing = false): string {
  if (p == null || p === '') return dirname(yamlFile);
  if (typeof p !== 'string') throw new Error(`${yamlFile}: 'path' must be a folder, got ${JSON.stringify(p)}`);
  if (isAbsolute(p)) {
    if (!existsSync(p) && !allowMissing) throw new Error(`${yamlFile}: 'path: ${p}' not found; set 'path' to the dataset's root folder`);
    return p;
  }
  const tried = [resolve(datasetsDir, p), resolve(dirname(yamlFile), p)];
  for (const c of tried) if (existsSync(c)) return c;
  if (allowMissing) return tried[0];
  throw new Error(`${yamlFile}: 'path: ${p}' not found (looked for ${tried.join(' and ')}); set 'path' to the dataset's root folder, or remove it to use the yaml's folder`);
}

function resolveSplit(root: string, v: string): string {
  const x = resolve(root, v);
  if (!existsSync(x) && v.startsWith('../')) return resolve(root, v.slice(3)); // as Ultralytics
  return x;
}

const suffix = (f: string): string => f.slice(f.lastIndexOf('.') + 1).toLowerCase();

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.includes('.')) out.push(p);
  }
}

/** get_img_files: every image under the folder(s), or the lines of .txt lists ('./x' relative to the list); sorted. */
export function imageFiles(source: SplitSource): string[] {
  const files: string[] = [];
  for (const p of Array.isArray(source) ? source : [source]) {
    if (!existsSync(p)) throw new Error(`${p} does not exist`);
    if (statSync(p).isDirectory()) walk(p, files);
    else {
      const parent = dirname(p) + sep;
      for (const line of readFileSync(p, 'utf8').trim().split(/\r?\n/)) {
        if (!line.trim()) continue;
        const x = line.startsWith('./') ? parent + line.slice(2) : line;
        files.push(isAbsolute(x) ? x : resolve(dirname(p), x));
      }
    }
  }
  const im = files.filter((f) => IMG_FORMATS.has(suffix(f))).sort();
  if (!im.length) throw new Error(`no images found in ${[source].flat().join(', ')} (supported: ${[...IMG_FORMATS].join(', ')})`);
  return im;
}

// Where predictions are written, as Ultralytics does it:
// runs/pose/predict, predict2, predict3... (utils/files.increment_path), images saved under
// their own file name, labels as labels/<stem>.txt.
//
// Imports: node only.

import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { loadSettings } from '../settings.js';
import { basename, extname, join } from 'node:path';

/**
 * increment_path: `path` itself if it does not exist (or existOk), else path2, path3, ...
 * For an existing file the number goes before the extension (results.txt -> results2.txt).
 */
export function incrementPath(path: string, existOk = false, opts: { sep?: string; mkdir?: boolean } = {}): string {
  const { sep = '', mkdir = false } = opts;
  let p = path;
  if (existsSync(path) && !existOk) {
    const isFile = statSync(path).isFile();
    const suffix = isFile ? extname(path) : '';
    const stem = isFile ? path.slice(0, path.length - suffix.length) : path;
    for (let n = 2; n < 9999; n++) {
      p = `${stem}${sep}${n}${suffix}`;
      if (!existsSync(p)) break;
    }
  }
  if (mkdir) mkdirSync(p, { recursive: true });
  return p;
}

export interface SaveDirOptions {
  /** Parent folder; default runs/<task> relative to the working directory. */
  project?: string | null;
  /** Run name; default the mode ('predict'). */
  name?: string | null;
  existOk?: boolean;
  task?: string;
  mode?: string;
}

/** get_save_dir: <project>/<name>, incremented unless existOk. Not created here. */
export function getSaveDir(opts: SaveDirOptions = {}): string {
  const { task = 'pose', mode = 'predict', existOk = false } = opts;
  const project = opts.project || join(loadSettings().runs_dir, task); // `yolo settings runs_dir=...`
  const name = opts.name || mode;
  return incrementPath(join(project, name), existOk);
}

/** labels/<stem>.txt inside a run folder, for an image path. */
export function labelPath(saveDir: string, imagePath: string): string {
  const name = basename(imagePath);
  const stem = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : name;
  return join(saveDir, 'labels', `${stem}.txt`);
}

/** The file an annotated image is saved as: its own name, in the run folder (.jpg if it had none). */
export function imageSavePath(saveDir: string, imagePath: string): string {
  const name = basename(imagePath);
  const ext = extname(name).toLowerCase();
  return join(saveDir, ext === '.jpg' || ext === '.jpeg' || ext === '.png' ? name : `${name}.jpg`);
}

/** Number of label files in a run folder (for the closing 'N labels saved to' line). */
export function countLabels(saveDir: string): number {
  const dir = join(saveDir, 'labels');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.txt')).length : 0;
}

// A dataset yaml's `download:` URL, as Ultralytics' check_det_dataset uses it: when the val images
// are missing, the zip is fetched into the settings' datasets_dir with a progress bar, unzipped
// there, deleted, and the splits checked again. The bundled coco8-pose needs none of this.
//
//   const cfg = await checkDataset('coco8-pose.yaml');   // downloads on first use when missing
//
// Imports: ./dataset, ./unzip, ../download, ../progress, ../settings, yaml.

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { downloadFile, isUrl } from '../download.js';
import { ProgressBar } from '../progress.js';
import { loadDatasetYaml, type DatasetConfig } from './dataset.js';
import { unzip } from './unzip.js';
import { loadSettings } from '../settings.js';

export interface CheckDatasetOptions {
  /** default: the settings' datasets_dir */
  datasetsDir?: string;
  log?: (s: string) => void;
  /** progress bar output (default stderr) */
  progressWrite?: (s: string) => void;
}

const missing = (cfg: DatasetConfig) => [cfg.val].flat().filter((p): p is string => !!p && !existsSync(p));

/** The dataset config, downloading and unzipping its `download:` archive first when val is missing. */
export async function checkDataset(data: string | DatasetConfig, opts: CheckDatasetOptions = {}): Promise<DatasetConfig> {
  if (typeof data !== 'string') return data;
  const datasetsDir = opts.datasetsDir ?? loadSettings().datasets_dir;
  const log = opts.log ?? console.log;
  const cfg = loadDatasetYaml(data, { datasetsDir, allowMissingRoot: true }); // a missing root may be what download: brings
  const gone = missing(cfg);
  if (!gone.length) return cfg;
  const raw = (parseYaml(readFileSync(cfg.yamlFile, 'utf8')) ?? {}) as Record<string, unknown>;
  const url = raw.download;
  const name = basename(cfg.yamlFile);
  if (url == null || url === '') {
    const root = existsSync(cfg.path) ? '' : ` (its root, 'path: ${raw.path ?? ''}', resolves to ${cfg.path}, which does not exist)`;
    throw new Error(`${cfg.yamlFile}: Dataset '${name}' images not found ⚠️, missing path '${gone[0]}' and the yaml has no 'download:' URL${root}`);
  }
  if (typeof url !== 'string' || !isUrl(url) || !/\.zip(\?.*)?$/i.test(url))
    throw new Error(`${cfg.yamlFile}: 'download:' must be an http(s) URL of a .zip archive; download scripts are not run by yolo-ts (got ${JSON.stringify(String(url).slice(0, 80))})`);
  log(`\nDataset '${name}' images not found ⚠️, missing path '${gone[0]}'`);
  const t0 = performance.now();
  const zip = join(datasetsDir, basename(new URL(url).pathname));
  let bar: ProgressBar | null = null;
  await downloadFile(url, zip, {
    progress: false,
    onProgress: (got, total) => {
      bar ??= new ProgressBar(total > 0 ? total : undefined, { desc: `Downloading ${url} to '${zip}'`, unit: 'B', write: opts.progressWrite });
      bar.update(got - bar.n);
    },
  });
  (bar as ProgressBar | null)?.close();
  log(`Unzipping ${zip} to ${datasetsDir}...`);
  try {
    unzip(zip, datasetsDir);
  } finally {
    rmSync(zip, { force: true });
  }
  const after = loadDatasetYaml(data, { datasetsDir });
  const still = missing(after);
  if (still.length) throw new Error(`Dataset '${name}': downloaded and unzipped ${url}, but '${still[0]}' is still missing; the archive does not hold what the yaml's 'path:' and 'val:' name`);
  log(`Dataset download success ✅ (${((performance.now() - t0) / 1000).toFixed(1)}s), saved to ${datasetsDir}\n`);
  return after;
}

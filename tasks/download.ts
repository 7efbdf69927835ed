// Downloads over http(s): Ultralytics' pretrained weights on first use (attempt_download_asset),
// and URL image sources into a cache folder. Files are written to a temporary name beside the
// target and renamed when complete, so an interrupted download never leaves a half file under the
// real name. Redirects are followed (GitHub release assets redirect to a storage host).
//
// YOLO_ASSETS_URL overrides where weights come from (default: Ultralytics' GitHub release);
// YOLO_CACHE_DIR where URL sources are cached (default ~/.cache/yolo-ts).
//
// Imports: node only.

import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { stderrIsTTY } from './progress.js';

export const DEFAULT_ASSETS_URL = 'https://github.com/ultralytics/assets/releases/download/v8.2.0';

/** Files Ultralytics publishes as release assets that this toolkit can use. */
export const GITHUB_ASSETS = ['n', 's', 'm', 'l', 'x'].map((s) => `yolov8${s}-pose.pt`).concat('yolov8x-pose-p6.pt');

export function assetsBaseUrl(): string {
  return (process.env.YOLO_ASSETS_URL || DEFAULT_ASSETS_URL).replace(/\/+$/, '');
}

export function cacheDir(): string {
  return process.env.YOLO_CACHE_DIR || join(homedir(), '.cache', 'yolo-ts');
}

export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

export interface DownloadOptions {
  /** Print progress to stderr (default true). */
  progress?: boolean;
  /** Give up when no data arrives for this long (default 30 s). */
  timeoutMs?: number;
  maxRedirects?: number;
  /** Called as bytes arrive (total: the announced length, NaN when unknown), e.g. for a ProgressBar. */
  onProgress?: (got: number, total: number) => void;
  /** Checks the complete file before it gets its real name; throw to reject it. */
  verify?: (tmpPath: string) => void;
}

function request(url: string, timeoutMs: number): Promise<IncomingMessage> {
  return new Promise((res, rej) => {
    const get = url.startsWith('https:') ? httpsGet : httpGet;
    const req = get(url, { headers: { 'user-agent': 'yolo-ts' } }, res);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no response within ${timeoutMs / 1000} s`)));
    req.on('error', rej);
  });
}

const mb = (n: number) => (n / 2 ** 20).toFixed(1);

/** Downloads `url` to `dest` (atomically: temp file + rename). Returns dest. */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<string> {
  const { progress = true, timeoutMs = 30000, maxRedirects = 5, verify } = opts;
  const fail = (why: string) => new Error(`download of ${url} failed: ${why}`);
  let res: IncomingMessage;
  let at = url;
  for (let hop = 0; ; hop++) {
    try {
      res = await request(at, timeoutMs);
    } catch (e) {
      throw fail((e as Error).message);
    }
    const code = res.statusCode ?? 0;
    if (code >= 300 && code < 400 && res.headers.location) {
      res.resume();
      if (hop >= maxRedirects) throw fail(`more than ${maxRedirects} redirects`);
      at = new URL(res.headers.location, at).toString();
      continue;
    }
    if (code !== 200) {
      res.resume();
      throw fail(`HTTP ${code} ${res.statusMessage ?? ''}`.trim());
    }
    break;
  }

  const total = Number(res.headers['content-length'] ?? NaN);
  mkdirSync(dirname(resolve(dest)), { recursive: true });
  const tmp = `${dest}.${process.pid}.partial`;
  const fd = openSync(tmp, 'w');
  if (progress) process.stderr.write(`Downloading ${url} to '${dest}'...\n`);
  let got = 0;
  let shown = -1;
  const tty = progress && stderrIsTTY();
  try {
    await new Promise<void>((ok, bad) => {
      res.setTimeout(timeoutMs, () => res.destroy(new Error(`stalled: no data for ${timeoutMs / 1000} s`)));
      res.on('data', (chunk: Buffer) => {
        writeSync(fd, chunk);
        got += chunk.length;
        opts.onProgress?.(got, total);
        const pct = total > 0 ? Math.floor((100 * got) / total) : -1;
        if (tty && pct !== shown) {
          shown = pct;
          process.stderr.write(
            `\r  ${pct >= 0 ? `${String(pct).padStart(3)}%` : ''} ${mb(got)}${total > 0 ? `/${mb(total)}` : ''} MB`,
          );
        }
      });
      res.on('end', ok);
      res.on('aborted', () => bad(new Error('connection closed early')));
      res.on('error', bad);
    });
    closeSync(fd);
    if (tty) process.stderr.write('\n');
    if (total > 0 && got !== total) throw new Error(`truncated: got ${got} of ${total} bytes`);
    if (got === 0) throw new Error('empty response');
    verify?.(tmp);
    renameSync(tmp, dest); // atomic on one filesystem: readers see no file or the whole file
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    rmSync(tmp, { force: true });
    throw fail((e as Error).message);
  }
  if (progress) process.stderr.write(`  ${mb(got)} MB saved to '${dest}'\n`);
  return dest;
}

/** A zip (torch.save's format) starts with 'PK\x03\x04'; an HTML error page does not. */
function verifyZip(path: string): void {
  const fd = openSync(path, 'r');
  const head = Buffer.alloc(4);
  readSync(fd, head, 0, 4, 0);
  closeSync(fd);
  if (head.toString('latin1') !== 'PK\x03\x04') throw new Error('not a PyTorch checkpoint (no zip header)');
}

/**
 * attempt_download_asset: if `file` is missing and is one of Ultralytics' released weights, download
 * it from `${YOLO_ASSETS_URL}/${name}` to `file`. Returns the local path (unchanged when present).
 */
export async function attemptDownloadAsset(file: string, opts: DownloadOptions = {}): Promise<string> {
  if (existsSync(file)) return file;
  const name = basename(file);
  if (!GITHUB_ASSETS.includes(name)) return file; // not ours to fetch: the loader reports it missing
  return downloadFile(`${assetsBaseUrl()}/${name}`, file, { verify: verifyZip, ...opts });
}

/** A URL source, downloaded once into cacheDir()/sources/<hash>-<name> and reused afterwards. */
export async function cachedDownload(url: string, opts: DownloadOptions = {}): Promise<string> {
  const u = new URL(url);
  const name = decodeURIComponent(basename(u.pathname)) || 'download';
  const hash = createHash('sha1').update(url).digest('hex').slice(0, 12);
  const dest = join(cacheDir(), 'sources', `${hash}-${name.replace(/[^\w.-]/g, '_')}`);
  if (existsSync(dest) && statSync(dest).size > 0) return dest;
  return downloadFile(url, dest, opts);
}

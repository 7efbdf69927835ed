// node:fs in the browser: an in-memory file tree. The engine's loaders, shader reader and
// checkpoint writer keep calling readFileSync/writeFileSync; here those reach files the page put
// in (shaders and package.json at start-up, the fetched checkpoint, dropped files) or wrote
// (a fine-tuned best.pt, offered for download). Only what the shared sources use is provided;
// anything else throws a clear error instead of failing silently.
import { dirname, normalize } from './path.js';

const files = new Map<string, Uint8Array>();
const dirs = new Set<string>(['/']);
const enc = new TextEncoder();
const dec = new TextDecoder();

function errno(code: string, syscall: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${syscall} '${path}' (browser in-memory file system)`), {
    code,
    syscall,
    path,
  });
}

function addDirs(p: string) {
  for (let d = dirname(p); !dirs.has(d); d = dirname(d)) dirs.add(d);
}

/** Puts a file into the in-memory tree (the page calls this with fetched or dropped bytes). */
export function putFile(path: string, data: Uint8Array | string): string {
  const p = normalize(path);
  files.set(p, typeof data === 'string' ? enc.encode(data) : data);
  addDirs(p);
  return p;
}

/** The bytes of an in-memory file, or null. */
export function getFile(path: string): Uint8Array | null {
  return files.get(normalize(path)) ?? null;
}

type Opts = BufferEncoding | { encoding?: BufferEncoding | null } | null | undefined;
const encodingOf = (o: Opts) => (typeof o === 'string' ? o : (o?.encoding ?? null));

export function readFileSync(path: string | URL, opts?: Opts): any {
  const p = normalize(String(path));
  const data = files.get(p);
  if (!data) throw errno(dirs.has(p) ? 'EISDIR' : 'ENOENT', 'open', p);
  return encodingOf(opts) ? dec.decode(data) : data;
}

export function writeFileSync(path: string, data: Uint8Array | string | ArrayBufferView) {
  const bytes =
    typeof data === 'string'
      ? enc.encode(data)
      : new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  putFile(path, bytes);
}

export function appendFileSync(path: string, data: string | Uint8Array) {
  const old = getFile(path) ?? new Uint8Array(0);
  const add = typeof data === 'string' ? enc.encode(data) : data;
  const out = new Uint8Array(old.length + add.length);
  out.set(old);
  out.set(add, old.length);
  putFile(path, out);
}

export function existsSync(path: string | URL): boolean {
  const p = normalize(String(path));
  return files.has(p) || dirs.has(p);
}

export function mkdirSync(path: string, _opts?: unknown) {
  const p = normalize(path);
  dirs.add(p);
  addDirs(p);
  return p;
}

export function statSync(path: string, opts?: { throwIfNoEntry?: boolean }): any {
  const p = normalize(path);
  const f = files.get(p);
  if (!f && !dirs.has(p)) {
    if (opts?.throwIfNoEntry === false) return undefined;
    throw errno('ENOENT', 'stat', p);
  }
  const now = new Date();
  return { size: f?.length ?? 0, isFile: () => !!f, isDirectory: () => !f, mtimeMs: now.getTime(), mtime: now };
}
export const lstatSync = statSync;

export function readdirSync(path: string, opts?: { withFileTypes?: boolean }): any[] {
  const p = normalize(path);
  if (!dirs.has(p)) throw errno('ENOENT', 'scandir', p);
  const pre = p === '/' ? '/' : p + '/';
  const names = new Map<string, boolean>();
  for (const f of files.keys())
    if (f.startsWith(pre) && !f.slice(pre.length).includes('/')) names.set(f.slice(pre.length), true);
  for (const d of dirs)
    if (d !== p && d.startsWith(pre) && !d.slice(pre.length).includes('/')) names.set(d.slice(pre.length), false);
  const sorted = [...names.keys()].sort();
  if (!opts?.withFileTypes) return sorted;
  return sorted.map((name) => ({ name, isFile: () => names.get(name)!, isDirectory: () => !names.get(name)! }));
}

export function unlinkSync(path: string) {
  if (!files.delete(normalize(path))) throw errno('ENOENT', 'unlink', path);
}
export function rmSync(path: string) {
  const p = normalize(path);
  files.delete(p);
  for (const f of [...files.keys()]) if (f.startsWith(p + '/')) files.delete(f);
}
export function renameSync(from: string, to: string) {
  putFile(to, readFileSync(from));
  unlinkSync(from);
}
export function copyFileSync(from: string, to: string) {
  putFile(to, readFileSync(from));
}

// File descriptors: enough for the zip writer (open 'w', write, fsync, close) and header reads.
const fds = new Map<number, { path: string; chunks: Uint8Array[]; write: boolean }>();
let nextFd = 3;

export function openSync(path: string, flags: string = 'r'): number {
  const p = normalize(path);
  const write = /[wa+]/.test(flags);
  if (!write && !files.has(p)) throw errno('ENOENT', 'open', p);
  if (flags.startsWith('w')) putFile(p, new Uint8Array(0));
  const existing = files.get(p);
  fds.set(nextFd, { path: p, chunks: existing && !flags.startsWith('w') ? [existing] : [], write });
  return nextFd++;
}

function fdEntry(fd: number, syscall: string) {
  const e = fds.get(fd);
  if (!e) throw errno('EBADF', syscall, String(fd));
  return e;
}

export function writeSync(fd: number, data: Uint8Array | string, offset = 0, length?: number): number {
  const e = fdEntry(fd, 'write');
  const bytes =
    typeof data === 'string' ? enc.encode(data) : data.subarray(offset, offset + (length ?? data.length - offset));
  e.chunks.push(bytes.slice());
  return bytes.length;
}

export function readSync(
  fd: number,
  buf: Uint8Array,
  offset = 0,
  length = buf.length - offset,
  position: number | null = 0,
): number {
  const data = files.get(fdEntry(fd, 'read').path) ?? new Uint8Array(0);
  const src = data.subarray(position ?? 0, (position ?? 0) + length);
  buf.set(src, offset);
  return src.length;
}

export function fsyncSync(fd: number) {
  fdEntry(fd, 'fsync');
}

export function closeSync(fd: number) {
  const e = fdEntry(fd, 'close');
  fds.delete(fd);
  if (!e.write) return;
  const n = e.chunks.reduce((a, c) => a + c.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of e.chunks) {
    out.set(c, o);
    o += c.length;
  }
  putFile(e.path, out);
}

export function opendirSync(path: string) {
  const entries = readdirSync(path, { withFileTypes: true });
  let i = 0;
  return { path, readSync: () => entries[i++] ?? null, closeSync: () => {} };
}

function unavailable(name: string) {
  return () => {
    throw new Error(`fs.${name} is not available in the browser build`);
  };
}
export const fstatSync = unavailable('fstatSync');
export const createReadStream = unavailable('createReadStream');
export const createWriteStream = unavailable('createWriteStream');
export const watch = unavailable('watch');
export const promises = new Proxy({}, { get: (_, k) => unavailable(`promises.${String(k)}`) });
export const constants = { F_OK: 0, R_OK: 4, W_OK: 2, X_OK: 1 };
export default {
  readFileSync,
  writeFileSync,
  appendFileSync,
  existsSync,
  mkdirSync,
  statSync,
  lstatSync,
  readdirSync,
  unlinkSync,
  rmSync,
  renameSync,
  copyFileSync,
  openSync,
  readSync,
  closeSync,
  writeSync,
  fsyncSync,
  opendirSync,
  fstatSync,
  createReadStream,
  createWriteStream,
  watch,
  promises,
  constants,
};

// node:path (posix) for the browser build: the handful of functions the shared sources call.
export const sep = '/';
export const delimiter = ':';

export function normalize(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (!part || part === '.') continue;
    if (part === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
    } else out.push(part);
  }
  const s = (abs ? '/' : '') + out.join('/');
  return s || (abs ? '/' : '.');
}
export function isAbsolute(p: string) {
  return p.startsWith('/');
}
export function join(...parts: string[]) {
  return normalize(parts.filter(Boolean).join('/'));
}
export function resolve(...parts: string[]) {
  let p = '';
  for (const part of parts) p = part.startsWith('/') ? part : p ? `${p}/${part}` : part;
  return normalize(p.startsWith('/') ? p : `/${p}`);
}
export function dirname(p: string) {
  const n = normalize(p);
  const i = n.lastIndexOf('/');
  return i < 0 ? '.' : i === 0 ? '/' : n.slice(0, i);
}
export function basename(p: string, ext?: string) {
  const b = normalize(p).split('/').pop() ?? '';
  return ext && b.endsWith(ext) && b !== ext ? b.slice(0, -ext.length) : b;
}
export function extname(p: string) {
  const b = basename(p);
  const i = b.lastIndexOf('.');
  return i <= 0 ? '' : b.slice(i);
}
export function relative(from: string, to: string) {
  const a = resolve(from).split('/').filter(Boolean);
  const b = resolve(to).split('/').filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/');
}
export function parse(p: string) {
  const base = basename(p);
  const ext = extname(p);
  return {
    root: p.startsWith('/') ? '/' : '',
    dir: dirname(p),
    base,
    ext,
    name: ext ? base.slice(0, -ext.length) : base,
  };
}
export const posix = {
  sep,
  delimiter,
  normalize,
  isAbsolute,
  join,
  resolve,
  dirname,
  basename,
  extname,
  relative,
  parse,
};
export default posix;

// A .zip reader for dataset downloads (Ultralytics unzips with Python's zipfile): the central
// directory, stored and deflated entries (node's zlib), CRC-32 checked, and no entry may write
// outside the target folder ("zip slip"). ZIP64 and encrypted archives are refused by name.
//
// Imports: node only.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { inflateRawSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Extracts every entry of `zipFile` under `dest`; returns the entry names (folders end with '/'). */
export function unzip(zipFile: string, dest: string): string[] {
  const buf = readFileSync(zipFile);
  const bad = (why: string) => new Error(`${zipFile}: not a usable zip archive (${why})`);
  // end of central directory: the last 'PK\5\6' within the final 64 KiB + 22 bytes
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  if (eocd < 0) throw bad('no end-of-central-directory record; the file may be truncated');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || p === 0xffffffff) throw bad('ZIP64 archives are not supported');
  const names: string[] = [];
  for (let e = 0; e < count; e++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) throw bad(`central directory entry ${e} is damaged`);
    const flags = buf.readUInt16LE(p + 8), method = buf.readUInt16LE(p + 10), crc = buf.readUInt32LE(p + 16);
    const csize = buf.readUInt32LE(p + 20), usize = buf.readUInt32LE(p + 24);
    const nlen = buf.readUInt16LE(p + 28), xlen = buf.readUInt16LE(p + 30), clen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nlen).toString('utf8');
    p += 46 + nlen + xlen + clen;
    if (flags & 1) throw bad(`'${name}' is encrypted`);
    const out = normalize(join(dest, name));
    if (isAbsolute(name) || name.split(/[\\/]/).includes('..') || !(out + sep).startsWith(normalize(dest + sep)))
      throw bad(`entry '${name}' would be written outside ${dest}`);
    names.push(name);
    if (name.endsWith('/')) { mkdirSync(out, { recursive: true }); continue; }
    if (buf.readUInt32LE(local) !== 0x04034b50) throw bad(`local header of '${name}' is damaged`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(start, start + csize);
    let data: Uint8Array;
    if (method === 0) data = raw;
    else if (method === 8) data = inflateRawSync(raw);
    else throw bad(`'${name}' uses compression method ${method} (stored and deflate are supported)`);
    if (data.length !== usize || crc32(data) !== crc) throw bad(`'${name}' fails its CRC-32 check`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, data);
  }
  return names;
}

// A minimal ZIP reader and writer: just what PyTorch checkpoints need.
//
// Reader: the whole archive is in memory; entries are found through the central directory (torch
// writes sizes there and leaves the local headers zeroed behind a data descriptor), stored and
// deflate entries, ZIP64 records (torch 1.13 writes a ZIP64 end record even for small files).
// Every offset and size is bounds-checked and every entry's CRC-32 verified, so a truncated or
// garbled file gives an Error naming the file and the problem, never a hang or a partial read.
//
// Writer: stored (uncompressed) entries whose data starts on a 64-byte boundary, padded with an
// extra field the way torch's PyTorchStreamWriter does (so tensors could be mapped in place), and
// ZIP64 records when an offset or size needs them (or when forced, for tests).
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import * as zlib from 'node:zlib';

export interface ZipEntry {
  name: string;
  method: number; // 0 stored, 8 deflate
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_LOCAL = 0x04034b50,
  SIG_CENTRAL = 0x02014b50,
  SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50,
  SIG_EOCD64_LOCATOR = 0x07064b50;
const U32_MAX = 0xffffffff,
  U16_MAX = 0xffff;

// ---------------------------------------------------------------- CRC-32

let crcTable: Uint32Array | undefined;
/** CRC-32 (IEEE), via node:zlib where this Node has it (20.15+), else a table. */
export function crc32(data: Uint8Array, crc = 0): number {
  const native = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (native) return native(data, crc) >>> 0;
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// ---------------------------------------------------------------- reader

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  /** Parses the central directory of `buf`. `file` only names the source in error messages. */
  constructor(
    readonly buf: Uint8Array,
    readonly file = '<buffer>',
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const { count, cdOffset, cdSize } = this.findEndRecord();
    if (cdOffset + cdSize > buf.length)
      this.fail(
        `central directory [${cdOffset}, +${cdSize}) runs past the end of the file (${buf.length} bytes): truncated?`,
      );
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cdOffset + cdSize || this.u32(p) !== SIG_CENTRAL)
        this.fail(`central directory entry ${i} of ${count} at byte ${p} is missing or garbled`);
      const flags = this.u16(p + 8),
        nameLen = this.u16(p + 28),
        extraLen = this.u16(p + 30),
        commentLen = this.u16(p + 32);
      const end = p + 46 + nameLen + extraLen + commentLen;
      if (end > cdOffset + cdSize) this.fail(`central directory entry ${i} at byte ${p} runs past the directory`);
      const name = new TextDecoder().decode(buf.subarray(p + 46, p + 46 + nameLen));
      if (flags & 1) this.fail(`entry '${name}' is encrypted`);
      const entry: ZipEntry = {
        name,
        method: this.u16(p + 10),
        crc32: this.u32(p + 16),
        compressedSize: this.u32(p + 20),
        size: this.u32(p + 24),
        localHeaderOffset: this.u32(p + 42),
      };
      this.applyZip64Extra(entry, p + 46 + nameLen, extraLen);
      this.entries.set(name, entry);
      p = end;
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The bytes of one entry (a view into the archive for stored entries), CRC-checked. */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) this.fail(`no entry named '${name}'`);
    const p = e.localHeaderOffset;
    if (p + 30 > this.buf.length || this.u32(p) !== SIG_LOCAL)
      this.fail(`local header of '${name}' at byte ${p} is missing or garbled`);
    const start = p + 30 + this.u16(p + 26) + this.u16(p + 28);
    if (start + e.compressedSize > this.buf.length)
      this.fail(
        `data of '${name}' [${start}, +${e.compressedSize}) runs past the end of the file (${this.buf.length} bytes): truncated?`,
      );
    const raw = this.buf.subarray(start, start + e.compressedSize);
    let data: Uint8Array;
    if (e.method === 0) {
      if (e.size !== e.compressedSize)
        this.fail(`stored entry '${name}' has size ${e.size} but compressed size ${e.compressedSize}`);
      data = raw;
    } else if (e.method === 8) {
      try {
        // maxOutputLength bounds memory: a lying header cannot make us inflate a zip bomb.
        data = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(e.size, 1) });
      } catch (err) {
        this.fail(`cannot inflate '${name}': ${(err as Error).message}`);
      }
      if (data.length !== e.size) this.fail(`'${name}' inflated to ${data.length} bytes, expected ${e.size}`);
    } else {
      this.fail(`entry '${name}' uses compression method ${e.method} (only stored and deflate are supported)`);
    }
    const crc = crc32(data);
    if (crc !== e.crc32)
      this.fail(`CRC-32 mismatch in '${name}' (stored ${hex(e.crc32)}, computed ${hex(crc)}): the file is corrupt`);
    return data;
  }

  private findEndRecord(): { count: number; cdOffset: number; cdSize: number } {
    const n = this.buf.length;
    if (n < 22) this.fail(`not a zip archive (only ${n} bytes)`);
    // The end record is the last 22 bytes plus a comment of at most 65535 bytes.
    let eocd = -1;
    for (let p = n - 22; p >= Math.max(0, n - 22 - U16_MAX); p--) {
      if (this.u32(p) === SIG_EOCD && p + 22 + this.u16(p + 20) === n) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0) this.fail('no end-of-central-directory record: not a zip archive, or truncated');
    if (this.u16(eocd + 4) !== 0 || this.u16(eocd + 6) !== 0) this.fail('multi-disk archives are not supported');
    let count = this.u16(eocd + 10),
      cdSize = this.u32(eocd + 12),
      cdOffset = this.u32(eocd + 16);
    const loc = eocd - 20;
    if (loc >= 0 && this.u32(loc) === SIG_EOCD64_LOCATOR) {
      const p = this.u64(loc + 8, 'ZIP64 end record offset');
      if (p + 56 > n || this.u32(p) !== SIG_EOCD64) this.fail(`ZIP64 end record at byte ${p} is missing or garbled`);
      count = this.u64(p + 32, 'entry count');
      cdSize = this.u64(p + 40, 'central directory size');
      cdOffset = this.u64(p + 48, 'central directory offset');
    } else if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
      this.fail('end record needs ZIP64 values but has no ZIP64 locator');
    }
    if (count * 46 > cdSize) this.fail(`central directory of ${cdSize} bytes cannot hold ${count} entries`);
    return { count, cdOffset, cdSize };
  }

  /** ZIP64 extra field (id 1): 64-bit values for exactly the fields saturated at 0xFFFFFFFF, in this order. */
  private applyZip64Extra(e: ZipEntry, p: number, len: number) {
    const end = p + len;
    while (p + 4 <= end) {
      const id = this.u16(p),
        size = this.u16(p + 2);
      if (p + 4 + size > end) this.fail(`extra field of '${e.name}' is garbled`);
      if (id === 1) {
        let q = p + 4;
        const take = (what: string) => {
          if (q + 8 > p + 4 + size) this.fail(`ZIP64 extra field of '${e.name}' lacks the ${what}`);
          const v = this.u64(q, what);
          q += 8;
          return v;
        };
        if (e.size === U32_MAX) e.size = take('size');
        if (e.compressedSize === U32_MAX) e.compressedSize = take('compressed size');
        if (e.localHeaderOffset === U32_MAX) e.localHeaderOffset = take('local header offset');
      }
      p += 4 + size;
    }
  }

  private u16(p: number) {
    return this.view.getUint16(p, true);
  }
  private u32(p: number) {
    return this.view.getUint32(p, true);
  }
  private u64(p: number, what: string) {
    const v = this.view.getBigUint64(p, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} ${v} is out of range`);
    return Number(v);
  }
  private fail(what: string): never {
    throw new Error(`${this.file}: ${what}`);
  }
}

// ---------------------------------------------------------------- writer

export interface ZipWriteOptions {
  /** Data alignment in bytes (torch uses 64). */
  align?: number;
  /** Write ZIP64 records even when nothing needs them (for tests and other readers). */
  forceZip64?: boolean;
}

/** Builds a stored-entries archive as a list of chunks (no single giant copy). */
export function buildZip(entries: { name: string; data: Uint8Array }[], opts: ZipWriteOptions = {}): Uint8Array[] {
  const align = opts.align ?? 64;
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const seen = new Set<string>();
  for (const { name, data } of entries) {
    if (seen.has(name)) throw new Error(`zip: duplicate entry name '${name}'`);
    seen.add(name);
    const e: EntryRecord = {
      nameBytes: new TextEncoder().encode(name),
      crc: crc32(data),
      size: data.length,
      offset,
      zip64: false,
    };
    e.zip64 = !!opts.forceZip64 || e.size >= U32_MAX || offset >= U32_MAX;
    const local = localHeader(e, align);
    chunks.push(local, data);
    central.push(centralHeader(e));
    offset += local.length + e.size;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  chunks.push(...central, ...endRecords(offset, cdSize, entries.length, !!opts.forceZip64));
  return chunks;
}

/** What the local and central headers of one stored entry say. */
interface EntryRecord {
  nameBytes: Uint8Array;
  crc: number;
  size: number;
  /** where its local header starts */
  offset: number;
  zip64: boolean;
}

/** Local header: 30 bytes + name + [ZIP64 sizes] + padding extra field ('FB', as torch) up to the alignment. */
function localHeader({ nameBytes, crc, size, offset, zip64 }: EntryRecord, align: number): Uint8Array {
  const z64Len = zip64 ? 20 : 0;
  const pad = (align - ((offset + 30 + nameBytes.length + z64Len + 4) % align)) % align;
  const local = new Uint8Array(30 + nameBytes.length + z64Len + 4 + pad);
  const lv = new DataView(local.buffer);
  lv.setUint32(0, SIG_LOCAL, true);
  lv.setUint16(4, zip64 ? 45 : 20, true);
  lv.setUint16(6, 0x0800, true); // names are UTF-8
  lv.setUint16(12, 0x21, true); // 1980-01-01, a fixed date keeps files reproducible
  lv.setUint32(14, crc, true);
  lv.setUint32(18, zip64 ? U32_MAX : size, true);
  lv.setUint32(22, zip64 ? U32_MAX : size, true);
  lv.setUint16(26, nameBytes.length, true);
  lv.setUint16(28, z64Len + 4 + pad, true);
  local.set(nameBytes, 30);
  let q = 30 + nameBytes.length;
  if (zip64) {
    lv.setUint16(q, 1, true);
    lv.setUint16(q + 2, 16, true);
    lv.setBigUint64(q + 4, BigInt(size), true);
    lv.setBigUint64(q + 12, BigInt(size), true);
    q += 20;
  }
  lv.setUint16(q, 0x4246, true);
  lv.setUint16(q + 2, pad, true); // 'FB' + pad bytes
  local.fill(0x5a, q + 4); // 'Z', as torch pads
  return local;
}

/** Central directory header: 46 bytes + name + [ZIP64 sizes and offset]. */
function centralHeader({ nameBytes, crc, size, offset, zip64 }: EntryRecord): Uint8Array {
  const c = new Uint8Array(46 + nameBytes.length + (zip64 ? 28 : 0));
  const cv = new DataView(c.buffer);
  cv.setUint32(0, SIG_CENTRAL, true);
  cv.setUint16(4, zip64 ? 45 : 20, true);
  cv.setUint16(6, zip64 ? 45 : 20, true);
  cv.setUint16(8, 0x0800, true);
  cv.setUint16(14, 0x21, true);
  cv.setUint32(16, crc, true);
  cv.setUint32(20, zip64 ? U32_MAX : size, true);
  cv.setUint32(24, zip64 ? U32_MAX : size, true);
  cv.setUint16(28, nameBytes.length, true);
  cv.setUint16(30, zip64 ? 28 : 0, true);
  cv.setUint32(42, zip64 ? U32_MAX : offset, true);
  c.set(nameBytes, 46);
  if (zip64) {
    const e = 46 + nameBytes.length;
    cv.setUint16(e, 1, true);
    cv.setUint16(e + 2, 24, true);
    cv.setBigUint64(e + 4, BigInt(size), true);
    cv.setBigUint64(e + 12, BigInt(size), true);
    cv.setBigUint64(e + 20, BigInt(offset), true);
  }
  return c;
}

/** [ZIP64 end record + locator] and the end of central directory record, for n entries. */
function endRecords(cdOffset: number, cdSize: number, n: number, forceZip64: boolean): Uint8Array[] {
  const out: Uint8Array[] = [];
  const zip64 = forceZip64 || cdOffset + cdSize >= U32_MAX || n >= U16_MAX;
  if (zip64) {
    const z = new Uint8Array(56 + 20);
    const zv = new DataView(z.buffer);
    zv.setUint32(0, SIG_EOCD64, true);
    zv.setBigUint64(4, 44n, true); // size of the rest of this record
    zv.setUint16(12, 45, true);
    zv.setUint16(14, 45, true);
    zv.setBigUint64(24, BigInt(n), true);
    zv.setBigUint64(32, BigInt(n), true);
    zv.setBigUint64(40, BigInt(cdSize), true);
    zv.setBigUint64(48, BigInt(cdOffset), true);
    zv.setUint32(56, SIG_EOCD64_LOCATOR, true);
    zv.setBigUint64(64, BigInt(cdOffset + cdSize), true);
    zv.setUint32(72, 1, true); // total disks
    out.push(z);
  }
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, SIG_EOCD, true);
  ev.setUint16(8, zip64 ? U16_MAX : n, true);
  ev.setUint16(10, zip64 ? U16_MAX : n, true);
  ev.setUint32(12, zip64 ? U32_MAX : cdSize, true);
  ev.setUint32(16, zip64 ? U32_MAX : cdOffset, true);
  out.push(end);
  return out;
}

/** The archive as one buffer (for small archives and tests). */
export function zipToBuffer(entries: { name: string; data: Uint8Array }[], opts?: ZipWriteOptions): Uint8Array {
  return Buffer.concat(buildZip(entries, opts));
}

/** Writes chunks to `path` atomically: a temp file in the same folder, fsync, then rename over. */
export function writeFileAtomic(path: string, chunks: Uint8Array[]) {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const c of chunks) {
      for (let done = 0; done < c.length;) done += writeSync(fd, c, done, c.length - done);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
}

function hex(n: number) {
  return '0x' + n.toString(16).padStart(8, '0');
}

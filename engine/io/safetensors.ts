// safetensors: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {...}}, then raw little-endian data.
// Plain records in and out (no Tensor), so checkpoint code, tests and fixtures can all use it.
import { readFileSync, writeFileSync } from 'node:fs';
import { InputError, readingFile } from '../errors.js';

export type STDType = 'F16' | 'F32' | 'F64' | 'I32' | 'I64' | 'U8' | 'I8' | 'BOOL';
export interface STEntry {
  dtype: STDType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array | BigInt64Array | Uint16Array;
}

const BYTES: Record<STDType, number> = { F16: 2, F32: 4, F64: 8, I32: 4, I64: 8, U8: 1, I8: 1, BOOL: 1 };

/** Parses a safetensors buffer. `file` only names the source in error messages. */
export function parseSafetensors(
  buf: Uint8Array,
  file = '<buffer>',
): { tensors: Map<string, STEntry>; metadata: Record<string, string> } {
  return readingFile(file, () => parse(buf, file));
}

function parse(buf: Uint8Array, file: string): { tensors: Map<string, STEntry>; metadata: Record<string, string> } {
  if (buf.byteLength < 8)
    throw new Error(`${file}: not a safetensors file (only ${buf.byteLength} bytes, expected an 8-byte header length)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > buf.byteLength - 8)
    throw new Error(`${file}: safetensors header length ${headerLen} exceeds the file size ${buf.byteLength}`);
  let header: Record<string, any>;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new Error(`${file}: safetensors header is not valid JSON (${(e as Error).message})`);
  }
  const base = 8 + headerLen;
  const tensors = new Map<string, STEntry>();
  if (!header || typeof header !== 'object' || Array.isArray(header))
    throw new InputError(
      file,
      `safetensors header must be a JSON object of tensors, got ${JSON.stringify(header)?.slice(0, 40)}`,
    );
  const meta = header.__metadata__;
  if (
    meta != null &&
    (typeof meta !== 'object' || Array.isArray(meta) || Object.values(meta).some((v) => typeof v !== 'string'))
  )
    throw new InputError(file, `safetensors '__metadata__' must map names to strings`);
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const field = (f: string, want: string, got: unknown) =>
      new InputError(file, `tensor '${name}': '${f}' must be ${want}, got ${JSON.stringify(got)?.slice(0, 60)}`);
    if (!info || typeof info !== 'object') throw field('(entry)', 'an object {dtype, shape, data_offsets}', info);
    const dtype = info.dtype as STDType;
    if (!(dtype in BYTES)) throw new Error(`${file}: tensor '${name}' has unsupported dtype '${info.dtype}'`);
    const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
    if (!Array.isArray(info.shape) || !info.shape.every(isCount))
      throw field('shape', 'a list of non-negative integers', info.shape);
    const off = info.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every(isCount) || off[0] > off[1])
      throw field('data_offsets', '[begin, end] with 0 <= begin <= end', off);
    const [begin, end] = off as [number, number];
    const numel = (info.shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== numel * BYTES[dtype] || base + end > buf.byteLength)
      throw new Error(
        `${file}: tensor '${name}' (${dtype} ${JSON.stringify(info.shape)}) has data_offsets [${begin}, ${end}] that do not fit its shape or the file`,
      );
    // Copy so the data is aligned and independent of the file buffer (a Node Buffer's slice()
    // would be a view into a shared pool, not a copy).
    const bytes = new Uint8Array(end - begin);
    bytes.set(buf.subarray(base + begin, base + end));
    tensors.set(name, { dtype, shape: info.shape, data: typedView(dtype, bytes.buffer) });
  }
  return { tensors, metadata: header.__metadata__ ?? {} };
}

export function readSafetensors(path: string) {
  const bytes = readingFile(path, () => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new Error(`cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  });
  return parseSafetensors(bytes, path);
}

export function serializeSafetensors(
  tensors: Map<string, STEntry> | Record<string, STEntry>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const n = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // align the data to 8 bytes
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

export function writeSafetensors(
  path: string,
  tensors: Map<string, STEntry> | Record<string, STEntry>,
  metadata?: Record<string, string>,
) {
  writeFileSync(path, serializeSafetensors(tensors, metadata));
}

function typedView(dtype: STDType, ab: ArrayBuffer): STEntry['data'] {
  switch (dtype) {
    case 'F32':
      return new Float32Array(ab);
    case 'F64':
      return new Float64Array(ab);
    case 'I32':
      return new Int32Array(ab);
    case 'I64':
      return new BigInt64Array(ab);
    case 'F16':
      return new Uint16Array(ab);
    case 'I8':
      return new Int8Array(ab);
    default:
      return new Uint8Array(ab);
  }
}

/** IEEE half (as raw uint16 bits) to float32. */
export function f16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i],
      s = h & 0x8000 ? -1 : 1,
      e = (h >> 10) & 0x1f,
      m = h & 0x3ff;
    out[i] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}

/** As a Float32Array, whatever the stored float dtype. */
export function asF32(e: STEntry): Float32Array {
  if (e.dtype === 'F32') return e.data as Float32Array;
  if (e.dtype === 'F16') return f16ToF32(e.data as Uint16Array);
  if (e.dtype === 'F64') return Float32Array.from(e.data as Float64Array);
  if (e.dtype === 'I64') return Float32Array.from(e.data as BigInt64Array, Number);
  return Float32Array.from(e.data as ArrayLike<number>);
}

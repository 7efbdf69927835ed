// A small protobuf codec driven by schema tables (field number, name, type, repeated), enough for
// ONNX: varints (int32/int64/enum, negatives as 10-byte two's complement), float/double, strings,
// bytes, nested messages, packed repeated scalars. Messages are plain objects keyed by field name.

export type Scalar = 'int64' | 'int32' | 'uint64' | 'float' | 'double' | 'string' | 'bytes';
export interface FieldDef {
  num: number;
  name: string;
  type: Scalar | string /* message name */;
  repeated?: boolean;
  packed?: boolean;
}
export type Schema = Record<string, FieldDef[]>;
export type Message = Record<string, unknown>;

const VARINT = 0,
  I64 = 1,
  LEN = 2,
  I32 = 5;

class Writer {
  private chunks: Uint8Array[] = [];
  private buf = new Uint8Array(1024);
  private pos = 0;

  private ensure(n: number) {
    if (this.pos + n <= this.buf.length) return;
    this.chunks.push(this.buf.subarray(0, this.pos));
    this.buf = new Uint8Array(Math.max(1024, n * 2));
    this.pos = 0;
  }

  varint(v: number | bigint) {
    this.ensure(10);
    let x = BigInt.asUintN(64, BigInt(v));
    if (x < 0x80n) return void (this.buf[this.pos++] = Number(x));
    while (x >= 0x80n) {
      this.buf[this.pos++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.pos++] = Number(x);
  }

  tag(num: number, wire: number) {
    this.varint((num << 3) | wire);
  }

  bytes(b: Uint8Array) {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  fixed(v: number, double: boolean) {
    this.ensure(8);
    const dv = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, double ? 8 : 4);
    if (double) dv.setFloat64(0, v, true);
    else dv.setFloat32(0, v, true);
    this.pos += double ? 8 : 4;
  }

  finish(): Uint8Array {
    const parts = [...this.chunks, this.buf.subarray(0, this.pos)];
    const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) (out.set(p, o), (o += p.length));
    return out;
  }
}

const utf8 = new TextEncoder(),
  fromUtf8 = new TextDecoder('utf-8', { fatal: true });

function isScalar(t: string): t is Scalar {
  return ['int64', 'int32', 'uint64', 'float', 'double', 'string', 'bytes'].includes(t);
}

/** Serializes `msg` as message type `type` of `schema`. Unknown keys are an error (typos would vanish silently). */
export function encode(schema: Schema, type: string, msg: Message): Uint8Array {
  const w = new Writer();
  writeMessage(schema, type, msg, w);
  return w.finish();
}

function writeMessage(schema: Schema, type: string, msg: Message, w: Writer) {
  const fields = schema[type];
  if (!fields) throw new Error(`protobuf: unknown message type ${type}`);
  for (const key of Object.keys(msg))
    if (msg[key] !== undefined && !fields.some((f) => f.name === key))
      throw new Error(`protobuf: ${type} has no field '${key}'`);
  for (const f of fields) {
    const v = msg[f.name];
    if (v === undefined || v === null) continue;
    const values = f.repeated ? (v as unknown[]) : [v];
    if (f.repeated && !Array.isArray(v) && !ArrayBuffer.isView(v))
      throw new Error(`protobuf: ${type}.${f.name} must be an array`);
    if (f.packed && isScalar(f.type) && values.length) {
      const inner = new Writer();
      for (const x of values as number[]) writeScalar(inner, f.type, x);
      w.tag(f.num, LEN);
      w.bytes(inner.finish());
      continue;
    }
    for (const x of values) {
      if (isScalar(f.type)) {
        w.tag(
          f.num,
          f.type === 'float'
            ? I32
            : f.type === 'double'
              ? I64
              : f.type === 'string' || f.type === 'bytes'
                ? LEN
                : VARINT,
        );
        if (f.type === 'string') w.bytes(utf8.encode(x as string));
        else if (f.type === 'bytes') w.bytes(x as Uint8Array);
        else writeScalar(w, f.type, x as number);
      } else {
        const inner = new Writer();
        writeMessage(schema, f.type, x as Message, inner);
        w.tag(f.num, LEN);
        w.bytes(inner.finish());
      }
    }
  }
}

function writeScalar(w: Writer, t: Scalar, x: number | bigint) {
  if (t === 'float' || t === 'double') w.fixed(Number(x), t === 'double');
  else w.varint(x);
}

/** Parses bytes as message `type`. Fields not in the schema are skipped; truncation is an error. */
export function decode(schema: Schema, type: string, bytes: Uint8Array, what = type): Message {
  const fields = schema[type];
  if (!fields) throw new Error(`protobuf: unknown message type ${type}`);
  const out: Message = {};
  for (const f of fields) if (f.repeated) out[f.name] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  const fail = (why: string): never => {
    throw new Error(`${what}: malformed protobuf (${why} at byte ${pos} of ${bytes.length})`);
  };
  const readVarint = (): bigint => {
    let r = 0n,
      shift = 0n;
    for (;;) {
      if (pos >= bytes.length) fail('truncated varint');
      const b = bytes[pos++];
      r |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return r;
      shift += 7n;
      if (shift > 63n) fail('varint too long');
    }
  };
  const toNumber = (v: bigint, t: string) =>
    t === 'uint64' ? Number(v) : Number(BigInt.asIntN(t === 'int32' ? 32 : 64, v));
  while (pos < bytes.length) {
    const key = Number(readVarint());
    const num = key >>> 3,
      wire = key & 7;
    const f = fields.find((d) => d.num === num);
    let raw: bigint | number | Uint8Array = 0n;
    if (wire === VARINT) raw = readVarint();
    else if (wire === I64) {
      if (pos + 8 > bytes.length) fail('truncated fixed64');
      raw = dv.getFloat64(pos, true);
      pos += 8;
    } else if (wire === I32) {
      if (pos + 4 > bytes.length) fail('truncated fixed32');
      raw = dv.getFloat32(pos, true);
      pos += 4;
    } else if (wire === LEN) {
      const n = Number(readVarint());
      if (pos + n > bytes.length) fail(`length ${n} past the end`);
      raw = bytes.subarray(pos, pos + n);
      pos += n;
    } else fail(`unsupported wire type ${wire}`);
    if (!f) continue;
    const push = (v: unknown) => (f.repeated ? (out[f.name] as unknown[]).push(v) : (out[f.name] = v));
    if (!isScalar(f.type)) {
      if (!(raw! instanceof Uint8Array)) fail(`${type}.${f.name} should be a message`);
      push(decode(schema, f.type, raw as Uint8Array, what));
    } else if (f.type === 'string' || f.type === 'bytes') {
      if (!(raw! instanceof Uint8Array)) fail(`${type}.${f.name} should be length-delimited, has wire type ${wire}`);
      if (f.type === 'bytes') push(new Uint8Array(raw as Uint8Array));
      else {
        try {
          push(fromUtf8.decode(raw as Uint8Array));
        } catch {
          fail(`${type}.${f.name} is not valid UTF-8`);
        }
      }
    } else if (raw! instanceof Uint8Array) {
      // packed repeated scalars
      const sub = decode(
        { p: [{ num: 1, name: 'v', type: f.type, repeated: true }] },
        'p',
        packedAsFields(raw, f.type),
        what,
      );
      for (const v of sub.v as unknown[]) push(v);
    } else push(typeof raw === 'bigint' ? toNumber(raw, f.type) : raw);
  }
  return out;
}

/** Re-frames packed scalars as field-1 entries so the decoder above reads them one by one. */
function packedAsFields(raw: Uint8Array, t: Scalar): Uint8Array {
  const wire = t === 'float' ? I32 : t === 'double' ? I64 : VARINT;
  const out: number[] = [];
  let pos = 0;
  while (pos < raw.length) {
    out.push((1 << 3) | wire);
    const start = pos;
    if (wire === VARINT) while (pos < raw.length && raw[pos++] & 0x80);
    else pos += wire === I32 ? 4 : 8;
    if (pos > raw.length) throw new Error('malformed protobuf (truncated packed field)');
    for (let i = start; i < pos; i++) out.push(raw[i]);
  }
  return Uint8Array.from(out);
}

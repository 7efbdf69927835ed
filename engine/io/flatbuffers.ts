// A small FlatBuffers writer (https://flatbuffers.dev/internals): enough for TFLite models and
// their metadata. Objects are laid out front to back: the root offset and file identifier, then
// each table as its vtable followed by its body, and every object a table refers to after that
// table (uoffsets always point forward, as the format requires of them). Scalars sit at their
// natural alignment; vectors may ask for more (TFLite's Buffer.data is force_align 16).
//
//   const bytes = finish(table([[0, 'u32', 3], [1, 'offset', vector('offset', [...])]]), 'TFL3');
//
// Imports: nothing.

export type Scalar = 'bool' | 'u8' | 'i8' | 'i16' | 'u16' | 'i32' | 'u32' | 'f32' | 'i64';
const SIZE: Record<Scalar, number> = { bool: 1, u8: 1, i8: 1, i16: 2, u16: 2, i32: 4, u32: 4, f32: 4, i64: 8 };

export type FbObject =
  | { kind: 'table'; fields: FbField[] }
  | { kind: 'string'; value: string }
  | { kind: 'vector'; elem: Scalar; values: ArrayLike<number> | Uint8Array; align?: number }
  | { kind: 'vectorOf'; items: FbObject[] };
/** [slot (field index in the schema), type, value]; a union takes two slots: its type (u8) and the table. */
export type FbField = [number, Scalar, number | bigint | boolean] | [number, 'offset', FbObject];

export const table = (fields: (FbField | null | undefined | false)[]): FbObject => ({
  kind: 'table',
  fields: fields.filter((f): f is FbField => !!f),
});
export const str = (value: string): FbObject => ({ kind: 'string', value });
export const vec = (elem: Scalar, values: ArrayLike<number>, align?: number): FbObject => ({
  kind: 'vector',
  elem,
  values,
  align,
});
export const vecOf = (items: FbObject[]): FbObject => ({ kind: 'vectorOf', items });

class Out {
  buf = new Uint8Array(1 << 16);
  dv = new DataView(this.buf.buffer);
  end = 0;
  reserve(n: number, align = 1, lead = 0): number {
    // the position p >= end with (p + lead) % align == 0, then n bytes
    let p = this.end;
    while ((p + lead) % align) p++;
    const need = p + n;
    if (need > this.buf.length) {
      const next = new Uint8Array(Math.max(need, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.end));
      this.buf = next;
      this.dv = new DataView(next.buffer);
    }
    this.end = need;
    return p;
  }
  scalar(pos: number, t: Scalar, v: number | bigint | boolean) {
    const n = typeof v === 'boolean' ? Number(v) : v;
    switch (t) {
      case 'bool':
      case 'u8':
        this.dv.setUint8(pos, Number(n));
        break;
      case 'i8':
        this.dv.setInt8(pos, Number(n));
        break;
      case 'i16':
        this.dv.setInt16(pos, Number(n), true);
        break;
      case 'u16':
        this.dv.setUint16(pos, Number(n), true);
        break;
      case 'i32':
        this.dv.setInt32(pos, Number(n), true);
        break;
      case 'u32':
        this.dv.setUint32(pos, Number(n), true);
        break;
      case 'f32':
        this.dv.setFloat32(pos, Number(n), true);
        break;
      case 'i64':
        this.dv.setBigInt64(pos, BigInt(n), true);
        break;
    }
  }
}

function place(o: Out, obj: FbObject): number {
  switch (obj.kind) {
    case 'string': {
      const b = new TextEncoder().encode(obj.value);
      const p = o.reserve(4 + b.length + 1, 4);
      o.scalar(p, 'u32', b.length);
      o.buf.set(b, p + 4);
      o.buf[p + 4 + b.length] = 0;
      return p;
    }
    case 'vector': {
      const size = SIZE[obj.elem],
        n = obj.values.length;
      const align = Math.max(4, size, obj.align ?? 1);
      const p = o.reserve(4 + n * size, align, 4); // elements aligned, the length right before them
      o.scalar(p, 'u32', n);
      if (obj.values instanceof Uint8Array && size === 1) o.buf.set(obj.values, p + 4);
      else for (let i = 0; i < n; i++) o.scalar(p + 4 + i * size, obj.elem, obj.values[i]);
      return p;
    }
    case 'vectorOf': {
      const p = o.reserve(4 + 4 * obj.items.length, 4);
      o.scalar(p, 'u32', obj.items.length);
      obj.items.forEach((item, i) => {
        const at = p + 4 + 4 * i;
        const q = place(o, item);
        o.scalar(at, 'u32', q - at);
      });
      return p;
    }
    case 'table': {
      const slots = obj.fields.reduce((m, f) => Math.max(m, f[0] + 1), 0);
      // body layout: soffset (4), then fields by size, largest first, each aligned
      const sized = obj.fields
        .map((f) => ({ f, size: f[1] === 'offset' ? 4 : SIZE[f[1]] }))
        .sort((a, b) => b.size - a.size);
      let off = 4;
      const at = new Map<FbField, number>();
      for (const { f, size } of sized) {
        while (off % size) off++;
        at.set(f, off);
        off += size;
      }
      while (off % 4) off++;
      const vt = o.reserve(4 + 2 * slots, 2);
      o.scalar(vt, 'u16', 4 + 2 * slots);
      o.scalar(vt + 2, 'u16', off);
      for (const f of obj.fields) o.scalar(vt + 4 + 2 * f[0], 'u16', at.get(f)!);
      const t = o.reserve(off, 8, 4); // fields after the soffset 8-aligned
      o.scalar(t, 'i32', t - vt);
      for (const f of obj.fields) if (f[1] !== 'offset') o.scalar(t + at.get(f)!, f[1], f[2] as number);
      for (const f of obj.fields)
        if (f[1] === 'offset') {
          const pos = t + at.get(f)!;
          const q = place(o, f[2] as FbObject);
          o.scalar(pos, 'u32', q - pos);
        }
      return t;
    }
  }
}

/** The buffer: root uoffset, the 4-character file identifier, then the root table and everything below it. */
export function finish(root: FbObject, identifier?: string): Uint8Array {
  const o = new Out();
  o.reserve(identifier ? 8 : 4);
  if (identifier) o.buf.set(new TextEncoder().encode(identifier.padEnd(4).slice(0, 4)), 4);
  const r = place(o, root);
  o.scalar(0, 'u32', r);
  o.reserve(0, 16); // total length a multiple of 16
  return o.buf.slice(0, o.end);
}

// ---------------------------------------------------------------- reader

/** A table in a FlatBuffer: fields by slot (absent fields give the schema default). */
export class FbTable {
  private readonly dv: DataView;
  private readonly vt: number;
  private readonly vtLen: number;
  constructor(
    readonly buf: Uint8Array,
    readonly pos: number,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (pos < 0 || pos + 4 > buf.length) throw new Error(`flatbuffer: table offset ${pos} is outside the buffer`);
    this.vt = pos - this.dv.getInt32(pos, true);
    if (this.vt < 0 || this.vt + 4 > buf.length)
      throw new Error(`flatbuffer: vtable of the table at ${pos} is outside the buffer`);
    this.vtLen = this.dv.getUint16(this.vt, true);
  }
  /** the field's absolute position, or 0 when absent */
  private at(slot: number): number {
    const o = 4 + 2 * slot;
    if (o + 2 > this.vtLen) return 0;
    const rel = this.dv.getUint16(this.vt + o, true);
    return rel ? this.pos + rel : 0;
  }
  has(slot: number) {
    return this.at(slot) !== 0;
  }
  scalar(slot: number, t: Scalar, def = 0): number {
    const p = this.at(slot);
    return p ? readScalar(this.dv, p, t) : def;
  }
  private deref(slot: number): number {
    const p = this.at(slot);
    return p ? p + this.dv.getUint32(p, true) : 0;
  }
  table(slot: number): FbTable | null {
    const p = this.deref(slot);
    return p ? new FbTable(this.buf, p) : null;
  }
  str(slot: number): string | null {
    const p = this.deref(slot);
    return p ? new TextDecoder().decode(this.buf.subarray(p + 4, p + 4 + this.dv.getUint32(p, true))) : null;
  }
  tables(slot: number): FbTable[] {
    const p = this.deref(slot);
    if (!p) return [];
    const n = this.dv.getUint32(p, true);
    return Array.from({ length: n }, (_, i) => {
      const e = p + 4 + 4 * i;
      return new FbTable(this.buf, e + this.dv.getUint32(e, true));
    });
  }
  scalars(slot: number, t: Scalar): number[] {
    const p = this.deref(slot);
    if (!p) return [];
    const n = this.dv.getUint32(p, true),
      size = SIZE[t];
    return Array.from({ length: n }, (_, i) => readScalar(this.dv, p + 4 + i * size, t));
  }
  bytes(slot: number): Uint8Array {
    const p = this.deref(slot);
    return p ? this.buf.subarray(p + 4, p + 4 + this.dv.getUint32(p, true)) : new Uint8Array(0);
  }
}

function readScalar(dv: DataView, p: number, t: Scalar): number {
  switch (t) {
    case 'bool':
    case 'u8':
      return dv.getUint8(p);
    case 'i8':
      return dv.getInt8(p);
    case 'i16':
      return dv.getInt16(p, true);
    case 'u16':
      return dv.getUint16(p, true);
    case 'i32':
      return dv.getInt32(p, true);
    case 'u32':
      return dv.getUint32(p, true);
    case 'f32':
      return dv.getFloat32(p, true);
    case 'i64':
      return Number(dv.getBigInt64(p, true));
  }
}

/** The root table; checks the file identifier when one is given. */
export function rootTable(buf: Uint8Array, identifier?: string, what = '<flatbuffer>'): FbTable {
  if (buf.length < 8) throw new Error(`${what}: too short for a FlatBuffer (${buf.length} bytes)`);
  if (identifier && new TextDecoder().decode(buf.subarray(4, 8)) !== identifier)
    throw new Error(
      `${what}: not a '${identifier}' FlatBuffer (identifier '${new TextDecoder().decode(buf.subarray(4, 8))}')`,
    );
  return new FbTable(buf, new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(0, true));
}

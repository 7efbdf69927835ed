// The `Buffer` global for the browser build (esbuild `inject`): a Uint8Array with the handful of
// Node Buffer methods the shared sources use (from, concat, byteLength, toString in utf8 / latin1 /
// hex, readUInt32BE/LE). Anything else is plain Uint8Array.
type Enc = 'utf8' | 'utf-8' | 'latin1' | 'binary' | 'ascii' | 'hex';

export class Buffer extends Uint8Array {
  static override from(src: any, encOrOffset?: any, length?: number): Buffer {
    if (typeof src === 'string') return Buffer.fromString(src, (encOrOffset as Enc) ?? 'utf8');
    if (src instanceof ArrayBuffer)
      return new Buffer(src, (encOrOffset as number) ?? 0, length ?? src.byteLength - ((encOrOffset as number) ?? 0));
    const b = new Buffer((src as ArrayLike<number>).length ?? [...(src as Iterable<number>)].length);
    b.set(ArrayBuffer.isView(src) ? (src as unknown as ArrayLike<number>) : Array.from(src as Iterable<number>));
    return b;
  }

  private static fromString(s: string, enc: Enc): Buffer {
    if (enc === 'hex')
      return Buffer.from(Array.from({ length: s.length >> 1 }, (_, i) => parseInt(s.slice(2 * i, 2 * i + 2), 16)));
    if (enc === 'latin1' || enc === 'binary' || enc === 'ascii')
      return Buffer.from(Array.from(s, (c) => c.charCodeAt(0) & 0xff));
    return Buffer.from(new TextEncoder().encode(s));
  }

  static alloc(n: number, fill = 0) {
    return new Buffer(n).fill(fill) as Buffer;
  }

  static isBuffer(x: unknown): x is Buffer {
    return x instanceof Buffer;
  }

  static byteLength(s: string | ArrayBufferView, enc: Enc = 'utf8') {
    return typeof s === 'string' ? Buffer.fromString(s, enc).length : s.byteLength;
  }

  static concat(parts: readonly Uint8Array[], total?: number): Buffer {
    const out = new Buffer(total ?? parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p.subarray(0, Math.min(p.length, out.length - o)), o);
      o += p.length;
      if (o >= out.length) break;
    }
    return out;
  }

  override toString(enc: Enc = 'utf8', start = 0, end = this.length): string {
    const v = this.subarray(start, end);
    if (enc === 'hex') return Array.from(v, (b) => b.toString(16).padStart(2, '0')).join('');
    if (enc === 'latin1' || enc === 'binary' || enc === 'ascii') {
      let s = '';
      for (let i = 0; i < v.length; i++) s += String.fromCharCode(v[i]);
      return s;
    }
    return new TextDecoder().decode(v);
  }

  readUInt32BE(o = 0) {
    return new DataView(this.buffer, this.byteOffset, this.byteLength).getUint32(o, false);
  }
  readUInt32LE(o = 0) {
    return new DataView(this.buffer, this.byteOffset, this.byteLength).getUint32(o, true);
  }
  readUInt16BE(o = 0) {
    return new DataView(this.buffer, this.byteOffset, this.byteLength).getUint16(o, false);
  }
  readUInt16LE(o = 0) {
    return new DataView(this.buffer, this.byteOffset, this.byteLength).getUint16(o, true);
  }
}

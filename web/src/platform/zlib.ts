// node:zlib for the browser build. CRC-32 is computed here; inflate has no synchronous browser
// API, so a deflate-compressed zip entry or PNG chunk check reports that it needs Node. (PyTorch
// .pt archives store their entries uncompressed, and the page decodes PNGs with createImageBitmap.)
let table: Uint32Array | null = null;

export function crc32(data: Uint8Array | string, value = 0): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  let c = (value ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function needsNode(name: string) {
  return (): never => {
    throw new Error(
      `zlib.${name}: deflate-compressed data cannot be decompressed synchronously in a browser tab (use the Node CLI for this file)`,
    );
  };
}
export const inflateSync = needsNode('inflateSync');
export const inflateRawSync = needsNode('inflateRawSync');
export const deflateSync = needsNode('deflateSync');
export const deflateRawSync = needsNode('deflateRawSync');
export const gunzipSync = needsNode('gunzipSync');
export const constants = { Z_SYNC_FLUSH: 2, Z_FINISH: 4, Z_NO_FLUSH: 0, Z_BUF_ERROR: -5 };
export default { crc32, inflateSync, inflateRawSync, deflateSync, deflateRawSync, gunzipSync, constants };

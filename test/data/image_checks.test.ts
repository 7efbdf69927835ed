// The checks every decoder runs before it allocates pixels (tasks/data/image_checks.ts): PIL's
// decompression-bomb cap, PNG rows missing from the data, bad CRCs and trailing garbage, each with
// its own wording and the file's name, all as InputError.
import t from 'tap';
import { crc32, deflateSync } from 'node:zlib';
import { InputError } from '../../engine/errors.js';
import { decodeImage, encodeJPEG, encodePNG } from '../../tasks/data/image.js';
import { MAX_IMAGE_PIXELS, PIL_MAX_IMAGE_PIXELS } from '../../tasks/data/image_checks.js';

function chunk(type: string, data: Uint8Array): Buffer {
  const b = Buffer.alloc(12 + data.length);
  b.writeUInt32BE(data.length, 0);
  b.write(type, 4, 'latin1');
  Buffer.from(data).copy(b, 8);
  b.writeUInt32BE(crc32(b.subarray(4, 8 + data.length)) >>> 0, 8 + data.length);
  return b;
}
/** An 8-bit RGB PNG of `w`x`h` whose IDAT holds `rows` (filter 0) rows of `w` pixels, plus `extra` bytes after the zlib stream. */
function png(w: number, h: number, rows: number, extra = new Uint8Array(0)): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8, ihdr[9] = 2;
  const raw = Buffer.alloc(rows * (1 + 3 * w));
  for (let i = 0; i < raw.length; i++) raw[i] = i % (1 + 3 * w) === 0 ? 0 : (i * 7) & 255;
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', Buffer.concat([deflateSync(raw), extra])), chunk('IEND', new Uint8Array(0))]);
}
const err = (f: () => unknown): InputError => {
  try {
    f();
  } catch (e) {
    return e as InputError;
  }
  throw new Error('expected an error');
};

t.test('the pixel cap is PIL\'s DecompressionBombError limit, for PNG and JPEG', async (t) => {
  t.equal(PIL_MAX_IMAGE_PIXELS, Math.floor((1024 * 1024 * 1024) / 4 / 3)); // PIL.Image.MAX_IMAGE_PIXELS
  t.equal(MAX_IMAGE_PIXELS, 2 * PIL_MAX_IMAGE_PIXELS);
  const rss0 = process.memoryUsage().rss;
  const e = err(() => decodeImage(png(20000, 20000, 1), 'huge.png'));
  t.ok(e instanceof InputError);
  t.equal(e.message, 'huge.png: image too large (20000×20000, limit 178956970 pixels)');
  t.equal(e.file, 'huge.png');
  // a JPEG whose frame header claims the same
  const jpg = Buffer.from(encodeJPEG({ width: 16, height: 16, data: new Uint8Array(16 * 16 * 3) }));
  const sof = jpg.indexOf(Buffer.from([0xff, 0xc0]));
  jpg.writeUInt16BE(20000, sof + 5);
  jpg.writeUInt16BE(20000, sof + 7);
  t.equal(err(() => decodeImage(jpg, 'huge.jpg')).message, 'huge.jpg: image too large (20000×20000, limit 178956970 pixels)');
  // just under the cap is allowed through the size check (and then fails on its missing rows)
  t.match(err(() => decodeImage(png(13377, 13377, 1), 'edge.png')).message, /edge\.png: PNG data ends at row 1 of 13377$/);
  t.ok(process.memoryUsage().rss - rss0 < 200e6, 'nothing image-sized was allocated');
});

t.test('a PNG header that promises more rows than the data holds', async (t) => {
  const rss0 = process.memoryUsage().rss;
  // the case: 12000x12000 claimed, a few KiB of data
  const claims = png(12000, 12000, 1);
  t.ok(claims.length < 4096, `${claims.length} bytes`);
  t.equal(err(() => decodeImage(claims, 'claims.png')).message, 'claims.png: PNG data ends at row 1 of 12000');
  t.ok(process.memoryUsage().rss - rss0 < 200e6, 'nothing image-sized was allocated');
  t.equal(err(() => decodeImage(png(50, 40, 16), 'short.png')).message, 'short.png: PNG data ends at row 16 of 40');
  const full = png(50, 40, 40);
  t.equal(decodeImage(full, 'full.png').height, 40);
  // cut inside the IDAT chunk: the file is truncated (no IEND)
  t.match(err(() => decodeImage(full.subarray(0, full.length - 40), 'cut.png')).message, /^cut\.png: PNG data ends at row \d+ of 40: the file is truncated$/);
});

t.test('bad CRC and trailing garbage have their own wording', async (t) => {
  const good = Buffer.from(encodePNG({ width: 30, height: 20, data: new Uint8Array(30 * 20 * 3).map((_, i) => i & 255) }));
  const bad = Buffer.from(good);
  bad[20] ^= 1; // IHDR height
  t.match(err(() => decodeImage(bad, 'crc.png')).message, /^crc\.png: corrupt PNG data \(bad CRC in the IHDR chunk at byte 8: stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)$/);
  // bytes after IEND are ignored, as libpng does: the same pixels
  const tail = decodeImage(Buffer.concat([good, Buffer.from('garbage after the end')]), 'tail.png');
  t.same(tail.data, decodeImage(good, 'good.png').data);
  // bytes after the zlib stream inside IDAT
  t.equal(err(() => decodeImage(png(50, 40, 40, Buffer.from([1, 2, 3])), 'extra.png')).message,
    'extra.png: corrupt PNG data (trailing garbage: 3 bytes after the end of the compressed image data)');
});

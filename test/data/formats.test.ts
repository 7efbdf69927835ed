// BMP, TIFF and MPO decode to exactly what cv2.imread gives (goldens written by
// test/fixtures/images/formats/gen_formats.py with Pillow + OpenCV), and damaged files fail by name.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage, readImage } from '../../tasks/data/image.js';

const DIR = fileURLToPath(new URL('../fixtures/images/formats', import.meta.url));
const files = readdirSync(DIR).filter((f) => /\.(bmp|tif|mpo)$/.test(f));

t.test('every fixture equals cv2.imread pixel for pixel', async (t) => {
  t.ok(files.length >= 12);
  for (const f of files) {
    const got = readImage(join(DIR, f));
    const want = readImage(join(DIR, `${f}.cv2.png`));
    t.same([got.width, got.height], [want.width, want.height], `${f}: size`);
    let diff = 0;
    for (let i = 0; i < got.data.length; i++) diff = Math.max(diff, Math.abs(got.data[i] - want.data[i]));
    // MPO's first picture is a JPEG: this decoder is bit-exact with cv2 for 3-component JPEGs
    t.equal(diff, 0, `${f}: max difference to cv2`);
  }
});

t.test('RLE8 BMP (hand-made: runs, an absolute run, end of line, end of bitmap)', async (t) => {
  const w = 5, h = 2;
  const pal = [[255, 0, 0], [0, 255, 0], [0, 0, 255]];
  const rle = [3, 0, 2, 1, 0, 0, /* row 0 (bottom): R R R G G */ 0, 3, 2, 1, 0, 0, 2, 2, 0, 1 /* row 1: B G R B B, end */];
  const hdr = 40, palBytes = pal.length * 4, off = 14 + hdr + palBytes;
  const b = Buffer.alloc(off + rle.length);
  b.write('BM', 0); b.writeUInt32LE(b.length, 2); b.writeUInt32LE(off, 10); b.writeUInt32LE(hdr, 14);
  b.writeInt32LE(w, 18); b.writeInt32LE(h, 22); b.writeUInt16LE(1, 26); b.writeUInt16LE(8, 28); b.writeUInt32LE(1, 30); b.writeUInt32LE(pal.length, 46);
  pal.forEach(([r, g, bl], i) => { b[54 + 4 * i] = bl; b[55 + 4 * i] = g; b[56 + 4 * i] = r; });
  Buffer.from(rle).copy(b, off);
  const img = decodeImage(b, 'rle.bmp');
  const px = (x: number, y: number) => [...img.data.subarray((y * w + x) * 3, (y * w + x) * 3 + 3)];
  t.same([0, 1, 2, 3, 4].map((x) => px(x, 1)), [pal[0], pal[0], pal[0], pal[1], pal[1]], 'bottom row');
  t.same([0, 1, 2, 3, 4].map((x) => px(x, 0)), [pal[2], pal[1], pal[0], pal[2], pal[2]], 'top row');
});

t.test('damaged files are errors naming the file and the problem', async (t) => {
  const bmp = readFileSync(join(DIR, 'rgb24.bmp')), tif = readFileSync(join(DIR, 'lzw.tif'));
  t.throws(() => decodeImage(bmp.subarray(0, 200), 'cut.bmp'), /cut.bmp: truncated BMP pixel data/);
  const badDepth = Buffer.from(bmp); badDepth.writeUInt16LE(7, 28);
  t.throws(() => decodeImage(badDepth, 'd.bmp'), /d.bmp: unsupported BMP bit depth 7/);
  t.throws(() => decodeImage(tif.subarray(0, 6), 'cut.tif'), /cut.tif: truncated TIFF header/);
  t.throws(() => decodeImage(Buffer.from('RIFF\0\0\0\0WEBPVP8 '), 'x.webp'), /x.webp: truncated WebP header/);
  t.throws(() => decodeImage(Buffer.from('GIF89a\0\0\0\0'), 'x.gif'), /x.gif: unsupported image format \(expected JPEG, PNG, BMP, TIFF, WebP or MPO\)/);
});

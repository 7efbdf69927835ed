// Decoding against cv2.imread(path, IMREAD_COLOR)[..., ::-1] (goldens from
// test/fixtures/images/gen_cv2_goldens.py), EXIF orientation, writing, and the error messages.
import t from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { decodeImage, encodePNG, readImage, writeImage, type RgbImage } from '../../tasks/data/image.js';

const dir = new URL('../fixtures/images/', import.meta.url).pathname;
const goldens = JSON.parse(readFileSync(dir + 'cv2_goldens.json', 'utf8'));
const unpack = (p: { b64: string }): Uint8Array => new Uint8Array(inflateSync(Buffer.from(p.b64, 'base64')));

interface Stats { mean: number; max: number }
function diffStats(a: ArrayLike<number>, b: ArrayLike<number>): Stats {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / b.length, max };
}

/** The pixels of `img` at the golden's lattice of rows `ys` x columns `xs`. */
function sampleGrid(img: RgbImage, ys: number[], xs: number[]): Uint8Array {
  const out = new Uint8Array(ys.length * xs.length * 3);
  let o = 0;
  for (const y of ys) for (const x of xs) for (let k = 0; k < 3; k++) out[o++] = img.data[(y * img.width + x) * 3 + k];
  return out;
}

const fmt = (s: Stats) => `mean |diff| ${s.mean.toFixed(3)}, max ${s.max}`;

t.test('real photos vs cv2.imread (jpeg-js IDCT differs from libjpeg-turbo: tolerance)', async (t) => {
  for (const name of ['bus.jpg', 'zidane.jpg', '000000000086.jpg', '000000000136.jpg']) {
    const g = goldens.decode[name];
    const img = readImage(dir + name);
    t.same([img.height, img.width, 3], g.shape, `${name} shape`);
    const s = diffStats(sampleGrid(img, g.ys, g.xs), unpack(g.pixels));
    t.comment(`${name}: ${fmt(s)} over a ${g.ys.length}x${g.xs.length} grid`);
    t.ok(s.mean < 0.25 && s.max <= 4, `${name}: ${fmt(s)}`);
    const means = [0, 0, 0];
    for (let i = 0; i < img.data.length; i++) means[i % 3] += img.data[i] / (img.width * img.height);
    t.ok(means.every((m, k) => Math.abs(m - g.mean[k]) < 0.2), `${name} channel means ${means.map((m) => m.toFixed(2))}`);
  }
});

t.test('JPEG variants vs cv2.imread, whole image', async (t) => {
  const limits: Record<string, [number, number]> = {
    'jpeg_420_odd.jpg': [0.25, 4], 'jpeg_422.jpg': [0.25, 4], 'jpeg_444.jpg': [0.25, 4], 'jpeg_440.jpg': [0.25, 4],
    'jpeg_progressive.jpg': [0.25, 4], 'jpeg_restart.jpg': [0.25, 4],
    'jpeg_cmyk.jpg': [1.0, 6], // jpeg-js does the CMYK maths in float; cv2 uses (255 - c) * k >> 8
  };
  for (const [name, [meanLimit, maxLimit]] of Object.entries(limits)) {
    const img = readImage(dir + name);
    const want = unpack(goldens.decode[name].pixels);
    t.equal(img.data.length, want.length, `${name} size`);
    const s = diffStats(img.data, want);
    t.comment(`${name}: ${fmt(s)}`);
    t.ok(s.mean <= meanLimit && s.max <= maxLimit, `${name}: ${fmt(s)}`);
  }
});

t.test('PNG variants are exact (alpha dropped, 16-bit >> 8, palette, low bit depths, Adam7)', async (t) => {
  const names = Object.keys(goldens.decode).filter((n) => n.startsWith('png_'));
  t.ok(names.length >= 17, `${names.length} PNG fixtures`);
  for (const name of names) {
    const img = readImage(dir + name);
    const want = unpack(goldens.decode[name].pixels);
    t.ok(Buffer.from(img.data).equals(Buffer.from(want)), name);
  }
});

t.test('EXIF orientation 1..8 applied like cv2.imread', async (t) => {
  for (let o = 1; o <= 8; o++) {
    for (const ext of ['jpg', 'png']) {
      const name = `exif_${o}.${ext}`;
      const img = readImage(dir + name);
      const g = goldens.decode[name].pixels;
      t.same([img.height, img.width, 3], g.shape, `${name} shape`);
      const s = diffStats(img.data, unpack(g));
      // The 11x7 pattern is a steep gradient: a wrong flip would differ by tens of levels.
      t.ok(ext === 'png' ? s.max === 0 : s.max <= 3, `${name}: ${fmt(s)}`);
    }
  }
});

t.test('format is sniffed from the bytes, not the extension', async (t) => {
  const png = readFileSync(dir + 'png_rgb8.png');
  const img = decodeImage(png, 'really-a-png.jpg');
  t.equal(img.width, 13);
});

t.test('writing: PNG round-trips exactly, JPEG at quality 95 stays close', async (t) => {
  const src = readImage(dir + 'jpeg_444.jpg');
  const back = decodeImage(encodePNG(src), 'mem.png');
  t.ok(Buffer.from(back.data).equals(Buffer.from(src.data)), 'encodePNG -> decode is lossless');
  const out = t.testdir({});
  writeImage(join(out, 'sub', 'a.png'), src);
  t.ok(Buffer.from(readImage(join(out, 'sub', 'a.png')).data).equals(Buffer.from(src.data)), 'writeImage .png, folder created');
  writeImage(join(out, 'a.jpg'), src);
  const jpg = readImage(join(out, 'a.jpg'));
  const s = diffStats(jpg.data, src.data);
  t.ok(s.mean < 3, `writeImage .jpg q95: ${fmt(s)}`);
  t.throws(() => writeImage(join(out, 'a.gif'), src), /a\.gif: unsupported output format/);
});

t.test('bad inputs: errors name the file and the problem', async (t) => {
  const bus = readFileSync(dir + 'bus.jpg');
  const png = readFileSync(dir + 'png_rgb8.png');
  const out = t.testdir({});
  const file = (name: string, bytes: Uint8Array): string => {
    writeFileSync(join(out, name), bytes);
    return join(out, name);
  };
  t.throws(() => readImage(join(out, 'missing.jpg')), { message: `${join(out, 'missing.jpg')}: file not found` });
  mkdirSync(join(out, 'folder.jpg'));
  t.throws(() => readImage(join(out, 'folder.jpg')), /folder\.jpg: cannot read file \(EISDIR\)/);
  t.throws(() => readImage(file('empty.jpg', new Uint8Array(0))), /empty\.jpg: empty file/);
  t.throws(() => readImage(file('x.gif', Buffer.from('GIF89a\x01\x00\x01\x00'))), {
    message: `${join(out, 'x.gif')}: unsupported image format (expected JPEG, PNG, BMP, TIFF, WebP or MPO)`,
  });
  t.throws(() => readImage(file('noise.jpg', new Uint8Array(100).fill(7))), /noise\.jpg: unsupported image format/);
  t.throws(() => readImage(file('bad.jpg', bus.subarray(0, bus.length >> 1))), /bad\.jpg: truncated JPEG data$/);
  t.throws(() => readImage(file('head.jpg', bus.subarray(0, 300))), /head\.jpg: truncated JPEG data/);
  t.throws(() => readImage(file('bad.png', png.subarray(0, png.length - 30))), /bad\.png: PNG data ends at row 6 of 7: the file is truncated$/);
  const crc = Buffer.from(png);
  crc[50] ^= 0xff; // inside the IDAT data: CRC mismatch
  t.throws(() => readImage(file('crc.png', crc)), /crc\.png: corrupt PNG data \(bad CRC in the IDAT chunk/);
  const zero = Buffer.from(readFileSync(dir + 'jpeg_444.jpg'));
  const sof = zero.indexOf(Buffer.from([0xff, 0xc0]));
  zero[sof + 7] = 0; // width high byte
  zero[sof + 8] = 0; // width low byte
  t.throws(() => readImage(file('zero.jpg', zero)), /zero\.jpg: zero-size image/);
  const arith = Buffer.from(readFileSync(dir + 'jpeg_444.jpg'));
  arith[sof + 1] = 0xc9; // SOF9: arithmetic coding
  t.throws(() => readImage(file('arith.jpg', arith)), /arith\.jpg: unsupported JPEG type/);
  const garbage = Buffer.from(bus);
  garbage.fill(0x55, 1000, 3000); // corrupt tables/scan but keep SOI..EOI
  t.throws(() => readImage(file('garbage.jpg', garbage)), /garbage\.jpg: (corrupt|truncated) JPEG data/);
});

// The JPEG decoder with libjpeg's islow IDCT: bit-exact with cv2.imread on every JPEG fixture except
// CMYK (which jpeg-js still converts), and corrupt entropy data is an error, not a silent image.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { decodeImage, readImage } from '../../tasks/data/image.js';
import { decodeJpegComponents } from '../../tasks/data/jpeg_decoder.js';

const dir = new URL('../fixtures/images/', import.meta.url).pathname;
const goldens = JSON.parse(readFileSync(dir + 'cv2_goldens.json', 'utf8')).decode;

t.test('bit-exact with cv2.imread: baseline 4:2:0/4:2:2/4:4:0/4:4:4, progressive, restarts, gray, EXIF', async (t) => {
  const names = Object.keys(goldens).filter((n) => n.endsWith('.jpg') && n !== 'jpeg_cmyk.jpg');
  t.ok(names.length >= 18, `${names.length} JPEG fixtures`);
  for (const name of names) {
    const g = goldens[name];
    const img = readImage(dir + name);
    const want = new Uint8Array(inflateSync(Buffer.from(g.pixels.b64, 'base64')));
    let got = img.data;
    if (g.ys) { // large photos: the golden is a grid of samples
      const s: number[] = [];
      for (const y of g.ys) for (const x of g.xs) for (let k = 0; k < 3; k++) s.push(img.data[(y * img.width + x) * 3 + k]);
      got = Uint8Array.from(s);
    }
    t.ok(Buffer.from(got).equals(Buffer.from(want)), `${name} identical`);
  }
});

t.test('corrupt entropy data is an error', async (t) => {
  const bus = readFileSync(dir + 'bus.jpg');
  const sos = bus.indexOf(Buffer.from([0xff, 0xda]));
  const garbage = Buffer.from(bus);
  garbage.fill(0x55, sos + 200, sos + 2200);
  t.throws(() => decodeJpegComponents(garbage), /corrupt JPEG data/, 'garbage in the scan');
  const noTables = Buffer.from(bus);
  noTables[bus.indexOf(Buffer.from([0xff, 0xc4])) + 1] = 0xfe; // DHT -> a COM segment: the scan has no tables
  t.throws(() => decodeJpegComponents(noTables), /corrupt JPEG data \(scan uses an undefined Huffman table\)/);
  t.throws(() => decodeImage(garbage, 'g.jpg'), /^g\.jpg: corrupt JPEG data/, 'readImage names the file');
  t.throws(() => decodeJpegComponents(bus, 1000), /image too large \(810×1080, limit 1000 pixels\)/);
});

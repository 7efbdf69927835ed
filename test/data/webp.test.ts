// WebP decodes to exactly what cv2.imread gives (files and goldens written with OpenCV by
// test/fixtures/images/formats/gen_webp.py: lossy q90/q75, lossless, both with alpha), a WebP in a
// dataset scans and loads, and damaged files fail by name.
import t from 'tap';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage, readImage } from '../../tasks/data/image.js';
import { imageSize, verifyImageLabel } from '../../tasks/data/labels.js';

const DIR = fileURLToPath(new URL('../fixtures/images/formats', import.meta.url));
const FILES = ['lossy.webp', 'lossless.webp', 'lossy_alpha.webp', 'lossless_alpha.webp', 'lossy_big.webp'];

t.test('every WebP fixture equals cv2.imread pixel for pixel', async (t) => {
  for (const f of FILES) {
    const got = readImage(join(DIR, f));
    const want = readImage(join(DIR, `${f}.cv2.png`));
    t.same([got.width, got.height], [want.width, want.height], `${f}: size`);
    let diff = 0;
    for (let i = 0; i < got.data.length; i++) diff = Math.max(diff, Math.abs(got.data[i] - want.data[i]));
    t.equal(diff, 0, `${f}: max difference to cv2`);
    t.same(imageSize(join(DIR, f)), [want.height, want.width], `${f}: header size`);
  }
});

t.test('a WebP image in a dataset passes the scan', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'webp-'));
  mkdirSync(join(dir, 'images')), mkdirSync(join(dir, 'labels'));
  cpSync(join(DIR, 'lossy_big.webp'), join(dir, 'images', 'a.webp'));
  writeFileSync(join(dir, 'labels', 'a.txt'), `0 0.5 0.5 0.2 0.3 ${Array(17).fill('0.5 0.5 2').join(' ')}\n`);
  const r = verifyImageLabel(join(dir, 'images', 'a.webp'), join(dir, 'labels', 'a.txt'), [17, 3], 1);
  t.equal(r.msg, '');
  t.same(r.entry?.shape, [120, 160]);
});

t.test('damaged WebP files are errors naming the file and the problem', async (t) => {
  const lossy = readFileSync(join(DIR, 'lossy.webp')), lossless = readFileSync(join(DIR, 'lossless.webp'));
  t.throws(() => decodeImage(lossy.subarray(0, 200), 'cut.webp'), /cut.webp: truncated WebP data \(RIFF says 688 bytes, the file has 200\)/);
  const bad = Buffer.from(lossy); bad.fill(0x55, 40, 300);
  t.throws(() => decodeImage(bad, 'bad.webp'), /bad.webp: corrupt VP8 WebP data/);
  const badL = Buffer.from(lossless); badL[20] = 0;
  t.throws(() => decodeImage(badL, 'l.webp'), /l.webp: corrupt WebP VP8L stream \(no signature\)/);
  t.throws(() => decodeImage(Buffer.from('RIFF\x16\0\0\0WEBPXXXX\0\0\0\0\0\0\0\0\0\0\0\0\0\0'), 'x.webp'), /x.webp: unsupported WebP chunk 'XXXX'/);
  const anim = Buffer.alloc(30); anim.write('RIFF', 0); anim.writeUInt32LE(22, 4); anim.write('WEBPVP8X', 8); anim[20] = 0x02;
  t.throws(() => decodeImage(anim, 'a.webp'), /a.webp: animated WebP is not supported/);
});

// resizeBilinear / resizeNearest against cv2.resize on the same input pixels (a PNG crop of
// bus.jpg, so both sides start from identical data). Goldens: test/fixtures/images/gen_cv2_goldens.py.
import t from 'tap';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { readImage, type RgbImage } from '../../tasks/data/image.js';
import { resizeBilinear, resizeNearest } from '../../tasks/data/resize.js';

const dir = new URL('../fixtures/images/', import.meta.url).pathname;
const goldens = JSON.parse(readFileSync(dir + 'cv2_goldens.json', 'utf8'));
const unpack = (p: { b64: string }): Uint8Array => new Uint8Array(inflateSync(Buffer.from(p.b64, 'base64')));

function crop(img: RgbImage, w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(y * img.width * 3, (y * img.width + w) * 3), y * w * 3);
  return { width: w, height: h, data };
}

const src = readImage(dir + 'resize_src.png'); // 131x97

t.test('INTER_LINEAR matches cv2.resize bit for bit', async (t) => {
  for (const c of goldens.resize) {
    const [h, w] = c.crop_hw;
    const input = crop(src, w, h);
    const out = resizeBilinear(input, c.w, c.h);
    const want = unpack(c.linear);
    let diff = 0;
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(out.data[i] - want[i]);
      if (d) diff++;
      maxDiff = Math.max(maxDiff, d);
    }
    t.equal(out.data.length, want.length, `${w}x${h} -> ${c.w}x${c.h} size`);
    t.equal(diff, 0, `${w}x${h} -> ${c.w}x${c.h}: ${diff} values differ, max |diff| ${maxDiff}`);
  }
});

t.test('INTER_NEAREST matches cv2.resize', async (t) => {
  for (const c of goldens.resize) {
    const [h, w] = c.crop_hw;
    const out = resizeNearest(crop(src, w, h), c.w, c.h);
    const md5 = createHash('md5').update(out.data).digest('hex');
    t.equal(md5, c.nearest_md5, `${w}x${h} -> ${c.w}x${c.h}`);
  }
});

t.test('edge cases', async (t) => {
  const same = resizeBilinear(src, src.width, src.height);
  t.ok(Buffer.from(same.data).equals(Buffer.from(src.data)), 'same size is a copy');
  t.not(same.data, src.data, 'and does not alias the input');
  const gray = { width: 3, height: 2, data: new Uint8Array([0, 100, 200, 50, 150, 250]) };
  const g = resizeBilinear(gray, 6, 4);
  t.equal(g.data.length, 24, 'any channel count (1 here)');
  t.throws(() => resizeBilinear(src, 0, 10), /bad target size/);
  const flat = { width: 5, height: 4, data: new Uint8Array(60).fill(77) };
  t.ok(resizeBilinear(flat, 13, 3).data.every((v) => v === 77), 'constant image stays constant');
});

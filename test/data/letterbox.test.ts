// LetterBox, scale_boxes and scale_coords against the Ultralytics lines re-run in Python with cv2
// and float32 numpy (test/fixtures/images/gen_cv2_goldens.py).
import t from 'tap';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { readImage, type RgbImage } from '../../tasks/data/image.js';
import { pyRound } from '../../engine/math.js';
import { letterbox, scaleBoxes, scaleCoords, toCHWFloat, type LetterBoxOptions, type RatioPad } from '../../tasks/data/letterbox.js';

const dir = new URL('../fixtures/images/', import.meta.url).pathname;
const goldens = JSON.parse(readFileSync(dir + 'cv2_goldens.json', 'utf8'));
const unpack = (p: { b64: string }): Uint8Array => new Uint8Array(inflateSync(Buffer.from(p.b64, 'base64')));

interface PyOpts { new_shape: number | [number, number]; auto?: boolean; scale_fill?: boolean; scaleup?: boolean; center?: boolean; stride?: number }
const toOpts = (o: PyOpts): LetterBoxOptions => ({
  newShape: o.new_shape, auto: o.auto, scaleFill: o.scale_fill, scaleup: o.scaleup, center: o.center, stride: o.stride,
});

function sampleGrid(img: RgbImage, ys: number[], xs: number[]): Uint8Array {
  const out = new Uint8Array(ys.length * xs.length * 3);
  let o = 0;
  for (const y of ys) for (const x of xs) for (let k = 0; k < 3; k++) out[o++] = img.data[(y * img.width + x) * 3 + k];
  return out;
}

t.test('pyRound is Python round(): halves go to the even neighbour', async (t) => {
  t.same([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6, -2.6, 79.9, 80.1].map(pyRound), [0, 2, 2, 0, -2, 2, 3, -3, 80, 80]);
  t.ok(Object.is(pyRound(-0.1), 0), 'no negative zero');
});

t.test('letterbox on identical input pixels is exact', async (t) => {
  const src = readImage(dir + 'resize_src.png');
  for (const g of goldens.letterbox_exact) {
    const r = letterbox(src, toOpts(g.opts));
    const label = JSON.stringify(g.opts);
    t.same([r.image.height, r.image.width, 3], g.shape, `${label} shape`);
    t.same([r.ratio, r.pad, r.dw, r.dh], [g.ratio, g.pad, g.dw, g.dh], `${label} ratio, pad, dw, dh`);
    t.equal(createHash('md5').update(r.image.data).digest('hex'), g.md5, `${label} pixels`);
  }
});

t.test('letterbox of bus.jpg / zidane.jpg at 320 and 640 (decode differs slightly: tolerance)', async (t) => {
  const images: Record<string, RgbImage> = {};
  for (const g of goldens.letterbox_real) {
    const img = (images[g.file] ??= readImage(dir + g.file));
    const r = letterbox(img, toOpts(g.opts));
    const label = `${g.file} ${JSON.stringify(g.opts)}`;
    t.same([r.image.height, r.image.width, 3], g.shape, `${label} shape ${g.shape}`);
    t.same([r.ratio, r.pad, r.dw, r.dh], [g.ratio, g.pad, g.dw, g.dh], `${label} ratio, pad, dw, dh`);
    const want = unpack(g.pixels);
    const got = sampleGrid(r.image, g.ys, g.xs);
    let sum = 0;
    let max = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i] - want[i]);
      sum += d;
      max = Math.max(max, d);
    }
    t.ok(sum / want.length < 0.25 && max <= 4, `${label}: mean |diff| ${(sum / want.length).toFixed(3)}, max ${max}`);
  }
});

t.test('padding value, top-left placement, no resize when the size already fits', async (t) => {
  const img = { width: 4, height: 2, data: new Uint8Array(24).fill(9) };
  const r = letterbox(img, { newShape: 8, scaleup: false, center: false, padValue: 0 });
  t.same([r.image.width, r.image.height, r.pad], [8, 8, [0, 0]]);
  t.equal(r.image.data[0], 9, 'image at the top-left');
  t.equal(r.image.data[r.image.data.length - 1], 0, 'padding value');
});

t.test('scaleBoxes / scaleCoords match ops.scale_boxes / ops.scale_coords in float32', async (t) => {
  for (const g of goldens.scale) {
    const ratioPad: RatioPad | undefined = g.ratio_pad ? { ratio: g.ratio_pad[0], pad: g.ratio_pad[1] } : undefined;
    const label = `${g.img1} -> ${g.img0}${ratioPad ? ' with ratio_pad' : ''}`;
    const boxes = scaleBoxes(g.img1, Float32Array.from(g.boxes_in), g.img0, { ratioPad });
    t.same(Array.from(boxes), g.boxes_out, `boxes ${label}`);
    const kpts = scaleCoords(g.img1, Float32Array.from(g.kpts_in), g.img0, { ratioPad, stride: 3 });
    t.same(Array.from(kpts), g.kpts_out, `keypoints ${label}`);
    const norm = scaleCoords(g.img1, Float32Array.from(g.kpts_in), g.img0, { ratioPad, normalize: true });
    t.same(Array.from(norm), g.kpts_norm_out, `normalized keypoints ${label}`);
  }
});

t.test('toCHWFloat: (3, H, W) float32 RGB in [0, 1]', async (t) => {
  const img = { width: 2, height: 1, data: new Uint8Array([255, 0, 51, 1, 2, 3]) };
  const chw = toCHWFloat(img);
  t.same(Array.from(chw), [1, 1 / 255, 0, 2 / 255, 51 / 255, 3 / 255].map(Math.fround));
});

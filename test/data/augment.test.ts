// tasks/data/augment.ts, hsv.ts, warp.ts, instances.ts: Ultralytics' augmentation numbers.
// OpenCV goldens (cvtColor HSV both ways over every value, the RandomHSV LUT pipeline, warpAffine,
// warpPerspective, the float32 affine matrix) come from test/fixtures/data/gen_augment_goldens.py.
import t from 'tap';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { affineMatrix, augmentHyp, boxCandidates, DEFAULT_HYP, drawAffine, letterboxSample, mixup, mosaic4, mosaicBorder, randomFlip, randomPerspective, transformPoints, type LoadedImage, type Sample } from '../../tasks/data/augment.js';
import { hsvLuts, hsvToRgb, randomHSV, rgbToHsv, applyHsvLuts } from '../../tasks/data/hsv.js';
import { readImage, type RgbImage } from '../../tasks/data/image.js';
import { fromNormalized, toTargets, type Instances } from '../../tasks/data/instances.js';
import { parsePoseLabels } from '../../tasks/data/labels.js';
import { resizeBilinear } from '../../tasks/data/resize.js';
import { warpAffine, warpPerspective, type Affine } from '../../tasks/data/warp.js';

const FIX = join(import.meta.dirname, '../fixtures/data');
const COCO = join(import.meta.dirname, '../../data/coco8-pose');
const g = JSON.parse(readFileSync(join(FIX, 'cv2_augment_goldens.json'), 'utf8'));
const unpack = (b64: string) => new Uint8Array(inflateSync(Buffer.from(b64, 'base64')));
const md5 = (a: Uint8Array) => createHash('md5').update(a).digest('hex');
const f = Math.fround;
/** rand() that replays fixed numbers. */
const replay = (xs: number[]) => {
  let i = 0;
  return () => {
    if (i >= xs.length) throw new Error('replay: ran out of numbers');
    return xs[i++];
  };
};
/** A sample with one object: box xyxy and K keypoints (x, y, v). */
const sample = (img: RgbImage, box: number[], kpts: number[][]): Sample => ({
  img,
  ins: { cls: new Float32Array([0]), bboxes: new Float32Array(box), keypoints: new Float32Array(kpts.flat()), nkpt: kpts.length, format: 'xyxy' },
});
const grey = (w: number, h: number, v = 100): RgbImage => ({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(v) });

t.test('cvtColor RGB<->HSV: every value, bit for bit with cv2', async (t) => {
  const n = 256 ** 3;
  const cube = new Uint8Array(n * 3);
  for (let a = 0, o = 0; a < n; a++) (cube[o++] = a >> 16), (cube[o++] = (a >> 8) & 255), (cube[o++] = a & 255);
  t.equal(md5(rgbToHsv(cube)), g.cube.rgb2hsv_md5, 'RGB2HSV over all 2^24 colours');
  const hsv = new Uint8Array(180 * 256 * 256 * 3);
  let k = 0;
  for (let h = 0; h < 180; h++) for (let s = 0; s < 256; s++) for (let v = 0; v < 256; v++) (hsv[k++] = h), (hsv[k++] = s), (hsv[k++] = v);
  t.equal(md5(hsvToRgb(hsv, 256)), g.cube.hsv2rgb_w256_md5, 'HSV2RGB, rows of 256 (all SIMD blocks: truncation)');
  const n45 = Math.floor(hsv.length / 3 / 45) * 45 * 3;
  t.equal(md5(hsvToRgb(hsv.subarray(0, n45), 45)), g.cube.hsv2rgb_w45_md5, 'HSV2RGB, rows of 45 (32 SIMD + 13 scalar: rounding)');
});

t.test('RandomHSV: LUTs and the whole recolouring equal cv2', async (t) => {
  const src = readImage(join(FIX, 'hsv_src.png'));
  for (const c of g.random_hsv) {
    const luts = hsvLuts(c.r);
    t.same(luts.map((l) => [...l]), c.luts, `LUTs for r = ${c.r}`);
    const img = { ...src, data: src.data.slice() };
    applyHsvLuts(img, luts);
    t.equal(md5(img.data), c.md5, `pixels for r = ${c.r}`);
  }
  // the gains are 1 + U(-1, 1) * gain, three draws; no draws when every gain is 0
  const img = { ...src, data: src.data.slice() };
  randomHSV(img, 0.015, 0.7, 0.4, replay([1, 0, 0.75]));
  const want = { ...src, data: src.data.slice() };
  applyHsvLuts(want, hsvLuts([1.015, 0.3, 1.2]));
  t.same(img.data, want.data, 'gains 1 + (2u - 1) * (0.015, 0.7, 0.4) from three draws');
  t.doesNotThrow(() => randomHSV(img, 0, 0, 0, replay([])), 'all gains 0: no draws');
});

t.test('warpAffine / warpPerspective equal cv2; the affine matrix equals Ultralytics float32', async (t) => {
  const src = readImage(join(FIX, 'warp_src.png'));
  for (const w of g.warp) {
    const [a, s, sx, sy, tx, ty] = w.draws;
    const r = affineMatrix(src.width, src.height, w.border, { perspective: [0, 0], degrees: a, scale: s, shear: [sx, sy], translate: [tx, ty] });
    t.same(r.M, w.M.flat(), `M for draws ${w.draws}, border ${w.border}`);
    t.same(r.size, w.size);
    const out = warpAffine(src, r.M.slice(0, 6) as Affine, r.size[0], r.size[1]);
    t.equal(md5(out.data), w.md5, `warpAffine pixels, draws ${w.draws}`);
  }
  const p = g.perspective;
  t.same(warpPerspective(src, p.M.flat(), p.size[0], p.size[1]).data, unpack(p.rgb), 'warpPerspective pixels');
  const pts = transformPoints(Float32Array.from(g.points.in.flat()), g.points.M.flat(), false);
  t.same([...pts], g.points.out.flat(), 'points @ M.T in float32');
});

t.test('affine of known points: scale about the centre, then translate', async (t) => {
  // 100x80 image, scale 0.5, translation to the centre of the output: (x, y) -> (0.5 (x - 50) + 50, 0.5 (y - 40) + 40)
  const { M, size } = affineMatrix(100, 80, [0, 0], { perspective: [0, 0], degrees: 0, scale: 0.5, shear: [0, 0], translate: [0.5, 0.5] });
  t.same(size, [100, 80]);
  t.same(M, [0.5, 0, 25, 0, 0.5, 20, 0, 0, 1]);
  t.same([...transformPoints(new Float32Array([0, 0, 100, 80, 10, 30]), M, false)], [25, 20, 75, 60, 30, 35]);
  // 90 degrees counter-clockwise (cv2's positive angle): (x - 50, y - 40) -> (y - 40, -(x - 50))
  const rot = affineMatrix(100, 80, [0, 0], { perspective: [0, 0], degrees: 90, scale: 1, shear: [0, 0], translate: [0.5, 0.5] });
  const q = transformPoints(new Float32Array([60, 40]), rot.M, false);
  t.ok(Math.abs(q[0] - 50) < 1e-4 && Math.abs(q[1] - 30) < 1e-4, `(60, 40) -> (${q[0]}, ${q[1]})`);
  // Draw order: perspective x2, angle, scale, shear x2, translate x2 (8 numbers)
  const d = drawAffine(augmentHyp({ degrees: 10, shear: 2 }), replay([0.5, 0.5, 1, 0.25, 0, 1, 0, 1]));
  t.same(d, { perspective: [0, 0], degrees: 10, scale: 0.75, shear: [-2, 2], translate: [0.4, 0.6] });
});

t.test('RandomPerspective: boxes re-derived, keypoints moved and hidden off-image, candidates kept', async (t) => {
  const hyp = augmentHyp({ scale: 0.5, translate: 0.1 });
  // scale 1.5 about the centre of a 100x100 image, no translation: (x, y) -> 1.5 (x - 50) + 50
  const draws = [0.5, 0.5, 0.5, 1, 0.5, 0.5, 0.5, 0.5];
  const s0 = sample(grey(100, 100), [40, 40, 60, 70], [[50, 50, 2], [5, 50, 2], [95, 96, 1], [0, 0, 0]]);
  const out = randomPerspective(s0, hyp, [0, 0], replay(draws));
  t.same([out.img.width, out.img.height], [100, 100]);
  t.same([...out.ins.bboxes], [35, 35, 65, 80], 'box corners through M, then min/max');
  t.same([...out.ins.keypoints], [50, 50, 2, 0, 50, 0, 100, 100, 0, 0, 0, 0], 'off-image keypoints: visibility 0, coordinates clipped');

  // box_candidates: a box pushed mostly outside keeps < 10% of its (scaled) area -> dropped
  const s1 = sample(grey(100, 100), [0, 0, 10, 100], [[5, 5, 2]]);
  t.equal(randomPerspective(s1, hyp, [0, 0], replay(draws)).ins.cls.length, 0);
  // under 2 pixels wide after the transform -> dropped
  const s2 = sample(grey(100, 100), [50, 10, 51, 90], [[50, 50, 2]]);
  t.equal(randomPerspective(s2, hyp, [0, 0], replay(draws)).ins.cls.length, 0);
  // identity (scale 1, centred) on a (0, 0) border: the image is not resampled
  const img = grey(40, 30);
  t.equal(randomPerspective(sample(img, [1, 1, 20, 20], [[3, 3, 2]]), hyp, [0, 0], replay([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])).img, img);
});

t.test('box_candidates thresholds (wh 2, aspect 100, area 0.1)', async (t) => {
  const b1 = new Float32Array([0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 500, 10, 0, 0, 10, 10]);
  const b2 = new Float32Array([0, 0, 10, 10, 0, 0, 2, 10, 0, 0, 3.2, 3.2, 0, 0, 300, 2.5, 0, 0, 3.1, 3.2]);
  // same box; 2 px wide (not > 2); 10.24% of the area; aspect 120; 9.92% of the area
  t.same(boxCandidates(b1, b2), [true, false, true, false, false]);
});

t.test('RandomFlip: mirrors pixels, boxes and keypoints; flip_idx swaps left and right', async (t) => {
  const img: RgbImage = { width: 4, height: 2, data: Uint8Array.from({ length: 24 }, (_, i) => i) };
  const s = sample(img, [0, 0, 1, 2], [[0.5, 1, 2], [3, 0.5, 1], [2, 2, 0]]);
  const out = randomFlip(s, 0.5, 'horizontal', [0, 2, 1], replay([0.49]));
  t.same([...out.img.data.subarray(0, 12)], [9, 10, 11, 6, 7, 8, 3, 4, 5, 0, 1, 2], 'first row mirrored');
  t.same([...out.ins.bboxes], [3.5, 1, 1, 2], 'xywh: centre x -> w - x');
  t.same([...out.ins.keypoints], [3.5, 1, 2, 2, 2, 0, 1, 0.5, 1], 'x -> w - x, then keypoints 1 and 2 swapped');
  t.equal(randomFlip(sample(img, [0, 0, 1, 2], [[0, 0, 2]]), 0.5, 'horizontal', undefined, replay([0.5])).img, img, 'draw >= p: unchanged');
  const ud = randomFlip(sample(img, [0, 0, 1, 1], [[1, 0.25, 2]]), 1, 'vertical', undefined, replay([0.3]));
  t.same([...ud.img.data.subarray(0, 3)], [12, 13, 14]);
  t.same([...ud.ins.bboxes, ...ud.ins.keypoints], [0.5, 1.5, 1, 1, 1, 1.75, 2]);
});

t.test('Mosaic + RandomPerspective on coco8-pose: shape, and every kept label inside the image', async (t) => {
  const imgsz = 160;
  const names = ['000000000036', '000000000049', '000000000077', '000000000086'];
  const parts: LoadedImage[] = names.map((n) => {
    const im = readImage(join(COCO, `images/train/${n}.jpg`));
    const r = imgsz / Math.max(im.width, im.height);
    const img = resizeBilinear(im, Math.min(Math.ceil(im.width * r), imgsz), Math.min(Math.ceil(im.height * r), imgsz));
    return { img, labels: parsePoseLabels(readFileSync(join(COCO, `labels/train/${n}.txt`), 'utf8'), n, [17, 3], 1) };
  });
  const total = parts.reduce((s, p) => s + p.labels.cls.length, 0);
  let seed = 7;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let trial = 0; trial < 8; trial++) {
    const m = mosaic4(parts, imgsz, 17, rand);
    t.same([m.img.width, m.img.height], [320, 320]);
    t.ok(m.ins.cls.length <= total);
    const out = randomPerspective(m, DEFAULT_HYP, mosaicBorder(imgsz), rand);
    t.same([out.img.width, out.img.height], [imgsz, imgsz], 'the border crops the 2s canvas back to s');
    const b = out.ins.bboxes, k = out.ins.keypoints;
    let inside = true;
    for (let i = 0; i < b.length; i += 4) inside &&= b[i] >= 0 && b[i + 1] >= 0 && b[i + 2] <= imgsz && b[i + 3] <= imgsz && b[i + 2] - b[i] > 2 && b[i + 3] - b[i + 1] > 2;
    for (let q = 0; q < k.length; q += 3) inside &&= k[q] >= 0 && k[q] <= imgsz && k[q + 1] >= 0 && k[q + 1] <= imgsz;
    t.ok(inside, `trial ${trial}: ${out.ins.cls.length} objects, all inside [0, ${imgsz}]`);
    const tg = toTargets(out.ins, imgsz, imgsz);
    t.ok(tg.bboxes.every((v) => v >= 0 && v <= 1) && tg.keypoints.every((v, i) => i % 3 === 2 || (v >= 0 && v <= 1)), 'normalized targets in [0, 1]');
  }
});

t.test('LetterBox labels, Format targets, MixUp', async (t) => {
  // 60x40 image into 80x80: ratio 4/3, padding (0, 13.333..) split; labels scaled then shifted by the unrounded padding
  const labels = { cls: new Float32Array([0]), bboxes: new Float32Array([0.5, 0.5, 0.5, 0.5]), keypoints: new Float32Array([0.25, 0.75, 2]) };
  const lb = letterboxSample({ img: grey(60, 40), labels }, [80, 80], 1, true);
  t.same([lb.img.width, lb.img.height, ...lb.pad], [80, 80, 0, 13]);
  const r = f(80 / 60), dh = f((80 - 53) / 2);
  t.same([...lb.ins.bboxes], [f(f(15 * r) + 0), f(f(10 * r) + dh), f(f(45 * r) + 0), f(f(30 * r) + dh)]);
  t.same([...lb.ins.keypoints], [f(15 * r), f(f(30 * r) + dh), 2]);
  const tg = toTargets(fromNormalized(labels, 60, 40, 1), 60, 40);
  t.same([...tg.bboxes, ...tg.keypoints], [0.5, 0.5, 0.5, 0.5, 0.25, 0.75, 2], 'denormalize then normalize is exact here');
  const a: Sample = { img: grey(2, 1, 200), ins: fromNormalized(labels, 2, 1, 1) };
  const b: Sample = { img: grey(2, 1, 51), ins: fromNormalized(labels, 2, 1, 1) };
  const m = mixup(a, b, 0.5);
  t.same([...m.img.data], [125, 125, 125, 125, 125, 125], 'uint8(200 * 0.5 + 51 * 0.5) truncates');
  t.equal(m.ins.cls.length, 2);
});

t.test('hyperparameters: defaults and key=value overrides, errors naming the key', async (t) => {
  t.match(augmentHyp({}), { mosaic: 1, degrees: 0, translate: 0.1, scale: 0.5, shear: 0, perspective: 0, hsv_h: 0.015, hsv_s: 0.7, hsv_v: 0.4, fliplr: 0.5, flipud: 0, close_mosaic: 10, mixup: 0 });
  t.match(augmentHyp({ mosaic: 0, fliplr: 0, hsv_h: 0, lr0: 0.01, epochs: 3 }), { mosaic: 0, fliplr: 0, hsv_h: 0 }, 'other keys are the trainer\'s');
  t.throws(() => augmentHyp({ fliplr: 1.5 }), /fliplr=1\.5: a probability must be in \[0, 1\]/);
  t.throws(() => augmentHyp({ scale: 'big' }), /scale="big": expected a number/);
  t.throws(() => augmentHyp({ close_mosaic: 2.5 }), /close_mosaic=2\.5/);
  t.throws(() => augmentHyp({ hsv_v: -1 }), /hsv_v=-1: must not be negative/);
  t.equal(augmentHyp({ copy_paste: 0.5 }).copy_paste, 0.5, 'accepted: a no-op on pose data, as in Ultralytics');
});

t.test('instances: flip_idx reorders whole keypoints', async (t) => {
  const ins: Instances = { cls: new Float32Array([0, 0]), bboxes: new Float32Array(8), keypoints: Float32Array.from({ length: 12 }, (_, i) => i), nkpt: 2, format: 'xywh' };
  randomFlip({ img: grey(10, 10), ins }, 1, 'horizontal', [1, 0], replay([0]));
  t.same([...ins.keypoints], [7, 4, 5, 10, 1, 2, 1, 10, 11, 4, 7, 8]);
});

t.test('the whole pipeline on labels equals a float32 numpy + cv2 trace of Ultralytics (gen_pipeline_goldens.py)', async (t) => {
  const pg = JSON.parse(readFileSync(join(FIX, 'pipeline_goldens.json'), 'utf8'));
  const FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15];
  const loaded = (name: string): LoadedImage => ({
    img: readImage(join(FIX, `pipe_${name}.png`)),
    labels: parsePoseLabels(readFileSync(join(COCO, `labels/train/${name}.txt`), 'utf8'), name, [17, 3], 1),
  });
  for (const c of pg.cases) {
    const hyp = augmentHyp(c.hyp);
    const rand = replay(c.u);
    let s: Sample;
    if (c.kind === 'letterbox') s = randomPerspective(letterboxSample(loaded('000000000049'), [pg.imgsz, pg.imgsz], 17, true), hyp, [0, 0], rand);
    else s = randomPerspective(mosaic4(pg.names.map(loaded), pg.imgsz, 17, rand), hyp, mosaicBorder(pg.imgsz), rand);
    randomHSV(s.img, hyp.hsv_h, hyp.hsv_s, hyp.hsv_v, rand);
    s = randomFlip(s, hyp.flipud, 'vertical', undefined, rand);
    s = randomFlip(s, hyp.fliplr, 'horizontal', FLIP, rand);
    const tg = toTargets(s.ins, s.img.width, s.img.height);
    const what = `${c.kind} u=${c.u}`;
    t.same([s.img.height, s.img.width, 3], c.shape, `${what}: shape`);
    t.equal(md5(s.img.data), c.md5, `${what}: pixels`);
    t.equal(tg.cls.length, c.n, `${what}: ${c.n} objects kept`);
    t.same([...tg.bboxes], c.bboxes, `${what}: boxes, float32 for float32`);
    t.same([...tg.keypoints], c.keypoints, `${what}: keypoints, float32 for float32`);
  }
});

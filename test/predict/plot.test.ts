// Drawing: canvas primitives, the bitmap font, and Results.plot's Ultralytics colours and rules
// (class-colour boxes with filled labels, pose-palette keypoints and limbs, invisible points skipped).
import t from 'tap';
import { drawLine, drawText, fillCircle, strokeRect, textSize } from '../../tasks/plot/canvas.js';
import { classColor, plotResult } from '../../tasks/plot/annotator.js';
import { Boxes, Keypoints, Results } from '../../tasks/predict/results.js';

const blank = (w: number, h: number, v = 0) => ({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(v) });
const px = (img: { width: number; data: Uint8Array }, x: number, y: number) =>
  Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

t.test('canvas primitives', async (t) => {
  const img = blank(40, 30);
  strokeRect(img, 5, 5, 20, 15, [255, 0, 0], 2);
  t.same(px(img, 5, 10), [255, 0, 0], 'left edge');
  t.same(px(img, 4, 10), [255, 0, 0], '2 px wide: one pixel outside the edge too');
  t.same(px(img, 10, 10), [0, 0, 0], 'inside untouched');
  fillCircle(img, 30, 20, 3, [0, 255, 0]);
  t.same(px(img, 30, 20), [0, 255, 0], 'circle centre');
  t.same(px(img, 30, 25), [0, 0, 0], 'outside the radius');
  const edge = px(img, 33, 21)[1];
  t.ok(edge > 0 && edge < 255, `anti-aliased rim (${edge})`);
  drawLine(img, 0, 29, 39, 29, [0, 0, 255], 2);
  t.same(px(img, 20, 29), [0, 0, 255], 'line');
  strokeRect(img, -10, -10, 100, 100, [1, 1, 1], 3); // clipped, no throw
  t.same(textSize('person 0.87', 2), [(11 * 6 - 1) * 2, 14]);
  const txt = blank(12, 7);
  drawText(txt, 0, 0, 'T', [9, 9, 9]);
  t.same(
    [px(txt, 2, 0), px(txt, 2, 6), px(txt, 0, 6)],
    [
      [9, 9, 9],
      [9, 9, 9],
      [0, 0, 0],
    ],
    "'T': full top bar, centre stem",
  );
});

t.test('plotResult: Ultralytics colours and rules', async (t) => {
  const H = 200,
    W = 300;
  const orig = blank(W, H, 128);
  const boxes = new Boxes(Float32Array.from([50, 60, 250, 190, 0.87, 0]), [H, W]);
  const k = new Float32Array(17 * 3);
  const set = (i: number, x: number, y: number, c: number) => k.set([x, y, c], i * 3);
  set(0, 150, 80, 0.9); // nose: face colour
  set(5, 120, 120, 0.9); // left shoulder: arm colour
  set(6, 180, 120, 0.9); // right shoulder
  set(11, 130, 170, 0.9); // left hip: leg colour
  set(12, 170, 170, 0.3); // right hip: below 0.5, not drawn (and zeroed)
  const r = new Results(orig, 'x.jpg', { 0: 'person' }, boxes, new Keypoints(k, [17, 3], [H, W]));
  const img = r.plot();
  t.not(img.data, orig.data, 'draws on a copy');
  t.same(px(orig, 50, 100), [128, 128, 128], 'original untouched');
  const lw = Math.max(Math.round(((H + W + 3) / 2) * 0.003), 2);
  t.equal(lw, 2);
  t.same(classColor(0), [255, 56, 56], "class 0 is Ultralytics' FF3838");
  t.same(px(img, 50, 120), [255, 56, 56], 'box edge in the class colour');
  t.same(px(img, 51, 50), [255, 56, 56], 'filled label box above the box');
  let white = 0;
  for (let y = 40; y < 60; y++) for (let x = 50; x < 140; x++) if (px(img, x, y).join() === '255,255,255') white++;
  t.ok(white > 20, `label text drawn in white (${white} px)`);
  t.same(px(img, 150, 80), [0, 255, 0], 'face keypoint: pose palette 16 (green)');
  t.same(px(img, 120, 120), [0, 128, 255], 'arm keypoint: pose palette 0 read as BGR -> RGB (0, 128, 255)');
  t.same(
    px(img, 134, 170),
    [255, 153, 51],
    'leg keypoint: pose palette 9 as RGB (255, 153, 51) (its centre is under a limb: lines come after points)',
  );
  t.same(px(img, 170, 170), [128, 128, 128], 'conf < 0.5: not drawn');
  t.same(px(img, 150, 120), [0, 128, 255], 'limb 6-7 (shoulders) in the arm colour');
  t.same(px(img, 150, 145), [128, 128, 128], 'no limb to an invisible hip');
  const plain = plotResult(r, { labels: false, boxes: false, kpt_line: false });
  t.same(
    [px(plain, 50, 120), px(plain, 150, 120)],
    [
      [128, 128, 128],
      [128, 128, 128],
    ],
    'boxes and skeleton can be switched off',
  );
});

t.test(
  "plot options use Ultralytics' snake_case names; a camelCase or unknown key is an error with the close match",
  async (t) => {
    const img = { width: 64, height: 48, data: new Uint8Array(64 * 48 * 3) };
    const res = {
      origImg: img,
      names: { 0: 'person' },
      boxes: { data: new Float32Array([4, 4, 40, 40, 0.9, 0]), length: 1 },
      keypoints: null,
    };
    const thin = plotResult(res, { line_width: 1 }),
      thick = plotResult(res, { line_width: 4 });
    const lit = (im: { data: Uint8Array }) => im.data.reduce((n, v) => n + (v ? 1 : 0), 0);
    t.ok(lit(thick) > lit(thin), 'line_width is honoured');
    t.throws(
      () => plotResult(res, { lineWidth: 2 } as never),
      /Results.plot: 'lineWidth' \(did you mean 'line_width'\?\) is not a plot option/,
    );
    t.throws(() => plotResult(res, { kptLine: false } as never), /did you mean 'kpt_line'/);
  },
);

t.test('a label at the right edge is shifted inside the image, not clipped', async (t) => {
  const img = { width: 80, height: 60, data: new Uint8Array(80 * 60 * 3) };
  const res = {
    origImg: img,
    names: { 0: 'person' },
    boxes: { data: new Float32Array([60, 30, 79, 58, 0.91, 0]), length: 1 },
    keypoints: null,
  };
  const out = plotResult(res, { line_width: 2 });
  const c = classColor(0);
  // the filled label box runs from the right edge leftwards, well left of the box's x1 = 60
  const row = 30 - 4,
    px = (x: number) => [...out.data.subarray((row * 80 + x) * 3, (row * 80 + x) * 3 + 3)];
  let left = 79;
  while (
    left > 0 &&
    ((px(left - 1)[0] === c[0] && px(left - 1)[1] === c[1] && px(left - 1)[2] === c[2]) ||
      px(left - 1).some((v) => v === 255))
  )
    left--;
  t.ok(left < 40, `label box starts at x=${left}, shifted left of the box`);
  t.same(px(79).length, 3);
});

// save_crop: each box grown as Ultralytics' save_one_box (x1.02 + 10 px, clipped), cut from the
// original image into crops/<class>/<stem>.jpg, with increment_path's names when taken.
import t from 'tap';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Boxes, Results } from '../../tasks/predict/results.js';
import { readImage } from '../../tasks/data/image.js';
import { checkModeArgs } from '../../tasks/check_args.js';

t.test('crops: sizes, content, folders per class, increment', async (t) => {
  const W = 120,
    H = 80;
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data.set([x * 2, y * 3, 128], (y * W + x) * 3);
  const img = { width: W, height: H, data };
  // person 20..60 x 10..50 (40 x 40 -> 50.8 px), dog at the right edge (clipped)
  const boxes = new Boxes(Float32Array.from([20, 10, 60, 50, 0.9, 0, 100, 30, 119, 70, 0.8, 1]), [H, W]);
  const r = new Results(img, 'im.jpg', { 0: 'person', 1: 'dog' }, boxes, null);
  const dir = mkdtempSync(join(tmpdir(), 'crop-'));
  const files = r.saveCrop(join(dir, 'crops'), 'im');
  t.same(files, [join(dir, 'crops', 'person', 'im.jpg'), join(dir, 'crops', 'dog', 'im.jpg')]);
  const p = readImage(files[0]);
  // w = 40 * 1.02 + 10 = 50.8 around cx 40: x 14.6 .. 65.4 -> int 14 .. 65 (51 px); the same in y: 4 .. 55
  t.same([p.width, p.height], [51, 51]);
  t.ok(
    Math.abs(p.data[0] - 28) <= 6 && Math.abs(p.data[1] - 12) <= 6,
    `top-left pixel is the image's (14, 4): ${[...p.data.subarray(0, 3)]}`,
  );
  const d = readImage(files[1]);
  // cx 109.5, w 29.38: 94.81 .. 124.19 -> clipped to 120 -> int 94 .. 120
  t.same([d.width, d.height], [26, 51]);
  t.same(r.saveCrop(join(dir, 'crops'), 'im'), [
    join(dir, 'crops', 'person', 'im2.jpg'),
    join(dir, 'crops', 'dog', 'im2.jpg'),
  ]);
  t.ok(existsSync(join(dir, 'crops', 'person', 'im2.jpg')));
  t.same(checkModeArgs('predict', { save_crop: true }), { save_crop: true }, 'predict accepts save_crop');
});

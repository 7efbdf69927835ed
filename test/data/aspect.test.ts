// Extreme aspect ratios (4000x3): letterbox never makes a 0-sized image, and such images go through
// predict in a folder run with the others (no error, no skipped file).
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpu, tensor, type Tensor } from '../../engine/index.js';
import { encodePNG } from '../../tasks/data/image.js';
import { letterbox } from '../../tasks/data/letterbox.js';
import { Predictor, type PoseNet } from '../../tasks/predict/predictor.js';

const strip = (w: number, h: number) => ({ width: w, height: h, data: new Uint8Array(w * h * 3).map((_, i) => (i * 13) & 255) });

t.test('letterbox keeps at least one pixel per side', async (t) => {
  const wide = strip(4000, 3);
  // r = 0.16: 3 rows -> round(0.48) = 0 in Ultralytics (cv2.resize then fails); here 1 row
  const a = letterbox(wide, { newShape: 640, auto: true, stride: 32 });
  t.same([a.image.width, a.image.height], [640, 32]);
  t.same(a.pad, [0, 15]);
  const b = letterbox(wide, { newShape: 640 });
  t.same([b.image.width, b.image.height], [640, 640]);
  const c = letterbox(strip(3, 4000), { newShape: 640, auto: true, stride: 32 });
  t.same([c.image.width, c.image.height], [32, 640]);
  // the one kept row is the image's content, not padding
  t.not(a.image.data[(15 * 640 + 320) * 3], 114);
});

t.test('a folder with 4000x3 and 3x4000 images predicts every file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aspect-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a_wide.png'), encodePNG(strip(4000, 3)));
  writeFileSync(join(dir, 'b_tall.png'), encodePNG(strip(3, 4000)));
  copyFileSync(join(import.meta.dirname, '../fixtures/val/coco8-pose/images/val/000000000110.jpg'), join(dir, 'c.jpg'));
  const shapes: number[][] = [];
  const blind: PoseNet = {
    names: { 0: 'person' }, stride: [8, 16, 32], kptShape: [17, 3],
    predict(x: Tensor) {
      shapes.push([...x.shape]);
      const [, , H, W] = x.shape;
      const A = [8, 16, 32].reduce((n, s) => n + (H / s) * (W / s), 0);
      return tensor(new Float32Array(56 * A), [1, 56, A], { device: cpu });
    },
  };
  const p = new Predictor(blind, cpu, { imgsz: 640, verbose: false });
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (s: string) => warnings.push(s);
  const results = [];
  try {
    for await (const r of p.stream(dir)) results.push(r);
  } finally {
    console.warn = warn;
  }
  t.equal(results.length, 3);
  t.same(p.errors, []);
  t.same(warnings, []);
  t.same(results.map((r) => r.origShape), [[3, 4000], [4000, 3], [480, 640]]);
  t.same(shapes.slice(-3), [[1, 3, 32, 640], [1, 3, 640, 32], [1, 3, 480, 640]]);
});

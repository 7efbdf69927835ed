// Batched prediction as Ultralytics' BasePredictor.pre_transform does it: the images of a batch are
// letterboxed with auto=True (minimal stride-aligned padding, the same as one at a time) when they all
// have the same shape, and to the full imgsz square otherwise, then stacked into one (B, 3, h, w) input.
// Stage times are shared equally among the batch's images, as Ultralytics reports them.
//
// Imports: engine, ../data, ./predictor (type), ./results (type).

import { tensor } from '../../engine/index.js';
import type { RgbImage } from '../data/image.js';
import { letterbox, toCHWFloat } from '../data/letterbox.js';
import type { Predictor } from './predictor.js';
import type { Results } from './results.js';

export async function predictBatch(p: Predictor, imgs: RgbImage[], paths: string[]): Promise<Results[]> {
  if (imgs.length === 1) return [await p.predictImage(imgs[0], paths[0])];
  const t0 = performance.now();
  const same = imgs.every((im) => im.width === imgs[0].width && im.height === imgs[0].height);
  const lbs = imgs.map((img) => letterbox(img, { newShape: p.imgsz, auto: same, stride: p.stride }).image);
  const [h, w] = [lbs[0].height, lbs[0].width];
  const B = imgs.length,
    plane = 3 * h * w;
  const data = new Float32Array(B * plane);
  lbs.forEach((im, b) => data.set(toCHWFloat(im), b * plane));
  const x = tensor(data, [B, 3, h, w], { device: p.device });
  const t1 = performance.now();
  let pred;
  try {
    pred = await p.inference(x); // (B, C, A)
  } finally {
    x.dispose();
  }
  const t2 = performance.now();
  const [, C, A] = pred.shape;
  const out = imgs.map((img, b) =>
    p.postprocess({ data: pred.data.subarray(b * C * A, (b + 1) * C * A), shape: [1, C, A] }, [h, w], img, paths[b]),
  );
  const t3 = performance.now();
  for (const r of out) r.speed = { preprocess: (t1 - t0) / B, inference: (t2 - t1) / B, postprocess: (t3 - t2) / B };
  p.lastShape = [B, 3, h, w];
  return out;
}

// multi_scale=True: Ultralytics 8.2.82's DetectionTrainer.preprocess_batch draws, for every batch,
//   sz = randrange(int(imgsz * 0.5), int(imgsz * 1.5 + stride)) // stride * stride
// and, when sf = sz / max(H, W) != 1, resizes the whole (B, 3, H, W) batch to
//   (ceil(H * sf / stride) * stride, ceil(W * sf / stride) * stride)
// with F.interpolate(mode='bilinear', align_corners=False). Labels are normalized, so they follow.
// The draws come from this module's own seeded generator (seed, epoch), not Python's `random`.
//
// Imports: engine/random (the generator), ../data/loader (the batch type, the epoch seed).

import { getRngState, random, seed as seedRng, setRngState } from '../../engine/random.js';
import { epochSeed, type PoseBatch } from '../data/loader.js';

/** The size one batch is trained at: randrange's half-open range, floored to a stride multiple. */
export function multiScaleSize(imgsz: number, stride: number, rand: () => number): number {
  const lo = Math.trunc(imgsz * 0.5),
    hi = Math.trunc(imgsz * 1.5 + stride);
  const r = lo + Math.floor(rand() * (hi - lo));
  return Math.floor(r / stride) * stride;
}

/**
 * torch.nn.functional.interpolate(x, size, mode='bilinear', align_corners=False) on a (B, C, H, W)
 * float32 array: source coordinate (dst + 0.5) * in / out - 0.5, clamped at 0, weights and sums in
 * float32 in ATen's order; torch 1.13's build differs from this in the last bits (within 6e-7 on [0, 1]).
 */
export function interpolateBilinear(x: Float32Array, shape: readonly number[], size: [number, number]): Float32Array {
  const [B, C, H, W] = shape;
  const [oh, ow] = size;
  const f = Math.fround;
  const axis = (n: number, o: number) => {
    const scale = f(n / o);
    const i0 = new Int32Array(o),
      i1 = new Int32Array(o),
      l1 = new Float32Array(o),
      l0 = new Float32Array(o);
    for (let d = 0; d < o; d++) {
      let src = f(scale * (d + 0.5) - 0.5); // (int64 + 0.5) is a double in ATen's source index
      if (src < 0) src = 0;
      const i = Math.min(Math.floor(src), n - 1);
      i0[d] = i;
      i1[d] = i < n - 1 ? i + 1 : i;
      l1[d] = f(src - i);
      l0[d] = f(1 - l1[d]);
    }
    return { i0, i1, l0, l1 };
  };
  const ys = axis(H, oh),
    xs = axis(W, ow);
  const out = new Float32Array(B * C * oh * ow);
  for (let p = 0; p < B * C; p++) {
    const src = x.subarray(p * H * W, (p + 1) * H * W);
    const dst = out.subarray(p * oh * ow, (p + 1) * oh * ow);
    for (let y = 0; y < oh; y++) {
      const r0 = ys.i0[y] * W,
        r1 = ys.i1[y] * W,
        h0 = ys.l0[y],
        h1 = ys.l1[y];
      for (let xx = 0; xx < ow; xx++) {
        const c0 = xs.i0[xx],
          c1 = xs.i1[xx],
          w0 = xs.l0[xx],
          w1 = xs.l1[xx];
        dst[y * ow + xx] = f(
          f(h0 * f(f(w0 * src[r0 + c0]) + f(w1 * src[r0 + c1]))) +
            f(h1 * f(f(w0 * src[r1 + c0]) + f(w1 * src[r1 + c1]))),
        );
      }
    }
  }
  return out;
}

/** Rescales one training batch in place of preprocess_batch; returns the batch (a new one when resized). */
export function multiScaleBatch(batch: PoseBatch, imgsz: number, stride: number, rand: () => number): PoseBatch {
  const sz = multiScaleSize(imgsz, stride, rand);
  const [B, C, H, W] = batch.shape;
  const sf = sz / Math.max(H, W);
  if (sf === 1) return batch;
  const ns: [number, number] = [Math.ceil((H * sf) / stride) * stride, Math.ceil((W * sf) / stride) * stride];
  return { ...batch, images: interpolateBilinear(batch.images, batch.shape, ns), shape: [B, C, ns[0], ns[1]] };
}

/** The multi-scale draws of one epoch, kept apart from engine/random's global stream. */
export class MultiScaleRng {
  private state: number[];
  constructor(seed: number, epoch: number) {
    const saved = getRngState();
    seedRng(epochSeed(seed ^ 0x6d5c, epoch));
    this.state = getRngState();
    setRngState(saved);
  }
  next = (): number => {
    const saved = getRngState();
    setRngState(this.state);
    const v = random();
    this.state = getRngState();
    setRngState(saved);
    return v;
  };
}

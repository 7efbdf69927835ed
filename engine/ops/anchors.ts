// Anchor points and strides of a detection head (Ultralytics' make_anchors), from its feature maps'
// shapes only: computed on the host and uploaded. On the meta device they are one graph node
// ('anchors', inputs = the maps) so that exporters can compute them in-graph for dynamic sizes, and
// constant folding can turn them into constants for a fixed size. Not differentiable (no inputs
// carry a gradient into them).
import { Tensor } from '../tensor.js';
import { fmt } from '../shape.js';
import { tensor } from './create.js';
import { metaOp } from '../graph/hook.js';

/**
 * Anchor centres as interleaved (x, y) pairs in grid units (cell index + offset), A = sum of
 * h_i * w_i, level by level, row-major inside a level; and the stride of each anchor.
 */
export function anchorGrid(
  sizes: [number, number][],
  strides: readonly number[],
  offset = 0.5,
): { points: Float32Array; strides: Float32Array } {
  const total = sizes.reduce((s, [h, w]) => s + h * w, 0);
  const points = new Float32Array(total * 2),
    str = new Float32Array(total);
  let k = 0;
  sizes.forEach(([h, w], i) => {
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++, k++) {
        points[2 * k] = x + offset;
        points[2 * k + 1] = y + offset;
        str[k] = strides[i];
      }
  });
  return { points, strides: str };
}

/** Per-level maps (B, C, h_i, w_i) → [points (2, A): x row then y row, strides (1, A)], on the maps' device. */
export function anchors(feats: Tensor[], strides: readonly number[], offset = 0.5): [Tensor, Tensor] {
  if (feats.length !== strides.length || feats.some((f) => f.ndim !== 4))
    throw new Error(
      `anchors: expected one (B, C, h, w) map per stride (${strides.length}), got shapes ${feats.map((f) => fmt(f.shape)).join(', ')}`,
    );
  const sizes = feats.map((f) => [f.shape[2], f.shape[3]] as [number, number]);
  const device = feats[0].device;
  const A = sizes.reduce((s, [h, w]) => s + h * w, 0);
  if (device.type === 'meta')
    return metaOp('anchors', feats, { strides: [...strides], offset }, [
      Tensor.empty([2, A], 'f32', device),
      Tensor.empty([1, A], 'f32', device),
    ]) as [Tensor, Tensor];
  const a = anchorGrid(sizes, strides, offset);
  // transposed to (2, A) like Ultralytics' anchors.transpose(0, 1)
  const t = new Float32Array(2 * A);
  for (let k = 0; k < A; k++) ((t[k] = a.points[2 * k]), (t[A + k] = a.points[2 * k + 1]));
  return [tensor(t, [2, A], { device }), tensor(a.strides, [1, A], { device })];
}

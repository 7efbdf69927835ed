// Anchor points shared by the Pose head (decoding) and v8PoseLoss (assignment): they depend on
// feature-map shapes only, so they are computed on the host.

/**
 * Anchor centres (A, 2) as (x, y) in grid units (cell index + offset) and the stride of each
 * anchor (A, 1), as Ultralytics' make_anchors. Computed on the host: they depend on shapes only.
 */
export function makeAnchors(sizes: [number, number][], strides: readonly number[], offset = 0.5): { points: Float32Array; strides: Float32Array } {
  const total = sizes.reduce((s, [h, w]) => s + h * w, 0);
  const points = new Float32Array(total * 2), str = new Float32Array(total);
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

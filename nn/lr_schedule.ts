// Learning-rate factors per epoch (Ultralytics' _setup_scheduler) and the warmup ramp.

/** Linear decay from 1 to lrf over `epochs`: max(1 - e/epochs, 0)·(1 - lrf) + lrf. */
export const linearLf = (epochs: number, lrf: number) => (e: number) => Math.max(1 - e / epochs, 0) * (1 - lrf) + lrf;

/** Cosine from y1 to y2 over `steps` (Ultralytics' one_cycle). */
export const oneCycle = (y1: number, y2: number, steps: number) => (x: number) =>
  ((1 - Math.cos((x * Math.PI) / steps)) / 2) * (y2 - y1) + y1;

/** np.interp for one point on a two-point ramp. */
export function interp(x: number, [x0, x1]: [number, number], [y0, y1]: [number, number]): number {
  if (x <= x0) return y0;
  if (x >= x1) return y1;
  return y0 + ((x - x0) / (x1 - x0)) * (y1 - y0);
}

// Shared by the wasm Winograd tests: seeded inputs (all four), the f64 grad-weight reference
// (wasm_winograd_gw, wasm_winograd_gw4) and a compiled predict (wasm_winograd, wasm_winograd_f4).
import type { ConvGeometry } from '../../engine/ops/conv2d.js';
import { tensor, type Device } from '../../engine/index.js';
import type { PoseModel } from '../../models/index.js';

/** One predict of `host` (shape) on `device` through the compiled forward, read back; the model left eager. */
export function compiledPredict(model: PoseModel, host: ArrayLike<number>, shape: number[], device: Device) {
  try {
    model.compile();
    return model.predict(tensor(host, shape, { device })).dataSync() as Float32Array;
  } finally {
    model.compile(false);
  }
}

/** n values uniform in [-1, 1) from a linear congruential sequence: seeded(s) draws the same ones every run */
export function seeded(seed: number) {
  return (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      a[i] = seed / 2 ** 30 - 1;
    }
    return a;
  };
}

/** gw (O, C, 3, 3) in f64: the cpu reference's loops (sum over n, oy, ox of gy x the tap's x, zero padding) */
export function gradWeightRef(x: Float32Array, gy: Float32Array, g: ConvGeometry) {
  const gw = new Float64Array(g.o * g.c * 9);
  for (let n = 0; n < g.n; n++)
    for (let o = 0; o < g.o; o++)
      for (let c = 0; c < g.c; c++)
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++) {
            let s = 0;
            for (let oy = 0; oy < g.oh; oy++) {
              const iy = oy - g.ph + ky;
              if (iy < 0 || iy >= g.h) continue;
              for (let ox = 0; ox < g.ow; ox++) {
                const ix = ox - g.pw + kx;
                if (ix < 0 || ix >= g.w) continue;
                s += gy[((n * g.o + o) * g.oh + oy) * g.ow + ox] * x[((n * g.c + c) * g.h + iy) * g.w + ix];
              }
            }
            gw[((o * g.c + c) * 3 + ky) * 3 + kx] += s;
          }
  return gw;
}

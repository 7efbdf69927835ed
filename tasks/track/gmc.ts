// BoT-SORT's global motion compensation, method sparseOptFlow, as Ultralytics' trackers/utils/gmc.py
// runs it through OpenCV: each frame is turned grey and halved (downscale 2), corners are found
// (Shi–Tomasi, goodFeaturesToTrack: maxCorners 1000, qualityLevel 0.01, minDistance 1, blockSize 3),
// last frame's corners are followed into this frame with pyramidal Lucas–Kanade (21 x 21 window,
// 3 pyramid levels above the frame, 30 iterations or a step under 0.01 px), and a 4-degree-of-freedom
// similarity [a -b tx; b a ty] is fitted to the tracked pairs with RANSAC (3 px, then least squares on
// the inliers, as estimateAffinePartial2D). The translation is scaled back to full resolution. The
// returned 2 x 3 warp maps last frame's coordinates to this frame's; the first frame gives identity.
//
// Written from the published algorithms, not from OpenCV's code: results agree with OpenCV's to a
// fraction of a pixel on real camera motion, not bit for bit (RANSAC draws its own samples).
//
// Imports: ./byte_tracker (the Warp type).

import type { Warp } from './byte_tracker.js';

interface Gray {
  w: number;
  h: number;
  d: Float32Array;
}

const IDENTITY: Warp = [1, 0, 0, 0, 1, 0];

/** RGB -> grey with OpenCV's fixed-point BGR2GRAY weights, then resized by 1/downscale (bilinear, pixel centres). */
export function grayDownscaled(img: { width: number; height: number; data: Uint8Array }, downscale = 2): Gray {
  const { width: W, height: H, data } = img;
  const g = new Float32Array(W * H);
  for (let i = 0; i < W * H; i++)
    g[i] = (data[3 * i] * 4899 + data[3 * i + 1] * 9617 + data[3 * i + 2] * 1868 + 8192) >> 14;
  if (downscale <= 1) return { w: W, h: H, d: g };
  const w = Math.floor(W / downscale),
    h = Math.floor(H / downscale);
  const out = new Float32Array(w * h);
  const sx = W / w,
    sy = H / h;
  for (let y = 0; y < h; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), H - 1);
    const y0 = Math.floor(fy),
      y1 = Math.min(y0 + 1, H - 1),
      ay = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), W - 1);
      const x0 = Math.floor(fx),
        x1 = Math.min(x0 + 1, W - 1),
        ax = fx - x0;
      const top = g[y0 * W + x0] * (1 - ax) + g[y0 * W + x1] * ax;
      const bot = g[y1 * W + x0] * (1 - ax) + g[y1 * W + x1] * ax;
      out[y * w + x] = Math.round(top * (1 - ay) + bot * ay); // an 8-bit image, as cv2.resize returns
    }
  }
  return { w, h, d: out };
}

const reflect = (i: number, n: number) => (i < 0 ? Math.min(-i, n - 1) : i >= n ? Math.max(2 * n - i - 2, 0) : i);

/** Shi–Tomasi corners: min eigenvalue of the 3x3-summed structure tensor (Sobel gradients), strongest first. */
export function goodFeatures(img: Gray, maxCorners = 1000, quality = 0.01, minDistance = 1): [number, number][] {
  const { w, h, d } = img;
  const at = (x: number, y: number) => d[reflect(y, h) * w + reflect(x, w)];
  const xx = new Float32Array(w * h),
    xy = new Float32Array(w * h),
    yy = new Float32Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const gx =
        at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1);
      const gy =
        at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1);
      xx[y * w + x] = gx * gx;
      xy[y * w + x] = gx * gy;
      yy[y * w + x] = gy * gy;
    }
  const eig = new Float32Array(w * h);
  let max = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let a = 0,
        b = 0,
        c = 0;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const k = reflect(y + dy, h) * w + reflect(x + dx, w);
          a += xx[k];
          b += xy[k];
          c += yy[k];
        }
      const e = (a + c) / 2 - Math.sqrt(((a - c) / 2) ** 2 + b * b);
      eig[y * w + x] = e;
      if (e > max) max = e;
    }
  const thresh = max * quality;
  const cand: [number, number, number][] = [];
  for (let y = 1; y < h - 1; y++)
    for (let x = 1; x < w - 1; x++) {
      const e = eig[y * w + x];
      if (e <= thresh || e <= 0) continue;
      let peak = true; // a local maximum of its 3x3 neighbourhood
      for (let dy = -1; dy <= 1 && peak; dy++)
        for (let dx = -1; dx <= 1; dx++) if (eig[(y + dy) * w + x + dx] > e) peak = false;
      if (peak) cand.push([e, x, y]);
    }
  cand.sort((p, q) => q[0] - p[0] || p[2] - q[2] || p[1] - q[1]);
  const out: [number, number][] = [];
  const md2 = minDistance * minDistance;
  for (const [, x, y] of cand) {
    if (md2 > 1 && out.some(([px, py]) => (px - x) ** 2 + (py - y) ** 2 < md2)) continue;
    out.push([x, y]);
    if (out.length >= maxCorners) break;
  }
  return out;
}

/** pyrDown: 5-tap Gaussian [1 4 6 4 1]/16 in x and y, every other pixel, border reflect-101. */
function pyrDown(img: Gray): Gray {
  const { w, h, d } = img;
  const W = (w + 1) >> 1,
    H = (h + 1) >> 1;
  const k = [1, 4, 6, 4, 1];
  const tmp = new Float32Array(W * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < W; x++) {
      let s = 0;
      for (let i = -2; i <= 2; i++) s += k[i + 2] * d[y * w + reflect(2 * x + i, w)];
      tmp[y * W + x] = s / 16;
    }
  const out = new Float32Array(W * H);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      let s = 0;
      for (let i = -2; i <= 2; i++) s += k[i + 2] * tmp[reflect(2 * y + i, h) * W + x];
      out[y * W + x] = s / 16;
    }
  return { w: W, h: H, d: out };
}

/** Fills `out` with the (2r+1)^2 window of `img` centred at (x, y), bilinear (one weight set for the whole window), edges clamped. */
function window(img: Gray, x: number, y: number, r: number, out: Float32Array): void {
  const x0 = Math.floor(x),
    y0 = Math.floor(y);
  const ax = x - x0,
    ay = y - y0;
  const w00 = (1 - ax) * (1 - ay),
    w10 = ax * (1 - ay),
    w01 = (1 - ax) * ay,
    w11 = ax * ay;
  const { w, h, d } = img;
  const inside = x0 - r >= 0 && y0 - r >= 0 && x0 + r + 1 < w && y0 + r + 1 < h;
  let k = 0;
  for (let dy = -r; dy <= r; dy++) {
    const ya = inside ? y0 + dy : Math.min(Math.max(y0 + dy, 0), h - 1),
      yb = inside ? ya + 1 : Math.min(Math.max(y0 + dy + 1, 0), h - 1);
    for (let dx = -r; dx <= r; dx++, k++) {
      const xa = inside ? x0 + dx : Math.min(Math.max(x0 + dx, 0), w - 1),
        xb = inside ? xa + 1 : Math.min(Math.max(x0 + dx + 1, 0), w - 1);
      out[k] = w00 * d[ya * w + xa] + w10 * d[ya * w + xb] + w01 * d[yb * w + xa] + w11 * d[yb * w + xb];
    }
  }
}

/** Central-difference gradients of an image (x and y), edges clamped. */
function gradients(img: Gray): [Gray, Gray] {
  const { w, h, d } = img;
  const gx = new Float32Array(w * h),
    gy = new Float32Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      gx[y * w + x] = (d[y * w + Math.min(x + 1, w - 1)] - d[y * w + Math.max(x - 1, 0)]) / 2;
      gy[y * w + x] = (d[Math.min(y + 1, h - 1) * w + x] - d[Math.max(y - 1, 0) * w + x]) / 2;
    }
  return [
    { w, h, d: gx },
    { w, h, d: gy },
  ];
}

/** Pyramidal Lucas–Kanade: where each point of `prev` went in `next`; null where it was lost. */
export function opticalFlowPyrLK(
  prev: Gray,
  next: Gray,
  pts: [number, number][],
  win = 21,
  maxLevel = 3,
  iters = 30,
  eps = 0.01,
): ([number, number] | null)[] {
  const P = [prev],
    N = [next];
  for (let l = 1; l <= maxLevel; l++) {
    P.push(pyrDown(P[l - 1]));
    N.push(pyrDown(N[l - 1]));
  }
  const G = P.map(gradients);
  const r = (win - 1) / 2;
  const n = win * win;
  const I = new Float32Array(n),
    Ix = new Float32Array(n),
    Iy = new Float32Array(n),
    J = new Float32Array(n);
  return pts.map(([px, py]) => {
    let gx = 0,
      gy = 0;
    for (let l = maxLevel; l >= 0; l--) {
      const s = 2 ** l;
      const x = px / s,
        y = py / s;
      window(P[l], x, y, r, I);
      window(G[l][0], x, y, r, Ix);
      window(G[l][1], x, y, r, Iy);
      let a = 0,
        b = 0,
        c = 0;
      for (let k = 0; k < n; k++) {
        a += Ix[k] * Ix[k];
        b += Ix[k] * Iy[k];
        c += Iy[k] * Iy[k];
      }
      const det = a * c - b * b;
      const minEig = (a + c - Math.sqrt((a - c) ** 2 + 4 * b * b)) / 2;
      if (minEig / n < 1e-4 || Math.abs(det) < 1e-12) return null; // no texture: cannot be followed
      let vx = 0,
        vy = 0;
      for (let it = 0; it < iters; it++) {
        window(N[l], x + gx + vx, y + gy + vy, r, J);
        let bx = 0,
          by = 0;
        for (let k = 0; k < n; k++) {
          const diff = I[k] - J[k];
          bx += diff * Ix[k];
          by += diff * Iy[k];
        }
        const ddx = (c * bx - b * by) / det,
          ddy = (a * by - b * bx) / det;
        vx += ddx;
        vy += ddy;
        if (ddx * ddx + ddy * ddy < eps * eps) break;
      }
      gx += vx;
      gy += vy;
      if (l > 0) {
        gx *= 2;
        gy *= 2;
      }
    }
    const qx = px + gx,
      qy = py + gy;
    if (!(qx >= 0 && qy >= 0 && qx <= next.w - 1 && qy <= next.h - 1)) return null;
    return [qx, qy];
  });
}

/** estimateAffinePartial2D with RANSAC: the similarity q = s p + t (s = a + ib) that most pairs agree with. */
export function estimateSimilarity(
  p: [number, number][],
  q: [number, number][],
  thresh = 3,
  maxIters = 2000,
  confidence = 0.99,
): Warp | null {
  const n = p.length;
  if (n < 2) return null;
  let seed = 12345;
  const rand = (m: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % m;
  const fit = (idx: number[]): Warp | null => {
    // least squares over the chosen pairs: centre, then s = sum(conj(p') q') / sum |p'|^2
    let mpx = 0,
      mpy = 0,
      mqx = 0,
      mqy = 0;
    for (const i of idx) {
      mpx += p[i][0];
      mpy += p[i][1];
      mqx += q[i][0];
      mqy += q[i][1];
    }
    const m = idx.length;
    mpx /= m;
    mpy /= m;
    mqx /= m;
    mqy /= m;
    let sa = 0,
      sb = 0,
      den = 0;
    for (const i of idx) {
      const ux = p[i][0] - mpx,
        uy = p[i][1] - mpy,
        vx = q[i][0] - mqx,
        vy = q[i][1] - mqy;
      sa += ux * vx + uy * vy;
      sb += ux * vy - uy * vx;
      den += ux * ux + uy * uy;
    }
    if (den < 1e-12) return null;
    const a = sa / den,
      b = sb / den;
    return [a, -b, mqx - (a * mpx - b * mpy), b, a, mqy - (b * mpx + a * mpy)];
  };
  const inliers = (H: Warp) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const ex = H[0] * p[i][0] + H[1] * p[i][1] + H[2] - q[i][0],
        ey = H[3] * p[i][0] + H[4] * p[i][1] + H[5] - q[i][1];
      if (ex * ex + ey * ey <= thresh * thresh) out.push(i);
    }
    return out;
  };
  let best: number[] = [];
  let needed = maxIters;
  for (let it = 0; it < needed && it < maxIters; it++) {
    const i = rand(n);
    let j = rand(n - 1);
    if (j >= i) j++;
    const H = fit([i, j]);
    if (!H) continue;
    const inl = inliers(H);
    if (inl.length > best.length) {
      best = inl;
      const frac = best.length / n;
      needed = frac >= 1 ? 0 : Math.min(maxIters, Math.ceil(Math.log(1 - confidence) / Math.log(1 - frac * frac)));
    }
  }
  if (best.length < 2) return null;
  let H = fit(best)!;
  for (let k = 0; k < 10; k++) {
    // refine: refit on the inliers of the refit until they settle
    const inl = inliers(H);
    if (inl.length < 2 || inl.length === best.length) break;
    best = inl;
    H = fit(best)!;
  }
  return H;
}

/** The per-video state of sparseOptFlow GMC: last frame and its corners. */
export class SparseOptFlowGMC {
  private prev: Gray | null = null;
  private prevPts: [number, number][] | null = null;

  constructor(readonly downscale = 2) {}

  apply(img: { width: number; height: number; data: Uint8Array }): Warp {
    const frame = grayDownscaled(img, this.downscale);
    const pts = goodFeatures(frame);
    if (!this.prev || !this.prevPts) {
      this.prev = frame;
      this.prevPts = pts;
      return [...IDENTITY];
    }
    const moved = opticalFlowPyrLK(this.prev, frame, this.prevPts);
    const p: [number, number][] = [],
      q: [number, number][] = [];
    moved.forEach((m, i) => {
      if (m) {
        p.push(this.prevPts![i]);
        q.push(m);
      }
    });
    let H: Warp = [...IDENTITY];
    if (p.length > 4) {
      const est = estimateSimilarity(p, q);
      if (est) {
        H = est;
        H[2] *= this.downscale;
        H[5] *= this.downscale;
      }
    }
    this.prev = frame;
    this.prevPts = pts;
    return H;
  }

  reset() {
    this.prev = null;
    this.prevPts = null;
  }
}

// The trackers' Kalman filters, as Ultralytics' trackers/utils/kalman_filter.py defines them: a
// constant-velocity model over 8 states, (x, y, a, h, vx, vy, va, vh) for ByteTrack (centre, aspect
// ratio w/h, height) or (x, y, w, h, vx, vy, vw, vh) for BoT-SORT, with process and measurement noise
// proportional to the box size (position weight 1/20, velocity weight 1/160). Matrices are small
// (8 x 8, 4 x 4) row-major Float64Arrays; the update solves with a Cholesky factor as scipy's cho_solve.
//
// Imports: none.

export type Vec = Float64Array; // (8,)
export type Mat = Float64Array; // (8, 8) row-major

const WP = 1 / 20,
  WV = 1 / 160;

const diagSq = (std: number[]) => {
  const n = std.length,
    m = new Float64Array(n * n);
  std.forEach((s, i) => (m[i * n + i] = s * s));
  return m;
};

export class KalmanFilterXYAH {
  /** Noise scales for the 4 measured values, from the measurement or state `z`. */
  protected posStd(z: ArrayLike<number>): number[] {
    return [WP * z[3], WP * z[3], 1e-2, WP * z[3]];
  }
  protected velStd(z: ArrayLike<number>): number[] {
    return [WV * z[3], WV * z[3], 1e-5, WV * z[3]];
  }
  protected measStd(z: ArrayLike<number>): number[] {
    return [WP * z[3], WP * z[3], 1e-1, WP * z[3]];
  }

  /** A new track from an unassociated measurement: zero velocity, wide covariance. */
  initiate(z: ArrayLike<number>): { mean: Vec; cov: Mat } {
    const mean = new Float64Array(8);
    for (let i = 0; i < 4; i++) mean[i] = z[i];
    return { mean, cov: diagSq(this.initStd(z)) };
  }

  protected initStd(z: ArrayLike<number>): number[] {
    return [2 * WP * z[3], 2 * WP * z[3], 1e-2, 2 * WP * z[3], 10 * WV * z[3], 10 * WV * z[3], 1e-5, 10 * WV * z[3]];
  }

  /** x' = F x, P' = F P F^T + Q with F = [[I, I], [0, I]]. */
  predict(mean: Vec, cov: Mat): { mean: Vec; cov: Mat } {
    const q = diagSq([...this.posStd(mean), ...this.velStd(mean)]);
    const m = new Float64Array(8);
    for (let i = 0; i < 4; i++) {
      m[i] = mean[i] + mean[i + 4];
      m[i + 4] = mean[i + 4];
    }
    // FP: rows i < 4 add row i + 4; then (FP)F^T: columns j < 4 add column j + 4
    const fp = new Float64Array(cov);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 8; j++) fp[i * 8 + j] += cov[(i + 4) * 8 + j];
    const c = new Float64Array(fp);
    for (let i = 0; i < 8; i++) for (let j = 0; j < 4; j++) c[i * 8 + j] += fp[i * 8 + j + 4];
    for (let k = 0; k < 64; k++) c[k] += q[k];
    return { mean: m, cov: c };
  }

  /** Into measurement space: H x and H P H^T + R (H takes the first 4 states). */
  project(mean: Vec, cov: Mat): { mean: Vec; cov: Float64Array } {
    const r = this.measStd(mean);
    const s = new Float64Array(16);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) s[i * 4 + j] = cov[i * 8 + j] + (i === j ? r[i] * r[i] : 0);
    return { mean: mean.slice(0, 4), cov: s };
  }

  /** Correction with measurement z: K = P H^T S^-1, x += K (z - Hx), P -= K S K^T. */
  update(mean: Vec, cov: Mat, z: ArrayLike<number>): { mean: Vec; cov: Mat } {
    const { mean: pm, cov: S } = this.project(mean, cov);
    const L = cholesky(S, 4);
    // K^T = S^-1 (P H^T)^T: solve for each of the 8 columns of (P H^T)^T = rows 0..3 of P
    const K = new Float64Array(32); // (8, 4)
    const b = new Float64Array(4);
    for (let c = 0; c < 8; c++) {
      for (let i = 0; i < 4; i++) b[i] = cov[c * 8 + i]; // (P H^T)[c, i]
      const x = choSolve(L, b, 4);
      for (let i = 0; i < 4; i++) K[c * 4 + i] = x[i];
    }
    const innov = [0, 1, 2, 3].map((i) => z[i] - pm[i]);
    const m = new Float64Array(mean);
    for (let r = 0; r < 8; r++) for (let i = 0; i < 4; i++) m[r] += K[r * 4 + i] * innov[i];
    // K S K^T
    const KS = new Float64Array(32);
    for (let r = 0; r < 8; r++)
      for (let j = 0; j < 4; j++) {
        let s = 0;
        for (let i = 0; i < 4; i++) s += K[r * 4 + i] * S[i * 4 + j];
        KS[r * 4 + j] = s;
      }
    const c = new Float64Array(cov);
    for (let r = 0; r < 8; r++)
      for (let q = 0; q < 8; q++) {
        let s = 0;
        for (let j = 0; j < 4; j++) s += KS[r * 4 + j] * K[q * 4 + j];
        c[r * 8 + q] -= s;
      }
    return { mean: m, cov: c };
  }
}

/** BoT-SORT's filter: the state holds width and height, and the noise scales with each. */
export class KalmanFilterXYWH extends KalmanFilterXYAH {
  protected override posStd(z: ArrayLike<number>): number[] {
    return [WP * z[2], WP * z[3], WP * z[2], WP * z[3]];
  }
  protected override velStd(z: ArrayLike<number>): number[] {
    return [WV * z[2], WV * z[3], WV * z[2], WV * z[3]];
  }
  protected override measStd(z: ArrayLike<number>): number[] {
    return this.posStd(z);
  }
  protected override initStd(z: ArrayLike<number>): number[] {
    return [...this.posStd(z).map((s) => 2 * s), ...this.velStd(z).map((s) => 10 * s)];
  }
}

/** Lower Cholesky factor of an n x n SPD matrix. */
function cholesky(a: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = i === j ? Math.sqrt(s) : s / L[j * n + j];
    }
  return L;
}

/** Solves (L L^T) x = b. */
function choSolve(L: Float64Array, b: Float64Array, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * n + k] * y[k];
    y[i] = s / L[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= L[k * n + i] * x[k];
    x[i] = s / L[i * n + i];
  }
  return x;
}

// Linear assignment for the trackers. solveAssignment is the shortest-augmenting-path Hungarian method
// (Jonker–Volgenant's augmentation with row/column potentials, O(n^3)) for a square or rectangular
// cost matrix; linearAssignment adds what Ultralytics' matching.linear_assignment gets from
// lap.lapjv(cost, extend_cost=True, cost_limit=thresh): the (n + m) x (n + m) matrix whose extra
// cells cost thresh / 2, so a track and a detection are paired only when that beats leaving both
// unmatched, i.e. when their cost is below thresh, and the total is optimal under that rule.
//
// Imports: none.

/**
 * Minimum-cost assignment of an n x m matrix (row-major, n <= m): returns for each row its column.
 * Potentials u, v keep reduced costs >= 0; each row is added by a Dijkstra-like search for the
 * cheapest augmenting path.
 */
export function solveAssignment(cost: Float64Array | number[], n: number, m: number): Int32Array {
  if (n > m) {
    // transpose, solve, invert
    const t = new Float64Array(n * m);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) t[j * n + i] = cost[i * m + j];
    const colOf = solveAssignment(t, m, n);
    const rowCol = new Int32Array(n).fill(-1);
    colOf.forEach((i, j) => (rowCol[i] = j));
    return rowCol;
  }
  const INF = Number.POSITIVE_INFINITY;
  const u = new Float64Array(n + 1),
    v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1); // p[j]: row (1-based) assigned to column j; p[0] the row being added
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(INF);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0];
      let delta = INF,
        j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = cost[(i0 - 1) * m + (j - 1)] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0);
  }
  const rowCol = new Int32Array(n).fill(-1);
  for (let j = 1; j <= m; j++) if (p[j]) rowCol[p[j] - 1] = j - 1;
  return rowCol;
}

export interface Assignment {
  matches: [number, number][];
  unmatchedA: number[];
  unmatchedB: number[];
}

/** matching.linear_assignment with lap's cost_limit: pairs (row, col) in row order, and what is left. `cols` for a matrix with no rows. */
export function linearAssignment(cost: number[][], thresh: number, cols = cost[0]?.length ?? 0): Assignment {
  const n = cost.length,
    m = cols;
  if (!n || !m) return { matches: [], unmatchedA: [...Array(n).keys()], unmatchedB: [...Array(m).keys()] };
  const N = n + m;
  const ext = new Float64Array(N * N).fill(thresh / 2);
  for (let i = n; i < N; i++) for (let j = m; j < N; j++) ext[i * N + j] = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) ext[i * N + j] = cost[i][j];
  const x = solveAssignment(ext, N, N);
  const matches: [number, number][] = [];
  const takenB = new Uint8Array(m);
  const unmatchedA: number[] = [];
  for (let i = 0; i < n; i++) {
    if (x[i] < m) {
      matches.push([i, x[i]]);
      takenB[x[i]] = 1;
    } else unmatchedA.push(i);
  }
  const unmatchedB = [...Array(m).keys()].filter((j) => !takenB[j]);
  return { matches, unmatchedA, unmatchedB };
}

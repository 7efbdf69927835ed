// Weight palettization for Core ML's constexpr_lut_to_dense (iOS16): a weight tensor becomes a
// look-up table of 2^nbits values and one nbits index per element, packed LSB-first, one byte at a
// time, in row-major order (the op's definition in coremltools.converters.mil.mil.ops.defs.iOS16).
//
// The table is k-means in one dimension, which is what coremltools.optimize.coreml's
// OpPalettizerConfig(mode='kmeans') asks for (coremltools runs scikit-learn's KMeans on the flat
// weights). Here: Lloyd's iterations over the sorted values, seeded at uniform levels over the value range,
// so the result is deterministic and never worse than uniform levels. In 1-D every cluster is an interval of the sorted values, so one
// iteration is k binary searches over prefix sums. A tensor with at most 2^nbits distinct values
// keeps them exactly.
//
// Imports: nothing.

export interface Palette {
  /** (2^nbits,) the table; entries past the cluster count are 0 */
  lut: Float32Array;
  /** ceil(nbits * n / 8) bytes, element k's index in bits [k*nbits, (k+1)*nbits), LSB-first */
  indices: Uint8Array;
}

/** First index in sorted `a` whose value is >= v. */
function lowerBound(a: Float64Array, v: number): number {
  let lo = 0,
    hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The 1-D k-means table of `w` (k = 2^nbits) and each element's nearest entry. `round` maps a table value to its stored precision (fp16) before indices are assigned. */
export function palettize(
  w: Float32Array,
  nbits: number,
  round: (v: Float32Array) => Float32Array = (v) => v,
  maxIter = 300,
): Palette {
  const k = 1 << nbits,
    n = w.length;
  const sorted = Float64Array.from(w).sort();
  const distinct: number[] = [];
  for (let i = 0; i < n; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct.push(sorted[i]);
  let centers: number[];
  if (distinct.length <= k) centers = distinct;
  else {
    const prefix = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i] + sorted[i];
    // seed: k uniform levels over [min, max]. Lloyd's iterations never raise the squared error, so the
    // table is at least as good as uniform 8-bit levels (quantile seeds crowd the dense centre and
    // converge to worse tables on bell-shaped weights)
    const lo = sorted[0],
      span = sorted[n - 1] - sorted[0];
    centers = Array.from({ length: k }, (_, j) => lo + (span * j) / (k - 1));
    for (let it = 0; it < maxIter; it++) {
      let moved = 0,
        start = 0;
      const next = centers.map((c, j) => {
        const end = j === k - 1 ? n : lowerBound(sorted, (c + centers[j + 1]) / 2);
        const m = end > start ? (prefix[end] - prefix[start]) / (end - start) : c; // an empty cluster keeps its centre
        start = end;
        moved = Math.max(moved, Math.abs(m - c));
        return m;
      });
      centers = next;
      if (moved <= 1e-7 * span) break;
    }
  }
  const lut = new Float32Array(k);
  lut.set(round(Float32Array.from(centers)));
  // nearest entry: the table sorted (fp16 rounding keeps the order), midpoints between neighbours
  const m = centers.length,
    t = Float64Array.from(lut.subarray(0, m));
  const mids = Float64Array.from({ length: m - 1 }, (_, j) => (t[j] + t[j + 1]) / 2);
  const indices = new Uint8Array(Math.ceil((nbits * n) / 8));
  for (let i = 0; i < n; i++) {
    const idx = lowerBound(mids, w[i]);
    const bit = i * nbits;
    for (let b = 0; b < nbits; b++) if ((idx >> b) & 1) indices[(bit + b) >> 3] |= 1 << ((bit + b) & 7);
  }
  return { lut, indices };
}

/** constexpr_lut_to_dense's value: element k = lut[index k], indices unpacked LSB-first. */
export function unpalettize(lut: Float32Array, indices: Uint8Array, n: number): Float32Array {
  const nbits = Math.log2(lut.length),
    out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let idx = 0;
    const bit = i * nbits;
    for (let b = 0; b < nbits; b++) idx |= ((indices[(bit + b) >> 3] >> ((bit + b) & 7)) & 1) << b;
    out[i] = lut[idx];
  }
  return out;
}

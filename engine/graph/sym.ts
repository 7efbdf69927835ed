// Symbolic dimensions: a dimension (or a numeric attribute, such as a reshape target) that is a
// polynomial of the input's named sizes, e.g. `B`, `H/8`, `H*W*21/1024`. The tracer finds them by
// tracing at several sizes (engine/graph/trace.ts) and fitting each number that changes.

/** A multilinear polynomial in named sizes: monomial ('' | 'B' | 'H*W' ...) -> coefficient. */
export class Sym {
  readonly terms: ReadonlyMap<string, number>;
  constructor(terms: Map<string, number> | [string, number][]) {
    const m = new Map<string, number>();
    for (const [k, c] of terms) if (c !== 0) m.set(k, c);
    this.terms = m;
  }
  static of(name: string) {
    return new Sym([[name, 1]]);
  }
  /** The value for concrete sizes. */
  eval(env: Record<string, number>): number {
    let v = 0;
    for (const [mono, c] of this.terms) v += c * (mono ? mono.split('*').reduce((p, s) => p * need(env, s), 1) : 1);
    return Math.round(v * 1e6) / 1e6;
  }
  /** `H*W*21/1024 + 2`, `B`, `H/8` */
  toString(): string {
    const parts = [...this.terms]
      .sort(([a], [b]) => b.length - a.length || a.localeCompare(b))
      .map(([mono, c]) => {
        const [num, den] = fraction(Math.abs(c));
        const sign = c < 0 ? '-' : '+';
        const body = mono ? `${mono}${num !== 1 ? `*${num}` : ''}` : `${num}`;
        return `${sign} ${body}${den !== 1 ? `/${den}` : ''}`;
      });
    const s = parts.join(' ').replace(/^\+ /, '').replace(/^- /, '-');
    return s || '0';
  }
  toJSON() {
    return this.toString();
  }
}

function need(env: Record<string, number>, s: string) {
  const v = env[s];
  if (v === undefined) throw new Error(`Sym: no value for the size '${s}'`);
  return v;
}

/** c = num / den with den a power of two up to 2^24 (strides are powers of two), else a decimal. */
function fraction(c: number): [number, number] {
  for (let den = 1; den <= 1 << 24; den *= 2) {
    const num = c * den;
    if (Math.abs(num - Math.round(num)) < 1e-9) return [Math.round(num), den];
  }
  return [c, 1];
}

/** A dimension: a number, or a Sym when it depends on the named input sizes. */
export type Dim = number | Sym;

export const evalDim = (d: Dim, env: Record<string, number>) => (typeof d === 'number' ? d : d.eval(env));
export const dimString = (d: Dim) => (typeof d === 'number' ? String(d) : d.toString());

/** Every monomial of the symbols (subsets), '' first. */
export function monomials(symbols: string[]): string[] {
  const out: string[] = [];
  for (let mask = 0; mask < 1 << symbols.length; mask++) out.push(symbols.filter((_, i) => mask & (1 << i)).join('*'));
  return out;
}

/**
 * Fits a multilinear polynomial to values seen at sample points (one per monomial, in general
 * position: a 2-level grid works) and checks it on the extra points. Returns null when the values
 * do not follow one (e.g. a floor division by an odd size).
 */
export function fitSym(
  symbols: string[],
  points: Record<string, number>[],
  values: number[],
  nFit: number,
): Dim | null {
  const monos = monomials(symbols);
  if (values.every((v) => v === values[0])) return values[0];
  const row = (p: Record<string, number>) => monos.map((m) => (m ? m.split('*').reduce((a, s) => a * p[s], 1) : 1));
  // Gaussian elimination on the nFit x nFit system
  const A = points.slice(0, nFit).map((p, i) => [...row(p), values[i]]);
  const n = monos.length;
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(A[r][col]) > Math.abs(A[piv][col])) piv = r;
    [A[col], A[piv]] = [A[piv], A[col]];
    if (Math.abs(A[col][col]) < 1e-12) return null;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = A[r][col] / A[col][col];
      for (let k = col; k <= n; k++) A[r][k] -= f * A[col][k];
    }
  }
  const coef = monos.map((_, i) => {
    const c = A[i][n] / A[i][i];
    const [num, den] = fraction(Math.abs(c));
    return den <= 1 << 24 && Number.isInteger(num) ? (Math.sign(c) * num) / den : c;
  });
  const sym = new Sym(monos.map((m, i) => [m, coef[i]] as [string, number]));
  if (points.some((p, i) => Math.abs(sym.eval(p) - values[i]) > 1e-6)) return null;
  if (sym.terms.size === 1 && sym.terms.has('')) return sym.terms.get('')!;
  return sym;
}

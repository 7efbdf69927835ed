// Numbers printed the way Ultralytics' Python prints them.
//
// Imports: nothing.

/**
 * Python's "%.{precision}g" ("%g" is precision 6): that many significant digits, trailing zeros
 * dropped, exponent form when the decimal exponent is < -4 or >= precision ("1e-05", "1.23e+03").
 */
export function formatG(v: number, precision = 6): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mant, expStr] = v.toExponential(precision - 1).split('e'); // rounding decides the exponent, as in C
  const exp = Number(expStr);
  const strip = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (exp < -4 || exp >= precision)
    return `${strip(mant)}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return strip(v.toFixed(precision - 1 - exp));
}

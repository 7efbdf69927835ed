// Helpers shared by the WAT generators: the FMA of each build, the vector exp, and loop skeletons.
import type { WasmFeatures, WatFragment } from '../abi.js';

/** a * b + c on f32x4: one fused op in the relaxed build, mul + add in the plain one. */
export const fma = (f: WasmFeatures, a: string, b: string, c: string) =>
  f.relaxed ? `(f32x4.relaxed_madd ${a} ${b} ${c})` : `(f32x4.add (f32x4.mul ${a} ${b}) ${c})`;

export const splat = (v: number) => `(f32x4.splat (f32.const ${v}))`;
export const ONE = splat(1);
export const ZERO = '(v128.const i32x4 0 0 0 0)';
/** byte address of element i (f32) of the block at p */
export const at = (p: string, i: string) => `(i32.add (local.get ${p}) (i32.shl ${i} (i32.const 2)))`;

/**
 * $exp4: e^x per lane, Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, and the degree-7
 * Taylor polynomial (relative error ~1e-7, like a correctly rounded f32 exp to within ~2 ulp).
 * Overflow gives +inf, underflow below -87.34 gives 0 (no subnormals). Written for what V8 emits
 * on x64: n is rounded by adding 1.5 * 2^23 (whose float bits are then 0x4b400000 + n, so 2^n
 * comes from an integer add and shift) instead of f32x4.nearest + i32x4.trunc_sat, and the clamp
 * uses pmin/pmax (one minps/maxps each; f32x4.min/max's NaN and -0 rules take several
 * instructions), x first so that a NaN passes through (pmax(x, lo) = x < lo ? lo : x). Same n,
 * same results; u_exp 2.3 -> 1.5-1.6 ns per element on one thread.
 */
export const common: WatFragment = {
  name: 'common',
  wat: (f) => {
    const c = [1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5, 1, 1];
    let p = splat(c[0]);
    for (const k of c.slice(1)) p = fma(f, p, '(local.get $r)', splat(k));
    return `  (func $exp4 (param $x v128) (result v128) (local $n v128) (local $r v128) (local $y v128) (local $z v128)
    (local.set $r (f32x4.pmin (f32x4.pmax (local.get $x) ${splat(-87.33654)}) ${splat(88.37626)}))
    (local.set $z (f32x4.add (f32x4.mul (local.get $r) ${splat(1.4426950408889634)}) ${splat(12582912)}))
    (local.set $n (f32x4.sub (local.get $z) ${splat(12582912)}))
    (local.set $r (f32x4.sub (local.get $r) (f32x4.mul (local.get $n) ${splat(0.693359375)})))
    (local.set $r (f32x4.sub (local.get $r) (f32x4.mul (local.get $n) ${splat(-2.1219444e-4)})))
    (local.set $y (f32x4.mul ${p}
      (i32x4.shl (i32x4.add (local.get $z) (i32x4.splat (i32.const ${127 - 0x4b400000}))) (i32.const 23))))
    (local.set $y (v128.bitselect (v128.const f32x4 inf inf inf inf) (local.get $y) (f32x4.gt (local.get $x) ${splat(88.72283)})))
    (v128.bitselect ${ZERO} (local.get $y) (f32x4.lt (local.get $x) ${splat(-87.33654)})))
  (func (export "exp4_test") (param $a i32) (param $o i32) (param $n i32) (local $i i32)
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $i) (local.get $n)))
      (v128.store ${at('$o', '(local.get $i)')} (call $exp4 (v128.load ${at('$a', '(local.get $i)')})))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $l))))
`;
  },
};

/**
 * A loop over elements [i, end): 4 at a time through `vec` (a statement), then the rest one at a
 * time through `scalar`. Uses locals $i (i32) and $end (i32).
 */
export function vecLoop(vec: string, scalar: string, label: string): string {
  return `(block $${label}v (loop $${label}vl
      (br_if $${label}v (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $end)))
      ${vec}
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $${label}vl)))
    (block $${label}s (loop $${label}sl
      (br_if $${label}s (i32.ge_u (local.get $i) (local.get $end)))
      ${scalar}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $${label}sl)))`;
}

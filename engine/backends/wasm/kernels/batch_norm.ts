// batch_norm2d forward and backward (engine/ops/batch_norm2d.ts) on contiguous f32 (N, C, H, W),
// one task per channel: the channel's statistics and then its N planes, so threads write disjoint
// channels and a channel's numbers never depend on the thread count.
//
// Arithmetic follows the cpu reference (batch_norm2d.ts forwardCpu/backwardCpu): sums in f64,
// the per-channel scalars in f64, stored to the f32 state `chan` (8, C) rows; the elementwise
// passes in f64x2 on the f32-rounded state values, rounded once to f32, so they are bit-identical
// to the reference for the same state. Only the sums' order differs (two f64x2 accumulators
// instead of one running double), which can move a statistic by an ulp of f64 and, rarely, its
// f32 rounding by one ulp.
//
// act = 1 fuses SiLU (the Conv block's BN -> SiLU in training): the forward writes silu(z) for the
// normalized z instead of z, and the backward takes the gradient of silu(z): its sums pass
// recomputes z from x and chan (bit-identical to the forward's), uses gz = gy * silu'(z) where the
// plain kernel reads gy and parks gz in gx, which the gx pass then reads and overwrites. SiLU and
// its derivative are the elementwise kernels' formulas (u_silu, b_silu_backward), so the fused
// results equal batch_norm then silu on this device bit for bit; the forward's act pass goes four
// elements at a time (two f64x2 halves packed back into one f32x4).
//
//   batch_norm_fwd(x, y, chan, rm, rv, w, b, N, C, hw, training, update, eps, momentum, act, t0, t1)
//       rm/rv/w/b are byte pointers, 0 when absent; eps/momentum f64
//   batch_norm_bwd(x, gy, gx, chan, N, C, hw, training, act, t0, t1)     gx 0: only grad weight/bias
import type { WatFragment } from '../abi.js';
import { ONE } from './common.js';

const g = (n: string) => `(local.get $${n})`;
const f32at = (base: string, idx: string) => `(i32.add ${base} (i32.shl ${idx} (i32.const 2)))`;
/** f64 value of chan[row * C + c] */
const st = (row: number) =>
  `(f64.promote_f32 (f32.load ${f32at(g('chan'), `(i32.add (i32.mul (i32.const ${row}) ${g('C')}) ${g('c')})`)}))`;
const stSet = (row: number, v: string) =>
  `(f32.store ${f32at(g('chan'), `(i32.add (i32.mul (i32.const ${row}) ${g('C')}) ${g('c')})`)} (f32.demote_f64 ${v}))`;
/** byte address of plane (n, c) */
const plane = (base: string) =>
  `(i32.add ${g(base)} (i32.shl (i32.mul (i32.add (i32.mul ${g('n')} ${g('C')}) ${g('c')}) ${g('hw')}) (i32.const 2)))`;
// rows of chan, as ROW in batch_norm2d.ts
const R = { mean: 0, invstd: 1, scale: 2, shift: 3, mg: 4, mgx: 5, gw: 6, gb: 7 };

/** the high two f32 lanes of v moved low, for f64x2.promote_low_f32x4 */
const high = (v: string) => `(i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 ${v} ${v})`;

/** for n in [0, N): body (locals $n) */
const overPlanes = (body: string, label: string) => `(local.set $n (i32.const 0))
      (block $${label}d (loop $${label}l
        (br_if $${label}d (i32.ge_u ${g('n')} ${g('N')}))
        ${body}
        (local.set $n (i32.add ${g('n')} (i32.const 1)))
        (br $${label}l)))`;

/**
 * Elements [0, hw) of a plane two at a time (64-bit loads, f64x2 math, 64-bit stores), then the
 * odd one. `expr(load)` maps f64x2 inputs to the f64x2 result; `loads` are plane base locals.
 */
function pairs(loads: string[], out: string, expr: (ld: string[]) => string, label: string): string {
  const addr = (p: string) => f32at(g(p), g('i'));
  const pair = loads.map((p) => `(f64x2.promote_low_f32x4 (v128.load64_zero ${addr(p)}))`);
  const one = loads.map((p) => `(f64x2.splat (f64.promote_f32 (f32.load ${addr(p)})))`);
  return `(local.set $i (i32.const 0))
        (block $${label}d (loop $${label}l
          (br_if $${label}d (i32.gt_u (i32.add ${g('i')} (i32.const 2)) ${g('hw')}))
          (v128.store64_lane 0 ${addr(out)} (f32x4.demote_f64x2_zero ${expr(pair)}))
          (local.set $i (i32.add ${g('i')} (i32.const 2)))
          (br $${label}l)))
        (if (i32.lt_u ${g('i')} ${g('hw')})
          (then (f32.store ${addr(out)} (f32.demote_f64 (f64x2.extract_lane 0 ${expr(one)})))))`;
}

/**
 * Adds the plane's terms to the f64x2 accumulators $a0/$a1 (and $b0/$b1 when `term2`), four
 * elements per step; the last 1-3 elements go to the f64 scalars $s/$s2 (loaded as splats, lane 0
 * taken). `term(v)` maps promoted f64x2 element pairs of the locals listed in `ld` to the f64x2
 * term; `pre` runs after the loads (it may replace a $v_ local); `keep` names a plane pointer local
 * the last of `ld`'s values (after `pre`) is also stored to, when $gx is not 0.
 */
function sums(
  ld: string[],
  term: (v: Record<string, string>) => string,
  term2: ((v: Record<string, string>) => string) | null,
  label: string,
  pre = '',
  keep = '',
): string {
  const addr = (p: string) => f32at(g(p), g('i'));
  const half = (h: 0 | 1) =>
    Object.fromEntries(
      ld.map((p) => [
        p,
        h === 0
          ? `(f64x2.promote_low_f32x4 (local.get $v_${p}))`
          : `(f64x2.promote_low_f32x4 ${high(`(local.get $v_${p})`)})`,
      ]),
    );
  return `(local.set $i (i32.const 0))
        (block $${label}d (loop $${label}l
          (br_if $${label}d (i32.gt_u (i32.add ${g('i')} (i32.const 4)) ${g('hw')}))
          ${ld.map((p) => `(local.set $v_${p} (v128.load ${addr(p)}))`).join(' ')}
          ${pre}
          ${keep && `(if ${g('gx')} (then (v128.store ${addr(keep)} ${g(`v_${ld[ld.length - 1]}`)})))`}
          (local.set $a0 (f64x2.add ${g('a0')} ${term(half(0))}))
          (local.set $a1 (f64x2.add ${g('a1')} ${term(half(1))}))
          ${term2 ? `(local.set $b0 (f64x2.add ${g('b0')} ${term2(half(0))})) (local.set $b1 (f64x2.add ${g('b1')} ${term2(half(1))}))` : ''}
          (local.set $i (i32.add ${g('i')} (i32.const 4)))
          (br $${label}l)))
        (block $${label}td (loop $${label}tl
          (br_if $${label}td (i32.ge_u ${g('i')} ${g('hw')}))
          ${ld.map((p) => `(local.set $v_${p} (f32x4.splat (f32.load ${addr(p)})))`).join(' ')}
          ${pre}
          ${keep && `(if ${g('gx')} (then (f32.store ${addr(keep)} (f32x4.extract_lane 0 ${g(`v_${ld[ld.length - 1]}`)}))))`}
          (local.set $s (f64.add ${g('s')} (f64x2.extract_lane 0 ${term(half(0))})))
          ${term2 ? `(local.set $s2 (f64.add ${g('s2')} (f64x2.extract_lane 0 ${term2(half(0))})))` : ''}
          (local.set $i (i32.add ${g('i')} (i32.const 1)))
          (br $${label}tl)))`;
}

/**
 * Elements [0, hw) of a plane four at a time: the $v_ locals of `loads` from 128-bit loads, then
 * `expr` on the two promoted f64x2 halves, each rounded to f32 and packed back into one f32x4 ($r),
 * and `post` (an expression of $r) stored; the last 1-3 elements as splats, lane 0 stored.
 */
function quads(loads: string[], out: string, expr: (ld: string[]) => string, post: string, label: string) {
  const addr = (p: string) => f32at(g(p), g('i'));
  const lo = loads.map((p) => `(f64x2.promote_low_f32x4 (local.get $v_${p}))`);
  const hi = loads.map((p) => `(f64x2.promote_low_f32x4 ${high(`(local.get $v_${p})`)})`);
  const demote = (e: string) => `(f32x4.demote_f64x2_zero ${e})`;
  return `(local.set $i (i32.const 0))
        (block $${label}d (loop $${label}l
          (br_if $${label}d (i32.gt_u (i32.add ${g('i')} (i32.const 4)) ${g('hw')}))
          ${loads.map((p) => `(local.set $v_${p} (v128.load ${addr(p)}))`).join(' ')}
          (local.set $r (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 ${demote(expr(lo))} ${demote(expr(hi))}))
          (v128.store ${addr(out)} ${post})
          (local.set $i (i32.add ${g('i')} (i32.const 4)))
          (br $${label}l)))
        (block $${label}td (loop $${label}tl
          (br_if $${label}td (i32.ge_u ${g('i')} ${g('hw')}))
          ${loads.map((p) => `(local.set $v_${p} (f32x4.splat (f32.load ${addr(p)})))`).join(' ')}
          (local.set $r ${demote(expr(lo))})
          (f32.store ${addr(out)} (f32x4.extract_lane 0 ${post}))
          (local.set $i (i32.add ${g('i')} (i32.const 1)))
          (br $${label}tl)))`;
}

/** BN's output z = (x - mean) * scale + shift of promoted x pairs, in f64 (M, S, SH set) */
const normalized = (a: string) => `(f64x2.add (f64x2.mul (f64x2.sub ${a} ${g('M')}) ${g('S')}) ${g('SH')})`;
/** 1 / (1 + e^-v) as the elementwise kernels' sigmoid */
const sigm = (v: string) => `(f32x4.div ${ONE} (f32x4.add ${ONE} (call $exp4 (f32x4.neg ${v}))))`;
/** silu($r) as u_silu */
const SILU = `(f32x4.mul ${g('r')} ${sigm(g('r'))})`;
/**
 * $v_pg := gy * silu'(z) as b_silu_backward, z = f32(normalized x) from $v_px: the same values as
 * the forward's z (same f64 expression, same rounding).
 */
const SILU_GRAD = `(local.set $z (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero ${normalized(`(f64x2.promote_low_f32x4 ${g('v_px')})`)})
            (f32x4.demote_f64x2_zero ${normalized(`(f64x2.promote_low_f32x4 ${high(g('v_px'))})`)})))
          (local.set $v_pg (f32x4.mul (f32x4.mul ${g('v_pg')} (local.tee $sv ${sigm(g('z'))}))
            (f32x4.add ${ONE} (f32x4.mul ${g('z')} (f32x4.sub ${ONE} ${g('sv')})))))`;

/** gx = scale * (gy - mg - (x - mean) * invstd * mgx) of promoted (x, gy) pairs, in f64 */
const gradInput = ([a, gg]: string[]) =>
  `(f64x2.mul ${g('S')} (f64x2.sub (f64x2.sub ${gg} ${g('MG')}) (f64x2.mul (f64x2.mul (f64x2.sub ${a} ${g('M')}) ${g('IS')}) ${g('MGX')})))`;

const ZERO2 = '(v128.const f64x2 0 0)';
/** zeroes the accumulators: $s/$s2 are f64, the rest f64x2 */
const reset = (names: string[]) =>
  names.map((n) => `(local.set $${n} ${n === 's' || n === 's2' ? '(f64.const 0)' : ZERO2})`).join(' ');
/** total of the accumulators $a0 + $a1 + scalar $s (or $b0, $b1, $s2) */
const total = (a0: string, a1: string, s: string) =>
  `(f64.add (f64.add (f64x2.extract_lane 0 (local.tee $t (f64x2.add ${g(a0)} ${g(a1)}))) (f64x2.extract_lane 1 ${g('t')})) ${g(s)})`;

const LOCALS = `(local $c i32) (local $n i32) (local $i i32) (local $px i32) (local $py i32) (local $pg i32)
    (local $v_px v128) (local $v_pg v128) (local $a0 v128) (local $a1 v128) (local $b0 v128) (local $b1 v128) (local $t v128)
    (local $s f64) (local $s2 f64) (local $count f64) (local $mean f64) (local $var f64) (local $invstd f64)
    (local $M v128) (local $S v128) (local $SH v128) (local $IS v128) (local $MG v128) (local $MGX v128)
    (local $r v128) (local $z v128) (local $sv v128)`;

export const batchNorm: WatFragment = {
  name: 'batch_norm',
  wat: () => `  (func (export "batch_norm_fwd") (param $x i32) (param $y i32) (param $chan i32) (param $rm i32) (param $rv i32)
      (param $w i32) (param $b i32) (param $N i32) (param $C i32) (param $hw i32) (param $training i32) (param $update i32)
      (param $eps f64) (param $mom f64) (param $act i32) (param $t0 i32) (param $t1 i32)
    ${LOCALS}
    (local.set $count (f64.convert_i32_u (i32.mul ${g('N')} ${g('hw')})))
    (local.set $c ${g('t0')})
    (block $done (loop $chans
      (br_if $done (i32.ge_u ${g('c')} ${g('t1')}))
      (if ${g('training')}
        (then
          ;; mean = sum / count, var = sum((x - mean)^2) / count, in f64
          ${reset(['a0', 'a1', 's'])}
          ${overPlanes(`(local.set $px ${plane('x')}) ${sums(['px'], (v) => v.px, null, 'm')}`, 'mp')}
          (local.set $mean (f64.div ${total('a0', 'a1', 's')} ${g('count')}))
          (local.set $M (f64x2.splat ${g('mean')}))
          ${reset(['a0', 'a1', 's'])}
          ${overPlanes(`(local.set $px ${plane('x')}) ${sums(['px'], (v) => `(f64x2.mul (local.tee $t (f64x2.sub ${v.px} ${g('M')})) ${g('t')})`, null, 'v')}`, 'vp')}
          (local.set $s ${total('a0', 'a1', 's')})
          (local.set $var (f64.div ${g('s')} ${g('count')}))
          (if ${g('update')}
            (then
              (f32.store ${f32at(g('rm'), g('c'))} (f32.demote_f64 (f64.add
                (f64.mul (f64.sub (f64.const 1) ${g('mom')}) (f64.promote_f32 (f32.load ${f32at(g('rm'), g('c'))})))
                (f64.mul ${g('mom')} ${g('mean')}))))
              (f32.store ${f32at(g('rv'), g('c'))} (f32.demote_f64 (f64.add
                (f64.mul (f64.sub (f64.const 1) ${g('mom')}) (f64.promote_f32 (f32.load ${f32at(g('rv'), g('c'))})))
                (f64.mul ${g('mom')} (f64.div ${g('s')} (f64.sub ${g('count')} (f64.const 1))))))))))
        (else
          (local.set $mean (f64.promote_f32 (f32.load ${f32at(g('rm'), g('c'))})))
          (local.set $var (f64.promote_f32 (f32.load ${f32at(g('rv'), g('c'))})))))
      (local.set $invstd (f64.div (f64.const 1) (f64.sqrt (f64.add ${g('var')} ${g('eps')}))))
      ${stSet(R.mean, g('mean'))}
      ${stSet(R.invstd, g('invstd'))}
      ${stSet(R.scale, `(f64.mul (if (result f64) ${g('w')} (then (f64.promote_f32 (f32.load ${f32at(g('w'), g('c'))}))) (else (f64.const 1))) ${g('invstd')})`)}
      ${stSet(R.shift, `(if (result f64) ${g('b')} (then (f64.promote_f32 (f32.load ${f32at(g('b'), g('c'))}))) (else (f64.const 0)))`)}
      ;; y = (x - mean) * scale + shift on the stored f32 values, in f64 (as the reference)
      (local.set $M (f64x2.splat ${st(R.mean)}))
      (local.set $S (f64x2.splat ${st(R.scale)}))
      (local.set $SH (f64x2.splat ${st(R.shift)}))
      (if ${g('act')}
        (then
          ;; silu(z), z rounded to f32 first
          ${overPlanes(
            `(local.set $px ${plane('x')}) (local.set $py ${plane('y')})
            ${quads(['px'], 'py', ([a]) => normalized(a), SILU, 'ya')}`,
            'yap',
          )})
        (else
          ${overPlanes(
            `(local.set $px ${plane('x')}) (local.set $py ${plane('y')})
            ${pairs(['px'], 'py', ([a]) => normalized(a), 'y')}`,
            'yp',
          )}))
      (local.set $c (i32.add ${g('c')} (i32.const 1)))
      (br $chans))))
  (func (export "batch_norm_bwd") (param $x i32) (param $gy i32) (param $gx i32) (param $chan i32)
      (param $N i32) (param $C i32) (param $hw i32) (param $training i32) (param $act i32) (param $t0 i32) (param $t1 i32)
    ${LOCALS}
    (local.set $count (f64.convert_i32_u (i32.mul ${g('N')} ${g('hw')})))
    (local.set $c ${g('t0')})
    (block $done (loop $chans
      (br_if $done (i32.ge_u ${g('c')} ${g('t1')}))
      ;; sg = sum(gy), sgx = sum(gy * (x - mean)), in f64 (gy: the gradient of z, with act from silu's)
      (local.set $M (f64x2.splat ${st(R.mean)}))
      (local.set $S (f64x2.splat ${st(R.scale)}))
      (local.set $SH (f64x2.splat ${st(R.shift)}))
      ${reset(['a0', 'a1', 'b0', 'b1', 's', 's2'])}
      (if ${g('act')}
        (then
          ${overPlanes(
            `(local.set $px ${plane('x')}) (local.set $pg ${plane('gy')}) (local.set $py ${plane('gx')})
            ${sums(
              ['px', 'pg'],
              (v) => v.pg,
              (v) => `(f64x2.mul ${v.pg} (f64x2.sub ${v.px} ${g('M')}))`,
              'ga',
              SILU_GRAD,
              'py',
            )}`,
            'gap',
          )})
        (else
          ${overPlanes(
            `(local.set $px ${plane('x')}) (local.set $pg ${plane('gy')})
            ${sums(
              ['px', 'pg'],
              (v) => v.pg,
              (v) => `(f64x2.mul ${v.pg} (f64x2.sub ${v.px} ${g('M')}))`,
              'g',
            )}`,
            'gp',
          )}))
      (local.set $s ${total('a0', 'a1', 's')})
      (local.set $s2 (f64.mul ${total('b0', 'b1', 's2')} ${st(R.invstd)}))
      ${stSet(R.gw, g('s2'))}
      ${stSet(R.gb, g('s'))}
      ${stSet(R.mg, `(if (result f64) ${g('training')} (then (f64.div ${g('s')} ${g('count')})) (else (f64.const 0)))`)}
      ${stSet(R.mgx, `(if (result f64) ${g('training')} (then (f64.div ${g('s2')} ${g('count')})) (else (f64.const 0)))`)}
      (if ${g('gx')}
        (then
          ;; gx = scale * (gy - mg - (x - mean) * invstd * mgx) on the stored f32 values, in f64
          (local.set $IS (f64x2.splat ${st(R.invstd)}))
          (local.set $S (f64x2.splat ${st(R.scale)}))
          (local.set $MG (f64x2.splat ${st(R.mg)}))
          (local.set $MGX (f64x2.splat ${st(R.mgx)}))
          (if ${g('act')}
            (then
              ${overPlanes(
                `(local.set $px ${plane('x')}) (local.set $py ${plane('gx')})
                ${pairs(['px', 'py'], 'py', gradInput, 'xa')}`,
                'xap',
              )})
            (else
              ${overPlanes(
                `(local.set $px ${plane('x')}) (local.set $pg ${plane('gy')}) (local.set $py ${plane('gx')})
                ${pairs(['px', 'pg'], 'py', gradInput, 'x')}`,
                'xp',
              )}))))
      (local.set $c (i32.add ${g('c')} (i32.const 1)))
      (br $chans))))
`,
};

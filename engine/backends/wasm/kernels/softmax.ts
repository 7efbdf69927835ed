// softmax / log_softmax (engine/ops/softmax.ts) over the (outer, r, inner) view of a contiguous
// f32 tensor, forward and backward, and the fused DFL expectation (engine/ops/dfl.ts) with its
// backward. Two layouts for the softmax axis:
//   *_rows  inner = 1: one task per row, f32x4 along the row (horizontal max / sums at the end)
//   *_cols  inner > 1: tasks are (outer index, block of 64 columns), 4 columns per f32x4 lane group
//
// Arithmetic as the reference's: max in f32 (exact, NaN propagates like Math.max), x - max and
// e = exp(x - max) in f64 ($sm_exp: f64x2, within ~1 ulp of Math.exp), sums in f64, softmax =
// e / sum and log_softmax = (x - max) - log(sum) in f64 ($sm_log), each rounded once to f32. The
// column kernels add each lane's terms in the reference's order; the row kernels in 2 x 2 lanes,
// so a sum can differ in its last f64 bits (f32 results: equal but for rare rounding ties).
// (f32 exp would not do: DFL's backward multiplies by (i - y), which cancels near y.)
// Backward, from the forward's output y and the gradient g (each rounding as the cpu's tensor-op
// composition does, in f32):
//   softmax      dx = y * (g - f32(sum g*y))          log_softmax   dx = g - exp(y) * f32(sum g)
//
//   softmax_rows(x, y, r, log, t0, t1)          softmax_cols(x, y, r, inner, log, t0, t1)
//   softmax_bwd_rows(y, g, dx, r, log, t0, t1)  softmax_bwd_cols(y, g, dx, r, inner, log, t0, t1)
//
// DFL: out[b, s, a] = sum_i softmax_i(x[b, s*R + i, a]) * i over R bins (in f64, as the reference);
// x is read through element strides (stB, stC, stA) from a pointer that includes the view offset.
// Backward: gx[b, s*R + i, a] = (f32(p_i) * f32(i - out)) * g[b, s, a] (contiguous gx, out, g), the
// roundings of the reference's softmax-then-tensor-ops composition.
// Tasks: (b, s, block of 64 anchors). dfl_fwd32: the forward in f32 (exp4) for inference, where no
// backward will read it.
//   dfl_fwd(x, out, A, R, stB, stC, stA, t0, t1)          dfl_fwd32(same arguments)
//   dfl_bwd(x, out, g, gx, A, R, stB, stC, stA, t0, t1)
import type { WatFragment } from '../abi.js';

const g = (n: string) => `(local.get $${n})`;
const set = (n: string, v: string) => `(local.set $${n} ${v})`;
const inc = (n: string, by = 1) => set(n, `(i32.add ${g(n)} (i32.const ${by}))`);
const f32addr = (base: string, idx: string) => `(i32.add ${base} (i32.shl ${idx} (i32.const 2)))`;
const NEG_INF = '(v128.const f32x4 -inf -inf -inf -inf)';
const Z2 = '(v128.const f64x2 0 0)';
const high = (v: string) => `(i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 ${v} ${v})`;
const lo64 = (v: string) => `(f64x2.promote_low_f32x4 ${v})`;
const hi64 = (v: string) => `(f64x2.promote_low_f32x4 ${high(v)})`;
/** two f64x2 → one f32x4 (a's lanes low) */
const pack = (a: string, b: string) =>
  `(i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero ${a}) (f32x4.demote_f64x2_zero ${b}))`;
/** e^x on f64x2 */
const exp = (v: string) => `(call $sm_exp ${v})`;
/** e^v of an f32x4, rounded to f32 */
const exp32 = (v: string) => pack(exp(lo64(v)), exp(hi64(v)));
const hmax = (v: string) =>
  `(f32.max (f32.max (f32x4.extract_lane 0 ${v}) (f32x4.extract_lane 1 ${v})) (f32.max (f32x4.extract_lane 2 ${v}) (f32x4.extract_lane 3 ${v})))`;
const hsum = (a: string, b: string) =>
  `(f64.add (f64.add (f64x2.extract_lane 0 ${a}) (f64x2.extract_lane 1 ${a})) (f64.add (f64x2.extract_lane 0 ${b}) (f64x2.extract_lane 1 ${b})))`;

/** for k in [0, n): body; uses the i32 local named `k` */
const loop = (k: string, n: string, body: string, label: string) => `${set(k, '(i32.const 0)')}
      (block $${label}d (loop $${label}l
        (br_if $${label}d (i32.ge_u ${g(k)} ${n}))
        ${body}
        ${inc(k)}
        (br $${label}l)))`;

/**
 * Over a row's elements: `vec(i)` for i = 0, 4, ... while 4 fit, then `one(i)` for the rest.
 * Uses local $i.
 */
const rowLoop = (n: string, vec: string, one: string, label: string) => `${set('i', '(i32.const 0)')}
      (block $${label}vd (loop $${label}vl
        (br_if $${label}vd (i32.gt_u (i32.add ${g('i')} (i32.const 4)) ${n}))
        ${vec}
        ${inc('i', 4)}
        (br $${label}vl)))
      (block $${label}sd (loop $${label}sl
        (br_if $${label}sd (i32.ge_u ${g('i')} ${n}))
        ${one}
        ${inc('i')}
        (br $${label}sl)))`;

/** f64 natural log of a positive finite x (the sums here are >= 1): x = 2^e m, log m by atanh's series */
const LOG64 = `  (func $sm_log (param $x f64) (result f64) (local $e f64) (local $m f64) (local $z f64) (local $z2 f64) (local $p f64) (local $bits i64)
    (if (f64.ne ${g('x')} ${g('x')}) (then (return ${g('x')})))
    (if (f64.eq ${g('x')} (f64.const inf)) (then (return ${g('x')})))
    (local.set $bits (i64.reinterpret_f64 ${g('x')}))
    (local.set $e (f64.convert_i64_s (i64.sub (i64.shr_u ${g('bits')} (i64.const 52)) (i64.const 1023))))
    (local.set $m (f64.reinterpret_i64 (i64.or (i64.and ${g('bits')} (i64.const 0x000fffffffffffff)) (i64.const 0x3ff0000000000000))))
    (if (f64.gt ${g('m')} (f64.const 1.4142135623730951))
      (then (local.set $m (f64.mul ${g('m')} (f64.const 0.5))) (local.set $e (f64.add ${g('e')} (f64.const 1)))))
    (local.set $z (f64.div (f64.sub ${g('m')} (f64.const 1)) (f64.add ${g('m')} (f64.const 1))))
    (local.set $z2 (f64.mul ${g('z')} ${g('z')}))
    ;; log m = 2 z (1 + z2/3 + z2^2/5 + ...), |z| <= 0.1716: 13 terms reach 1e-19
    (local.set $p (f64.const ${1 / 27}))
    ${[25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1].map((d) => `(local.set $p (f64.add (f64.mul ${g('p')} ${g('z2')}) (f64.const ${1 / d})))`).join('\n    ')}
    (f64.add (f64.mul ${g('e')} (f64.const 0.6931471803691238))
      (f64.add (f64.mul ${g('e')} (f64.const 1.9082149292705877e-10)) (f64.mul (f64.mul (f64.const 2) ${g('z')}) ${g('p')}))))
`;

/**
 * e^x on f64x2: x = n ln2 + r, |r| <= ln2/2, degree-12 Taylor polynomial (error < 2e-16), times
 * 2^n from its exponent bits. Arguments below -708 give e^-708 (~3e-308, which rounds to 0 in
 * every f32 result and cannot move an f64 sum that holds e^0 = 1); NaN stays NaN.
 */
const EXP64 = `  (func $sm_exp (param $x v128) (result v128) (local $n v128) (local $r v128) (local $p v128)
    (local.set $x (f64x2.max ${g('x')} (f64x2.splat (f64.const -708))))
    (local.set $n (f64x2.nearest (f64x2.mul ${g('x')} (f64x2.splat (f64.const 1.4426950408889634)))))
    (local.set $r (f64x2.sub (f64x2.sub ${g('x')} (f64x2.mul ${g('n')} (f64x2.splat (f64.const 0.6931471803691238))))
      (f64x2.mul ${g('n')} (f64x2.splat (f64.const 1.9082149292705877e-10)))))
    (local.set $p (f64x2.splat (f64.const ${1 / 479001600})))
    ${[39916800, 3628800, 362880, 40320, 5040, 720, 120, 24, 6, 2, 1, 1].map((f) => `(local.set $p (f64x2.add (f64x2.mul ${g('p')} ${g('r')}) (f64x2.splat (f64.const ${1 / f}))))`).join('\n    ')}
    (f64x2.mul ${g('p')} (i64x2.shl (i64x2.add (i64x2.extend_low_i32x4_s (i32x4.trunc_sat_f64x2_s_zero ${g('n')}))
      (i64x2.splat (i64.const 1023))) (i32.const 52))))
`;

// ---- softmax, rows (inner = 1) -----------------------------------------------------------------

/** f64x2 adds of the two halves' terms to $lo / $hi */
const acc2 = (t0: string, t1: string) =>
  `${set('lo', `(f64x2.add ${g('lo')} ${t0})`)} ${set('hi', `(f64x2.add ${g('hi')} ${t1})`)}`;

function softmaxRows(): string {
  const at = (p: string) => f32addr(g(p), g('i'));
  const one = (p: string) => `(f32x4.splat (f32.load ${at(p)}))`;
  const ld = (p: string) => `(v128.load ${at(p)})`;
  // x - max of the 4 values v, each half in f64
  const d = (v: string, h: 0 | 1) => `(f64x2.sub ${h ? hi64(v) : lo64(v)} ${g('M2')})`;
  // y: log: (x - max) - log(sum); else e / sum
  const out = (v: string) =>
    `(if (result v128) ${g('log')}
        (then ${pack(`(f64x2.sub ${d(v, 0)} ${g('L2')})`, `(f64x2.sub ${d(v, 1)} ${g('L2')})`)})
        (else ${pack(`(f64x2.div ${exp(d(v, 0))} ${g('S2')})`, `(f64x2.div ${exp(d(v, 1))} ${g('S2')})`)}))`;
  return `  (func (export "softmax_rows") (param $x i32) (param $y i32) (param $r i32) (param $log i32) (param $t0 i32) (param $t1 i32)
    (local $o i32) (local $i i32) (local $px i32) (local $py i32) (local $s f64) (local $v v128)
    (local $M v128) (local $M2 v128) (local $L2 v128) (local $S2 v128) (local $lo v128) (local $hi v128)
    ${set('o', g('t0'))}
    (block $done (loop $rows
      (br_if $done (i32.ge_u ${g('o')} ${g('t1')}))
      ${set('px', f32addr(g('x'), `(i32.mul ${g('o')} ${g('r')})`))}
      ${set('py', f32addr(g('y'), `(i32.mul ${g('o')} ${g('r')})`))}
      ${set('M', NEG_INF)}
      ${rowLoop(g('r'), set('M', `(f32x4.max ${g('M')} ${ld('px')})`), set('M', `(f32x4.max ${g('M')} ${one('px')})`), 'mx')}
      ${set('M2', `(f64x2.splat (f64.promote_f32 ${hmax(g('M'))}))`)}
      ${set('lo', Z2)} ${set('hi', Z2)} ${set('s', '(f64.const 0)')}
      ${rowLoop(
        g('r'),
        `${set('v', ld('px'))} ${acc2(exp(d(g('v'), 0)), exp(d(g('v'), 1)))}`,
        set('s', `(f64.add ${g('s')} (f64x2.extract_lane 0 ${exp(d(one('px'), 0))}))`),
        'sm',
      )}
      ${set('s', `(f64.add ${hsum(g('lo'), g('hi'))} ${g('s')})`)}
      ${set('L2', `(f64x2.splat (call $sm_log ${g('s')}))`)}
      ${set('S2', `(f64x2.splat ${g('s')})`)}
      ${rowLoop(g('r'), `(v128.store ${at('py')} ${out(ld('px'))})`, `(f32.store ${at('py')} (f32x4.extract_lane 0 ${out(one('px'))}))`, 'wr')}
      ${inc('o')}
      (br $rows))))
`;
}

function softmaxBwdRows(): string {
  const at = (p: string) => f32addr(g(p), g('i'));
  const one = (p: string) => `(f32x4.splat (f32.load ${at(p)}))`;
  const ld = (p: string) => `(v128.load ${at(p)})`;
  // the summed term: g*y (softmax) or g (log_softmax)
  const term = (y: string, gg: string) => `(if (result v128) ${g('log')} (then ${gg}) (else (f32x4.mul ${gg} ${y})))`;
  const dx = (y: string, gg: string) =>
    `(if (result v128) ${g('log')} (then (f32x4.sub ${gg} (f32x4.mul ${exp32(y)} ${g('S')}))) (else (f32x4.mul ${y} (f32x4.sub ${gg} ${g('S')}))))`;
  return `  (func (export "softmax_bwd_rows") (param $y i32) (param $g i32) (param $dx i32) (param $r i32) (param $log i32) (param $t0 i32) (param $t1 i32)
    (local $o i32) (local $i i32) (local $py i32) (local $pg i32) (local $pd i32) (local $s f64)
    (local $S v128) (local $e v128) (local $lo v128) (local $hi v128)
    ${set('o', g('t0'))}
    (block $done (loop $rows
      (br_if $done (i32.ge_u ${g('o')} ${g('t1')}))
      ${set('py', f32addr(g('y'), `(i32.mul ${g('o')} ${g('r')})`))}
      ${set('pg', f32addr(g('g'), `(i32.mul ${g('o')} ${g('r')})`))}
      ${set('pd', f32addr(g('dx'), `(i32.mul ${g('o')} ${g('r')})`))}
      ${set('lo', Z2)} ${set('hi', Z2)} ${set('s', '(f64.const 0)')}
      ${rowLoop(
        g('r'),
        `${set('e', term(ld('py'), ld('pg')))} ${acc2(lo64(g('e')), hi64(g('e')))}`,
        set('s', `(f64.add ${g('s')} (f64.promote_f32 (f32x4.extract_lane 0 ${term(one('py'), one('pg'))})))`),
        'sm',
      )}
      ${set('S', `(f32x4.splat (f32.demote_f64 (f64.add ${hsum(g('lo'), g('hi'))} ${g('s')})))`)}
      ${rowLoop(g('r'), `(v128.store ${at('pd')} ${dx(ld('py'), ld('pg'))})`, `(f32.store ${at('pd')} (f32x4.extract_lane 0 ${dx(one('py'), one('pg'))}))`, 'wr')}
      ${inc('o')}
      (br $rows))))
`;
}

// ---- softmax, columns (inner > 1) --------------------------------------------------------------

/**
 * The column kernels' frame: task t = (outer o, block of 64 columns); within the block, groups of
 * 4 columns through `body(vec)`, then single columns through `body(one)`. `body` gets the column
 * index local $j and reads element (k, j) of the block at `base` through the mode's ld.
 */
interface ColMode {
  ld: (p: string, k: string) => string;
  st: (p: string, k: string, v: string) => string;
}
const colAddr = (p: string, k: string) => f32addr(g(p), `(i32.add (i32.mul ${k} ${g('inner')}) ${g('j')})`);
const VEC: ColMode = {
  ld: (p, k) => `(v128.load ${colAddr(p, k)})`,
  st: (p, k, v) => `(v128.store ${colAddr(p, k)} ${v})`,
};
const ONE: ColMode = {
  ld: (p, k) => `(f32x4.splat (f32.load ${colAddr(p, k)}))`,
  st: (p, k, v) => `(f32.store ${colAddr(p, k)} (f32x4.extract_lane 0 ${v}))`,
};
function colFrame(ptrs: string[], body: (m: ColMode) => string): string {
  return `(local.set $nb (i32.div_u (i32.add ${g('inner')} (i32.const 63)) (i32.const 64)))
    ${set('t', g('t0'))}
    (block $done (loop $tasks
      (br_if $done (i32.ge_u ${g('t')} ${g('t1')}))
      ${set('o', `(i32.div_u ${g('t')} ${g('nb')})`)}
      ${set('j', `(i32.shl (i32.rem_u ${g('t')} ${g('nb')}) (i32.const 6))`)}
      ${set('jend', `(i32.add ${g('j')} (i32.const 64))`)}
      (if (i32.gt_u ${g('jend')} ${g('inner')}) (then ${set('jend', g('inner'))}))
      ${ptrs.map((p) => set(`b${p}`, f32addr(g(p), `(i32.mul (i32.mul ${g('o')} ${g('r')}) ${g('inner')})`))).join(' ')}
      (block $vd (loop $vl
        (br_if $vd (i32.gt_u (i32.add ${g('j')} (i32.const 4)) ${g('jend')}))
        ${body(VEC)}
        ${inc('j', 4)}
        (br $vl)))
      (block $sd (loop $sl
        (br_if $sd (i32.ge_u ${g('j')} ${g('jend')}))
        ${body(ONE)}
        ${inc('j')}
        (br $sl)))
      ${inc('t')}
      (br $tasks)))`;
}
const COL_LOCALS = `(local $t i32) (local $nb i32) (local $o i32) (local $j i32) (local $jend i32) (local $k i32) (local $v v128)
    (local $M v128) (local $M0 v128) (local $M1 v128) (local $S v128) (local $e v128) (local $lo v128) (local $hi v128) (local $L0 v128) (local $L1 v128)`;

function softmaxCols(): string {
  const body = (m: ColMode) => {
    const K = g('k');
    const d0 = `(f64x2.sub ${lo64(g('v'))} ${g('M0')})`,
      d1 = `(f64x2.sub ${hi64(g('v'))} ${g('M1')})`;
    const out = `(if (result v128) ${g('log')}
          (then ${pack(`(f64x2.sub ${d0} ${g('L0')})`, `(f64x2.sub ${d1} ${g('L1')})`)})
          (else ${pack(`(f64x2.div ${exp(d0)} ${g('lo')})`, `(f64x2.div ${exp(d1)} ${g('hi')})`)}))`;
    const log2 = (v: string) =>
      `(f64x2.replace_lane 1 (f64x2.splat (call $sm_log (f64x2.extract_lane 0 ${v}))) (call $sm_log (f64x2.extract_lane 1 ${v})))`;
    return `${set('M', NEG_INF)}
        ${loop('k', g('r'), set('M', `(f32x4.max ${g('M')} ${m.ld('bx', K)})`), 'mx')}
        ${set('M0', lo64(g('M')))} ${set('M1', hi64(g('M')))}
        ${set('lo', Z2)} ${set('hi', Z2)}
        ${loop('k', g('r'), `${set('v', m.ld('bx', K))} ${acc2(exp(d0), exp(d1))}`, 'sm')}
        (if ${g('log')} (then ${set('L0', log2(g('lo')))} ${set('L1', log2(g('hi')))}))
        ${loop('k', g('r'), `${set('v', m.ld('bx', K))} ${m.st('by', K, out)}`, 'wr')}`;
  };
  return `  (func (export "softmax_cols") (param $x i32) (param $y i32) (param $r i32) (param $inner i32) (param $log i32) (param $t0 i32) (param $t1 i32)
    ${COL_LOCALS} (local $bx i32) (local $by i32)
    ${colFrame(['x', 'y'], body)})
`;
}

function softmaxBwdCols(): string {
  const body = (m: ColMode) => {
    const K = g('k');
    const term = `(if (result v128) ${g('log')} (then ${m.ld('bg', K)}) (else (f32x4.mul ${m.ld('bg', K)} ${m.ld('by', K)})))`;
    const dx = `(if (result v128) ${g('log')}
          (then (f32x4.sub ${m.ld('bg', K)} (f32x4.mul ${exp32(m.ld('by', K))} ${g('S')})))
          (else (f32x4.mul ${m.ld('by', K)} (f32x4.sub ${m.ld('bg', K)} ${g('S')}))))`;
    return `${set('lo', Z2)} ${set('hi', Z2)}
        ${loop('k', g('r'), `${set('e', term)} ${acc2(lo64(g('e')), hi64(g('e')))}`, 'sm')}
        ${set('S', pack(g('lo'), g('hi')))}
        ${loop('k', g('r'), m.st('bdx', K, dx), 'wr')}`;
  };
  return `  (func (export "softmax_bwd_cols") (param $y i32) (param $g i32) (param $dx i32) (param $r i32) (param $inner i32) (param $log i32) (param $t0 i32) (param $t1 i32)
    ${COL_LOCALS} (local $by i32) (local $bg i32) (local $bdx i32)
    ${colFrame(['y', 'g', 'dx'], body)})
`;
}

// ---- DFL ---------------------------------------------------------------------------------------

/** The DFL frame: task t = ((b * 4 + s) * nb + block); 4 anchors per group, then single anchors. */
function dflFrame(body: (vec: boolean) => string): string {
  return `(local.set $nb (i32.div_u (i32.add ${g('A')} (i32.const 63)) (i32.const 64)))
    ${set('t', g('t0'))}
    (block $done (loop $tasks
      (br_if $done (i32.ge_u ${g('t')} ${g('t1')}))
      ${set('bs', `(i32.div_u ${g('t')} ${g('nb')})`)}
      ${set('a', `(i32.shl (i32.rem_u ${g('t')} ${g('nb')}) (i32.const 6))`)}
      ${set('aend', `(i32.add ${g('a')} (i32.const 64))`)}
      (if (i32.gt_u ${g('aend')} ${g('A')}) (then ${set('aend', g('A'))}))
      ;; x element (b, s*R, 0) of the view
      ${set('base', `(i32.add (i32.mul (i32.shr_u ${g('bs')} (i32.const 2)) ${g('stB')}) (i32.mul (i32.mul (i32.and ${g('bs')} (i32.const 3)) ${g('R')}) ${g('stC')}))`)}
      (block $vd (loop $vl
        (br_if $vd (i32.gt_u (i32.add ${g('a')} (i32.const 4)) ${g('aend')}))
        ${body(true)}
        ${inc('a', 4)}
        (br $vl)))
      (block $sd (loop $sl
        (br_if $sd (i32.ge_u ${g('a')} ${g('aend')}))
        ${body(false)}
        ${inc('a')}
        (br $sl)))
      ${inc('t')}
      (br $tasks)))`;
}
/** x at bin i for the group's anchors: one v128 load when anchors are contiguous, else 4 lane loads */
function dflLoad(vec: boolean): string {
  const el = (lane: number) =>
    f32addr(
      g('x'),
      `(i32.add (i32.add ${g('base')} (i32.mul ${g('i')} ${g('stC')})) (i32.mul (i32.add ${g('a')} (i32.const ${lane})) ${g('stA')}))`,
    );
  if (!vec) return `(f32x4.splat (f32.load ${el(0)}))`;
  let gather = `(f32x4.splat (f32.load ${el(0)}))`;
  for (const l of [1, 2, 3]) gather = `(f32x4.replace_lane ${l} ${gather} (f32.load ${el(l)}))`;
  return `(if (result v128) (i32.eq ${g('stA')} (i32.const 1)) (then (v128.load ${el(0)})) (else ${gather}))`;
}
const DFL_LOCALS = `(local $t i32) (local $nb i32) (local $bs i32) (local $a i32) (local $aend i32) (local $base i32) (local $i i32)
    (local $v v128) (local $M v128) (local $M0 v128) (local $M1 v128) (local $e0 v128) (local $e1 v128) (local $fi v128)
    (local $tot0 v128) (local $tot1 v128) (local $w0 v128) (local $w1 v128)`;
/** e0/e1 = exp(x - max) of bin i (two f64x2 halves of the anchor group) */
const dflExp = (vec: boolean) => `${set('v', dflLoad(vec))}
          ${set('e0', exp(`(f64x2.sub ${lo64(g('v'))} ${g('M0')})`))}
          ${set('e1', exp(`(f64x2.sub ${hi64(g('v'))} ${g('M1')})`))}`;
/** max over the bins (f32), then in f64 per lane in bin order: tot = sum of e, w = sum of e * i */
const dflSums = (vec: boolean) => `${set('M', NEG_INF)}
        ${loop('i', g('R'), set('M', `(f32x4.max ${g('M')} ${dflLoad(vec)})`), 'mx')}
        ${set('M0', lo64(g('M')))} ${set('M1', hi64(g('M')))}
        ${set('tot0', Z2)} ${set('tot1', Z2)} ${set('w0', Z2)} ${set('w1', Z2)}
        ${loop(
          'i',
          g('R'),
          `${dflExp(vec)}
          ${set('fi', `(f64x2.splat (f64.convert_i32_u ${g('i')}))`)}
          ${set('tot0', `(f64x2.add ${g('tot0')} ${g('e0')})`)} ${set('tot1', `(f64x2.add ${g('tot1')} ${g('e1')})`)}
          ${set('w0', `(f64x2.add ${g('w0')} (f64x2.mul ${g('e0')} ${g('fi')}))`)} ${set('w1', `(f64x2.add ${g('w1')} (f64x2.mul ${g('e1')} ${g('fi')}))`)}`,
          'sm',
        )}`;
/** element (bs, a) of a contiguous (B, 4, A) tensor */
const outAddr = (p: string) => f32addr(g(p), `(i32.add (i32.mul ${g('bs')} ${g('A')}) ${g('a')})`);

function dflFwd(): string {
  const body = (vec: boolean) => {
    const y = pack(`(f64x2.div ${g('w0')} ${g('tot0')})`, `(f64x2.div ${g('w1')} ${g('tot1')})`);
    return `${dflSums(vec)}
        ${vec ? `(v128.store ${outAddr('out')} ${y})` : `(f32.store ${outAddr('out')} (f32x4.extract_lane 0 ${y}))`}`;
  };
  return `  (func (export "dfl_fwd") (param $x i32) (param $out i32) (param $A i32) (param $R i32) (param $stB i32) (param $stC i32) (param $stA i32) (param $t0 i32) (param $t1 i32)
    ${DFL_LOCALS}
    ${dflFrame(body)})
`;
}

/**
 * The inference form (no gradient will be taken): the same sums in f32 with $exp4 (the elementwise
 * kernels' exp), four anchors per f32x4, within a few f32 ulps of the f64 reference and ~4x cheaper.
 */
function dflFwd32(): string {
  const body = (vec: boolean) => {
    const e = `(call $exp4 (f32x4.sub ${dflLoad(vec)} ${g('M')}))`;
    const y = `(f32x4.div ${g('w0')} ${g('tot0')})`;
    return `${set('M', NEG_INF)}
        ${loop('i', g('R'), set('M', `(f32x4.max ${g('M')} ${dflLoad(vec)})`), 'mx')}
        ${set('tot0', '(v128.const f32x4 0 0 0 0)')} ${set('w0', '(v128.const f32x4 0 0 0 0)')}
        ${loop(
          'i',
          g('R'),
          `${set('v', e)}
          ${set('tot0', `(f32x4.add ${g('tot0')} ${g('v')})`)}
          ${set('w0', `(f32x4.add ${g('w0')} (f32x4.mul ${g('v')} (f32x4.splat (f32.convert_i32_u ${g('i')}))))`)}`,
          'sm',
        )}
        ${vec ? `(v128.store ${outAddr('out')} ${y})` : `(f32.store ${outAddr('out')} (f32x4.extract_lane 0 ${y}))`}`;
  };
  return `  (func (export "dfl_fwd32") (param $x i32) (param $out i32) (param $A i32) (param $R i32) (param $stB i32) (param $stC i32) (param $stA i32) (param $t0 i32) (param $t1 i32)
    ${DFL_LOCALS}
    ${dflFrame(body)})
`;
}

function dflBwd(): string {
  const body = (vec: boolean) => {
    const ld = (p: string) => (vec ? `(v128.load ${outAddr(p)})` : `(f32x4.splat (f32.load ${outAddr(p)}))`);
    // gx element (bs*R + i, a) of the contiguous (B, 4R, A) gradient
    const gxAddr = f32addr(
      g('gx'),
      `(i32.add (i32.mul (i32.add (i32.mul ${g('bs')} ${g('R')}) ${g('i')}) ${g('A')}) ${g('a')})`,
    );
    const p = pack(`(f64x2.div ${g('e0')} ${g('tot0')})`, `(f64x2.div ${g('e1')} ${g('tot1')})`);
    const v = `(f32x4.mul (f32x4.mul ${p} (f32x4.sub (f32x4.splat (f32.convert_i32_u ${g('i')})) ${g('Y')})) ${g('G')})`;
    return `${dflSums(vec)}
        ${set('Y', ld('out'))} ${set('G', ld('g'))}
        ${loop('i', g('R'), `${dflExp(vec)} ${vec ? `(v128.store ${gxAddr} ${v})` : `(f32.store ${gxAddr} (f32x4.extract_lane 0 ${v}))`}`, 'gx')}`;
  };
  return `  (func (export "dfl_bwd") (param $x i32) (param $out i32) (param $g i32) (param $gx i32) (param $A i32) (param $R i32) (param $stB i32) (param $stC i32) (param $stA i32) (param $t0 i32) (param $t1 i32)
    ${DFL_LOCALS} (local $Y v128) (local $G v128)
    ${dflFrame(body)})
`;
}

export const softmax: WatFragment = {
  name: 'softmax',
  wat: () =>
    LOG64 +
    EXP64 +
    softmaxRows() +
    softmaxBwdRows() +
    softmaxCols() +
    softmaxBwdCols() +
    dflFwd() +
    dflFwd32() +
    dflBwd(),
};

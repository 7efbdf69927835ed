// Elementwise kernels, one per table row of engine/ops/elementwise.ts that has a SIMD form here.
// Same formulas as the cpu reference (sigmoid = 1 / (1 + e^-x), silu = x * sigmoid(x)), in f32.
// Three layouts, all over contiguous f32 blocks; tasks are 1024-element chunks or rows:
//   u_OP(a, o, n, alpha, beta, t0, t1)              y = op(a)           chunks of 1024
//   b_OP(a, b, o, n, alpha, beta, t0, t1)           y = op(a, b)        chunks of 1024
//   bc_OP(a, b, o, inner, C, alpha, beta, t0, t1)   y[r, j] = op(a[r, j], b[r % C])   rows
//   cb_OP(a, b, o, inner, C, alpha, beta, t0, t1)   y[r, j] = op(a[r % C], b[r, j])   rows
import type { WatFragment } from '../abi.js';
import { at, ONE, ZERO } from './common.js';

const X = '(local.get $x)',
  Y = '(local.get $y)',
  AL = '(local.get $al)',
  BE = '(local.get $be)';
const exp = (e: string) => `(call $exp4 ${e})`;
const sigm = (e: string) => `(f32x4.div ${ONE} (f32x4.add ${ONE} ${exp(`(f32x4.neg ${e})`)}))`;
const mask = (cmp: string) => `(v128.and ${cmp} ${ONE})`;

export const UNARY_WAT: Record<string, string> = {
  identity: X,
  neg: `(f32x4.neg ${X})`,
  abs: `(f32x4.abs ${X})`,
  sqrt: `(f32x4.sqrt ${X})`,
  floor: `(f32x4.floor ${X})`,
  ceil: `(f32x4.ceil ${X})`,
  round: `(f32x4.nearest ${X})`,
  reciprocal: `(f32x4.div ${ONE} ${X})`,
  exp: exp(X),
  sigmoid: sigm(X),
  relu: `(f32x4.max ${X} ${ZERO})`,
  silu: `(f32x4.mul ${X} ${sigm(X)})`,
  clamp: `(f32x4.min (f32x4.max ${X} ${AL}) ${BE})`,
  add_scalar: `(f32x4.add ${X} ${AL})`,
  mul_scalar: `(f32x4.mul ${X} ${AL})`,
  div_scalar: `(f32x4.div ${X} ${AL})`,
  rsub_scalar: `(f32x4.sub ${AL} ${X})`,
  rdiv_scalar: `(f32x4.div ${AL} ${X})`,
  not: mask(`(f32x4.eq ${X} ${ZERO})`),
};

export const BINARY_WAT: Record<string, string> = {
  add: `(f32x4.add ${X} ${Y})`,
  sub: `(f32x4.sub ${X} ${Y})`,
  mul: `(f32x4.mul ${X} ${Y})`,
  div: `(f32x4.div ${X} ${Y})`,
  maximum: `(f32x4.max ${X} ${Y})`,
  minimum: `(f32x4.min ${X} ${Y})`,
  eq: mask(`(f32x4.eq ${X} ${Y})`),
  ne: mask(`(f32x4.ne ${X} ${Y})`),
  lt: mask(`(f32x4.lt ${X} ${Y})`),
  le: mask(`(f32x4.le ${X} ${Y})`),
  gt: mask(`(f32x4.gt ${X} ${Y})`),
  ge: mask(`(f32x4.ge ${X} ${Y})`),
  sigmoid_backward: `(f32x4.mul (f32x4.mul ${Y} ${X}) (f32x4.sub ${ONE} ${X}))`,
  silu_backward: `(f32x4.mul (f32x4.mul ${Y} (local.tee $s ${sigm(X)})) (f32x4.add ${ONE} (f32x4.mul ${X} (f32x4.sub ${ONE} (local.get $s)))))`,
  relu_backward: `(v128.and ${Y} (f32x4.gt ${X} ${ZERO}))`,
};

const LOCALS =
  '(local $i i32) (local $end i32) (local $x v128) (local $y v128) (local $s v128) (local $al v128) (local $be v128)';
const SPLATS = '(local.set $al (f32x4.splat (local.get $alpha))) (local.set $be (f32x4.splat (local.get $beta)))';

/** body over elements [i, end) of the row/chunk: x from xv/xs, y from yv/ys, stored at o */
function loop(expr: string, x: [string, string], y: [string, string] | null): string {
  const ld = (v: [string, string] | null, name: string, vec: boolean) =>
    v ? `(local.set ${name} ${vec ? v[0] : v[1]})` : '';
  return `(block $dv (loop $lv
      (br_if $dv (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $end)))
      ${ld(x, '$x', true)} ${ld(y, '$y', true)}
      (v128.store ${at('$o', '(local.get $i)')} ${expr})
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $lv)))
    (block $ds (loop $ls
      (br_if $ds (i32.ge_u (local.get $i) (local.get $end)))
      ${ld(x, '$x', false)} ${ld(y, '$y', false)}
      (f32.store ${at('$o', '(local.get $i)')} (f32x4.extract_lane 0 ${expr}))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $ls)))`;
}

const full = (p: string): [string, string] => [
  `(v128.load ${at(p, '(local.get $i)')})`,
  `(f32x4.splat (f32.load ${at(p, '(local.get $i)')}))`,
];
const CHUNK = `(local.set $i (i32.shl (local.get $t0) (i32.const 10)))
    (local.set $end (i32.shl (local.get $t1) (i32.const 10)))
    (if (i32.lt_u (local.get $n) (local.get $end)) (then (local.set $end (local.get $n))))`;

function unary(op: string, expr: string): string {
  return `  (func (export "u_${op}") (param $a i32) (param $o i32) (param $n i32) (param $alpha f32) (param $beta f32) (param $t0 i32) (param $t1 i32) ${LOCALS}
    ${SPLATS}
    ${CHUNK}
    ${loop(expr, full('$a'), null)})
`;
}

function binary(op: string, expr: string): string {
  const rows = (name: string, perChannel: 'a' | 'b') => {
    const ch = `(local.set $c (i32.rem_u (local.get $r) (local.get $C)))`;
    const bc = (p: string): [string, string] => [
      `(local.get ${p === '$a' ? '$x' : '$y'})`,
      `(local.get ${p === '$a' ? '$x' : '$y'})`,
    ];
    const pre =
      perChannel === 'b'
        ? '(local.set $y (f32x4.splat (f32.load (i32.add (local.get $b) (i32.shl (local.get $c) (i32.const 2))))))'
        : '(local.set $x (f32x4.splat (f32.load (i32.add (local.get $a) (i32.shl (local.get $c) (i32.const 2))))))';
    // rows address elements base + j; shift the block pointers so `at(p, i)` works with i = base + j
    return `  (func (export "${name}_${op}") (param $a i32) (param $b i32) (param $o i32) (param $inner i32) (param $C i32) (param $alpha f32) (param $beta f32) (param $t0 i32) (param $t1 i32) ${LOCALS} (local $r i32) (local $c i32)
    ${SPLATS}
    (local.set $r (local.get $t0))
    (block $done (loop $rows
      (br_if $done (i32.ge_u (local.get $r) (local.get $t1)))
      ${ch} ${pre}
      (local.set $i (i32.mul (local.get $r) (local.get $inner)))
      (local.set $end (i32.add (local.get $i) (local.get $inner)))
      ${loop(expr, perChannel === 'b' ? full('$a') : bc('$a'), perChannel === 'b' ? bc('$b') : full('$b'))}
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows))))
`;
  };
  return `  (func (export "b_${op}") (param $a i32) (param $b i32) (param $o i32) (param $n i32) (param $alpha f32) (param $beta f32) (param $t0 i32) (param $t1 i32) ${LOCALS}
    ${SPLATS}
    ${CHUNK}
    ${loop(expr, full('$a'), full('$b'))})
${rows('bc', 'b')}${rows('cb', 'a')}`;
}

export const elementwise: WatFragment = {
  name: 'elementwise',
  wat: () =>
    Object.entries(UNARY_WAT)
      .map(([k, e]) => unary(k, e))
      .join('') +
    Object.entries(BINARY_WAT)
      .map(([k, e]) => binary(k, e))
      .join(''),
};

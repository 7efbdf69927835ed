// max / min with the position of the winner (engine/ops/reduce.ts) over the (outer, r, inner)
// view of a contiguous f32 tensor, one task per outer index. The reference's rule exactly: start
// from k = 0 and take k only when strictly greater (smaller), so ties keep the first position and
// a NaN is never picked unless it comes first (then it stays).
//   rext(x, vals, idx, r, inner, isMin, t0, t1)
// inner >= 4: f32x4 over 4 columns at a time (compare, select values and positions); the rest of
// the columns and inner = 1 rows: scalar.
import type { WatFragment } from '../abi.js';

const g = (n: string) => `(local.get $${n})`;
const addr = (base: string, idx: string) => `(i32.add ${g(base)} (i32.shl ${idx} (i32.const 2)))`;

export const reduceExtremum: WatFragment = {
  name: 'reduce_extremum',
  wat: () => `  (func (export "rext") (param $x i32) (param $vals i32) (param $idx i32) (param $r i32) (param $inner i32) (param $isMin i32)
      (param $t0 i32) (param $t1 i32)
    (local $o i32) (local $j i32) (local $k i32) (local $base i32) (local $n4 i32)
    (local $vb v128) (local $vv v128) (local $vi v128) (local $m v128) (local $b f32) (local $v f32) (local $bi i32)
    (local.set $n4 (i32.and ${g('inner')} (i32.const -4)))
    (local.set $o ${g('t0')})
    (block $done (loop $outer
      (br_if $done (i32.ge_u ${g('o')} ${g('t1')}))
      (local.set $base (i32.mul (i32.mul ${g('o')} ${g('r')}) ${g('inner')}))
      (local.set $j (i32.const 0))
      (block $jd (loop $jl
        (br_if $jd (i32.ge_u ${g('j')} ${g('n4')}))
        (local.set $vb (v128.load ${addr('x', `(i32.add ${g('base')} ${g('j')})`)}))
        (local.set $vi (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 1))
        (block $kd (loop $kl
          (br_if $kd (i32.ge_u ${g('k')} ${g('r')}))
          (local.set $vv (v128.load ${addr('x', `(i32.add (i32.add ${g('base')} (i32.mul ${g('k')} ${g('inner')})) ${g('j')})`)}))
          (local.set $m (if (result v128) ${g('isMin')} (then (f32x4.lt ${g('vv')} ${g('vb')})) (else (f32x4.gt ${g('vv')} ${g('vb')}))))
          (local.set $vb (v128.bitselect ${g('vv')} ${g('vb')} ${g('m')}))
          (local.set $vi (v128.bitselect (i32x4.splat ${g('k')}) ${g('vi')} ${g('m')}))
          (local.set $k (i32.add ${g('k')} (i32.const 1)))
          (br $kl)))
        (v128.store ${addr('vals', `(i32.add (i32.mul ${g('o')} ${g('inner')}) ${g('j')})`)} ${g('vb')})
        (v128.store ${addr('idx', `(i32.add (i32.mul ${g('o')} ${g('inner')}) ${g('j')})`)} ${g('vi')})
        (local.set $j (i32.add ${g('j')} (i32.const 4)))
        (br $jl)))
      (block $sd (loop $sl
        (br_if $sd (i32.ge_u ${g('j')} ${g('inner')}))
        (local.set $b (f32.load ${addr('x', `(i32.add ${g('base')} ${g('j')})`)}))
        (local.set $bi (i32.const 0))
        (local.set $k (i32.const 1))
        (block $kd2 (loop $kl2
          (br_if $kd2 (i32.ge_u ${g('k')} ${g('r')}))
          (local.set $v (f32.load ${addr('x', `(i32.add (i32.add ${g('base')} (i32.mul ${g('k')} ${g('inner')})) ${g('j')})`)}))
          (if (if (result i32) ${g('isMin')} (then (f32.lt ${g('v')} ${g('b')})) (else (f32.gt ${g('v')} ${g('b')})))
            (then (local.set $b ${g('v')}) (local.set $bi ${g('k')})))
          (local.set $k (i32.add ${g('k')} (i32.const 1)))
          (br $kl2)))
        (f32.store ${addr('vals', `(i32.add (i32.mul ${g('o')} ${g('inner')}) ${g('j')})`)} ${g('b')})
        (i32.store ${addr('idx', `(i32.add (i32.mul ${g('o')} ${g('inner')}) ${g('j')})`)} ${g('bi')})
        (local.set $j (i32.add ${g('j')} (i32.const 1)))
        (br $sl)))
      (local.set $o (i32.add ${g('o')} (i32.const 1)))
      (br $outer))))
`,
};

// Sum reductions over the (outer, r, inner) view of a contiguous tensor (engine/ops/reduce.ts):
//   rsum_rows(x, out, r, scale, t0, t1)         inner = 1: out[o] = scale * sum_k x[o*r + k]
//       (one task per row; f64x2 accumulators, like the cpu reference's double sum)
//   rsum_cols(x, out, r, inner, scale, t0, t1)  out[o, j] = scale * sum_k x[(o*r + k)*inner + j]
//       (one task per outer index; f32x4 running sums over k, meant for short r)
import type { WatFragment } from '../abi.js';

const g = (n: string) => `(local.get $${n})`;
const addr = (base: string, idx: string) => `(i32.add ${g(base)} (i32.shl ${idx} (i32.const 2)))`;

export const reduce: WatFragment = {
  name: 'reduce',
  wat: () => `  (func (export "rsum_rows") (param $x i32) (param $out i32) (param $r i32) (param $scale f32) (param $t0 i32) (param $t1 i32)
    (local $o i32) (local $k i32) (local $row i32) (local $v v128) (local $lo v128) (local $hi v128) (local $s f64)
    (local.set $o ${g('t0')})
    (block $done (loop $rows
      (br_if $done (i32.ge_u ${g('o')} ${g('t1')}))
      (local.set $row (i32.add ${g('x')} (i32.shl (i32.mul ${g('o')} ${g('r')}) (i32.const 2))))
      (local.set $lo (v128.const i64x2 0 0))
      (local.set $hi (v128.const i64x2 0 0))
      (local.set $k (i32.const 0))
      (block $vd (loop $vl
        (br_if $vd (i32.gt_u (i32.add ${g('k')} (i32.const 4)) ${g('r')}))
        (local.set $v (v128.load ${addr('row', g('k'))}))
        (local.set $lo (f64x2.add ${g('lo')} (f64x2.promote_low_f32x4 ${g('v')})))
        (local.set $hi (f64x2.add ${g('hi')} (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 ${g('v')} ${g('v')}))))
        (local.set $k (i32.add ${g('k')} (i32.const 4)))
        (br $vl)))
      (local.set $lo (f64x2.add ${g('lo')} ${g('hi')}))
      (local.set $s (f64.add (f64x2.extract_lane 0 ${g('lo')}) (f64x2.extract_lane 1 ${g('lo')})))
      (block $sd (loop $sl
        (br_if $sd (i32.ge_u ${g('k')} ${g('r')}))
        (local.set $s (f64.add ${g('s')} (f64.promote_f32 (f32.load ${addr('row', g('k'))}))))
        (local.set $k (i32.add ${g('k')} (i32.const 1)))
        (br $sl)))
      (f32.store ${addr('out', g('o'))} (f32.demote_f64 (f64.mul ${g('s')} (f64.promote_f32 ${g('scale')}))))
      (local.set $o (i32.add ${g('o')} (i32.const 1)))
      (br $rows))))
  (func (export "rsum_cols") (param $x i32) (param $out i32) (param $r i32) (param $inner i32) (param $scale f32) (param $t0 i32) (param $t1 i32)
    (local $o i32) (local $k i32) (local $j i32) (local $dst i32) (local $src i32) (local $n4 i32)
    (local.set $n4 (i32.and ${g('inner')} (i32.const -4)))
    (local.set $o ${g('t0')})
    (block $done (loop $outer
      (br_if $done (i32.ge_u ${g('o')} ${g('t1')}))
      (local.set $dst (i32.add ${g('out')} (i32.shl (i32.mul ${g('o')} ${g('inner')}) (i32.const 2))))
      (memory.fill ${g('dst')} (i32.const 0) (i32.shl ${g('inner')} (i32.const 2)))
      (local.set $k (i32.const 0))
      (block $kd (loop $kl
        (br_if $kd (i32.ge_u ${g('k')} ${g('r')}))
        (local.set $src (i32.add ${g('x')} (i32.shl (i32.mul (i32.add (i32.mul ${g('o')} ${g('r')}) ${g('k')}) ${g('inner')}) (i32.const 2))))
        (local.set $j (i32.const 0))
        (block $jd (loop $jl
          (br_if $jd (i32.ge_u ${g('j')} ${g('n4')}))
          (v128.store ${addr('dst', g('j'))} (f32x4.add (v128.load ${addr('dst', g('j'))}) (v128.load ${addr('src', g('j'))})))
          (local.set $j (i32.add ${g('j')} (i32.const 4)))
          (br $jl)))
        (block $td (loop $tl
          (br_if $td (i32.ge_u ${g('j')} ${g('inner')}))
          (f32.store ${addr('dst', g('j'))} (f32.add (f32.load ${addr('dst', g('j'))}) (f32.load ${addr('src', g('j'))})))
          (local.set $j (i32.add ${g('j')} (i32.const 1)))
          (br $tl)))
        (local.set $k (i32.add ${g('k')} (i32.const 1)))
        (br $kl)))
      (if (f32.ne ${g('scale')} (f32.const 1))
        (then
          (local.set $j (i32.const 0))
          (block $sd (loop $sl
            (br_if $sd (i32.ge_u ${g('j')} ${g('inner')}))
            (f32.store ${addr('dst', g('j'))} (f32.mul (f32.load ${addr('dst', g('j'))}) ${g('scale')}))
            (local.set $j (i32.add ${g('j')} (i32.const 1)))
            (br $sl)))))
      (local.set $o (i32.add ${g('o')} (i32.const 1)))
      (br $outer))))
`,
};

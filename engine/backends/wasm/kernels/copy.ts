// Strided copy at rank 4 (views collapse to at most 4 dims first): contiguous(), writes into views,
// concat. One task per row of the innermost dim; a contiguous innermost dim on both sides is one
// memory.copy.
//   zero(p, bytes)   memory.fill, for fresh tensors
//   copy4(src, dst, d0, d1, d2, d3, s0, s1, s2, s3, o0, o1, o2, o3, t0, t1)   (element strides)
import type { WatFragment } from '../abi.js';

const g = (n: string) => `(local.get $${n})`;

export const copy: WatFragment = {
  name: 'copy',
  wat: () => `  (func (export "zero") (param $p i32) (param $bytes i32)
    (memory.fill (local.get $p) (i32.const 0) (local.get $bytes)))
  (func (export "copy4") (param $src i32) (param $dst i32) (param $d0 i32) (param $d1 i32) (param $d2 i32) (param $d3 i32)
      (param $s0 i32) (param $s1 i32) (param $s2 i32) (param $s3 i32) (param $o0 i32) (param $o1 i32) (param $o2 i32) (param $o3 i32)
      (param $t0 i32) (param $t1 i32)
    (local $r i32) (local $i0 i32) (local $i1 i32) (local $i2 i32) (local $sp i32) (local $dp i32) (local $j i32)
    (local.set $r ${g('t0')})
    (block $done (loop $rows
      (br_if $done (i32.ge_u ${g('r')} ${g('t1')}))
      (local.set $i2 (i32.rem_u ${g('r')} ${g('d2')}))
      (local.set $i1 (i32.rem_u (i32.div_u ${g('r')} ${g('d2')}) ${g('d1')}))
      (local.set $i0 (i32.div_u (i32.div_u ${g('r')} ${g('d2')}) ${g('d1')}))
      (local.set $sp (i32.add ${g('src')} (i32.shl (i32.add (i32.add (i32.mul ${g('i0')} ${g('s0')}) (i32.mul ${g('i1')} ${g('s1')})) (i32.mul ${g('i2')} ${g('s2')})) (i32.const 2))))
      (local.set $dp (i32.add ${g('dst')} (i32.shl (i32.add (i32.add (i32.mul ${g('i0')} ${g('o0')}) (i32.mul ${g('i1')} ${g('o1')})) (i32.mul ${g('i2')} ${g('o2')})) (i32.const 2))))
      (if (i32.and (i32.eq ${g('s3')} (i32.const 1)) (i32.eq ${g('o3')} (i32.const 1)))
        (then (memory.copy ${g('dp')} ${g('sp')} (i32.shl ${g('d3')} (i32.const 2))))
        (else
          (local.set $j (i32.const 0))
          (block $jd (loop $jl
            (br_if $jd (i32.ge_u ${g('j')} ${g('d3')}))
            (i32.store (i32.add ${g('dp')} (i32.shl (i32.mul ${g('j')} ${g('o3')}) (i32.const 2)))
              (i32.load (i32.add ${g('sp')} (i32.shl (i32.mul ${g('j')} ${g('s3')}) (i32.const 2)))))
            (local.set $j (i32.add ${g('j')} (i32.const 1)))
            (br $jl)))))
      (local.set $r (i32.add ${g('r')} (i32.const 1)))
      (br $rows))))
`,
};

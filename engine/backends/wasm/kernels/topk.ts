// topk on wasm (engine/ops/topk.ts): one task per row (an (outer, inner) position, the row read
// at stride inner). The row's elements are visited in index order and inserted into the sorted
// output list of at most k entries (values and i32 positions, at stride inner), after every entry
// that comes before them: the reference's order exactly (larger first, or smaller; NaN above every
// number; equal values by position, so a later equal element goes after). An element that does
// not come before the k-th entry is skipped with one comparison, so random rows cost ~r compares.
//   topk_rows(x, vals, idx, r, inner, k, largest, t0, t1)
import type { WatFragment } from '../abi.js';

const g = (n: string) => `(local.get $${n})`;
const addr = (base: string, idx: string) => `(i32.add ${g(base)} (i32.shl ${idx} (i32.const 2)))`;
/** byte address of output entry p of the current row */
const entry = (base: string, p: string) => addr(base, `(i32.add ${g('ob')} (i32.mul ${p} ${g('inner')}))`);

export const topk: WatFragment = {
  name: 'topk',
  wat: () => `  (func $before (param $v f32) (param $i i32) (param $w f32) (param $j i32) (param $largest i32) (result i32)
    (local $nv i32) (local $nw i32) (local $larger i32)
    (local.set $nv (f32.ne ${g('v')} ${g('v')}))
    (local.set $nw (f32.ne ${g('w')} ${g('w')}))
    (if (i32.or (i32.and ${g('nv')} ${g('nw')}) (f32.eq ${g('v')} ${g('w')}))
      (then (return (i32.lt_s ${g('i')} ${g('j')}))))
    (local.set $larger (if (result i32) (i32.or ${g('nv')} ${g('nw')}) (then ${g('nv')}) (else (f32.gt ${g('v')} ${g('w')}))))
    (if (result i32) ${g('largest')} (then ${g('larger')}) (else (i32.eqz ${g('larger')}))))
  (func (export "topk_rows") (param $x i32) (param $vals i32) (param $idx i32) (param $r i32) (param $inner i32) (param $k i32)
      (param $largest i32) (param $t0 i32) (param $t1 i32)
    (local $t i32) (local $oo i32) (local $ii i32) (local $base i32) (local $ob i32) (local $n i32) (local $i i32) (local $p i32)
    (local $v f32) (local $km1 i32)
    (local.set $km1 (i32.sub ${g('k')} (i32.const 1)))
    (local.set $t ${g('t0')})
    (block $done (loop $rows
      (br_if $done (i32.ge_u ${g('t')} ${g('t1')}))
      (local.set $oo (i32.div_u ${g('t')} ${g('inner')}))
      (local.set $ii (i32.rem_u ${g('t')} ${g('inner')}))
      (local.set $base (i32.add (i32.mul (i32.mul ${g('oo')} ${g('r')}) ${g('inner')}) ${g('ii')}))
      (local.set $ob (i32.add (i32.mul (i32.mul ${g('oo')} ${g('k')}) ${g('inner')}) ${g('ii')}))
      (local.set $n (i32.const 0))
      (local.set $i (i32.const 0))
      (block $id (loop $il
        (br_if $id (i32.ge_u ${g('i')} ${g('r')}))
        (local.set $v (f32.load ${addr('x', `(i32.add ${g('base')} (i32.mul ${g('i')} ${g('inner')}))`)}))
        (block $skip
          (if (i32.eq ${g('n')} ${g('k')})
            (then
              (br_if $skip (i32.eqz (call $before ${g('v')} ${g('i')} (f32.load ${entry('vals', g('km1'))}) (i32.load ${entry('idx', g('km1'))}) ${g('largest')})))
              (local.set $p ${g('km1')}))
            (else
              (local.set $p ${g('n')})
              (local.set $n (i32.add ${g('n')} (i32.const 1)))))
          ;; shift the entries that come after (v, i) down by one
          (block $sd (loop $sl
            (br_if $sd (i32.eqz ${g('p')}))
            (br_if $sd (i32.eqz (call $before ${g('v')} ${g('i')}
              (f32.load ${entry('vals', `(i32.sub ${g('p')} (i32.const 1))`)}) (i32.load ${entry('idx', `(i32.sub ${g('p')} (i32.const 1))`)}) ${g('largest')})))
            (f32.store ${entry('vals', g('p'))} (f32.load ${entry('vals', `(i32.sub ${g('p')} (i32.const 1))`)}))
            (i32.store ${entry('idx', g('p'))} (i32.load ${entry('idx', `(i32.sub ${g('p')} (i32.const 1))`)}))
            (local.set $p (i32.sub ${g('p')} (i32.const 1)))
            (br $sl)))
          (f32.store ${entry('vals', g('p'))} ${g('v')})
          (i32.store ${entry('idx', g('p'))} ${g('i')}))
        (local.set $i (i32.add ${g('i')} (i32.const 1)))
        (br $il)))
      (local.set $t (i32.add ${g('t')} (i32.const 1)))
      (br $rows))))
`,
};

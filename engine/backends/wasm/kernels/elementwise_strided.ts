// Elementwise kernels over strided views (rank ≤ 4 after merging dims), for the layouts the
// contiguous/per-channel kernels of elementwise.ts do not take: narrow views of a concat's or a
// C2f split's gradient, the residual add of a split half, broadcasts over more than one axis.
// Same expressions (UNARY_WAT / BINARY_WAT), so the same results as those kernels.
//   su_OP(a, o, d0..d3, a0..a3, o0..o3, alpha, beta, t0, t1)                y = op(a)
//   sb_OP(a, b, o, d0..d3, a0..a3, b0..b3, o0..o3, alpha, beta, t0, t1)     y = op(a, b)
// d: the 4 dims, a/b/o: element strides. One task per row of the innermost dim d3. A row is f32x4
// when the output's inner stride is 1 and each operand's is 1 (loads) or 0 (one splat per row);
// otherwise, and for the tail, one element at a time through lane 0.
import type { WatFragment } from '../abi.js';
import { BINARY_WAT, UNARY_WAT } from './elementwise.js';

const g = (n: string) => `(local.get $${n})`;
const dims = ['0', '1', '2', '3'];
const params = (p: string) => dims.map((k) => `(param $${p}${k} i32)`).join(' ');
/** byte address of row r's first element for operand p: p + 4 * (i0 * p0 + i1 * p1 + i2 * p2) */
const rowPtr = (p: string) =>
  `(local.set $p${p} (i32.add ${g(p)} (i32.shl (i32.add (i32.add (i32.mul ${g('i0')} ${g(p + '0')}) (i32.mul ${g('i1')} ${g(p + '1')})) (i32.mul ${g('i2')} ${g(p + '2')})) (i32.const 2))))`;
/** element j of operand p's row, at inner stride p3 */
const elem = (p: string) => `(i32.add ${g('p' + p)} (i32.shl (i32.mul ${g('j')} ${g(p + '3')}) (i32.const 2)))`;

function kernel(name: string, operands: string[], expr: string): string {
  const vars: Record<string, string> = { a: 'x', b: 'y' };
  const vecOk = operands.map((p) => `(i32.le_u ${g(p + '3')} (i32.const 1))`).reduce((s, c) => `(i32.and ${s} ${c})`);
  return `  (func (export "${name}") ${operands.map((p) => `(param $${p} i32)`).join(' ')} (param $o i32) ${params('d')}
      ${operands.map(params).join(' ')} ${params('o')} (param $alpha f32) (param $beta f32) (param $t0 i32) (param $t1 i32)
    (local $r i32) (local $q i32) (local $i0 i32) (local $i1 i32) (local $i2 i32) (local $j i32) (local $vec i32)
    ${operands.map((p) => `(local $p${p} i32) (local $${vars[p]}s v128)`).join(' ')} (local $po i32)
    (local $x v128) (local $y v128) (local $s v128) (local $al v128) (local $be v128)
    (local.set $al (f32x4.splat ${g('alpha')})) (local.set $be (f32x4.splat ${g('beta')}))
    (local.set $vec (i32.and (i32.eq ${g('o3')} (i32.const 1)) ${vecOk}))
    (local.set $r ${g('t0')})
    (block $done (loop $rows
      (br_if $done (i32.ge_u ${g('r')} ${g('t1')}))
      (local.set $i2 (i32.rem_u ${g('r')} ${g('d2')}))
      (local.set $q (i32.div_u ${g('r')} ${g('d2')}))
      (local.set $i1 (i32.rem_u ${g('q')} ${g('d1')}))
      (local.set $i0 (i32.div_u ${g('q')} ${g('d1')}))
      ${operands.map(rowPtr).join(' ')} ${rowPtr('o')}
      (local.set $j (i32.const 0))
      (if ${g('vec')} (then
        ${operands.map((p) => `(local.set $${vars[p]}s (v128.load32_splat ${g('p' + p)}))`).join(' ')}
        (block $vd (loop $vl
          (br_if $vd (i32.gt_u (i32.add ${g('j')} (i32.const 4)) ${g('d3')}))
          ${operands
            .map(
              (p) =>
                `(local.set $${vars[p]} (if (result v128) ${g(p + '3')} (then (v128.load ${elem(p)})) (else ${g(vars[p] + 's')})))`,
            )
            .join(' ')}
          (v128.store ${elem('o')} ${expr})
          (local.set $j (i32.add ${g('j')} (i32.const 4)))
          (br $vl)))))
      (block $sd (loop $sl
        (br_if $sd (i32.ge_u ${g('j')} ${g('d3')}))
        ${operands.map((p) => `(local.set $${vars[p]} (f32x4.splat (f32.load ${elem(p)})))`).join(' ')}
        (f32.store ${elem('o')} (f32x4.extract_lane 0 ${expr}))
        (local.set $j (i32.add ${g('j')} (i32.const 1)))
        (br $sl)))
      (local.set $r (i32.add ${g('r')} (i32.const 1)))
      (br $rows))))
`;
}

export const elementwiseStrided: WatFragment = {
  name: 'elementwise_strided',
  wat: () =>
    Object.entries(UNARY_WAT)
      .map(([k, e]) => kernel(`su_${k}`, ['a'], e))
      .join('') +
    Object.entries(BINARY_WAT)
      .map(([k, e]) => kernel(`sb_${k}`, ['a', 'b'], e))
      .join(''),
};

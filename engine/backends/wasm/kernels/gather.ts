// gather / index_select and scatter_add on wasm (engine/ops/gather.ts, scatter_add.ts). The
// index's dims other than the gather axis are merged to at most 3 (d0, d1, d2); one task is one
// fibre along the axis (k = 0 .. n), so tasks touch disjoint outputs: a scatter's colliding adds
// all come from one fibre and are summed in increasing k, the cpu reference's order (bit-identical
// at any thread count, no atomics). Values move as raw 32-bit words (f32 or i32 alike); ranges
// are checked by the op before the launch. Element strides throughout.
//   gather_ax(x, idx, out, d0, d1, d2, n, xs0, xs1, xs2, is0, is1, is2, isk, os0, os1, os2, osk, axs, t0, t1)
//       out[.., k] = x[.. + idx[.., k] * axs]
//   scatter_add_ax(out, idx, src, d0, d1, d2, n, os0, os1, os2, is0, is1, is2, isk, ss0, ss1, ss2, ssk, axs, int, t0, t1)
//       out[.. + idx[.., k] * axs] += src[.., k]   (f32 adds, or i32 when int != 0)
import type { WatFragment } from '../abi.js';

const g = (n: string) => `(local.get $${n})`;
const P = (names: string[]) => names.map((n) => `(param $${n} i32)`).join(' ');
const addr = (base: string, idx: string) => `(i32.add ${g(base)} (i32.shl ${idx} (i32.const 2)))`;
/** row base of operand p (strides p0, p1, p2) at (i0, i1, i2) */
const rowOf = (p: string, base: string) =>
  `(local.set $r${p} ${addr(base, `(i32.add (i32.add (i32.mul ${g('i0')} ${g(p + '0')}) (i32.mul ${g('i1')} ${g(p + '1')})) (i32.mul ${g('i2')} ${g(p + '2')}))`)})`;

function fibres(name: string, params: string[], rows: string, body: string, extra = '') {
  return `  (func (export "${name}") ${P(params)}
    (local $t i32) (local $q i32) (local $i0 i32) (local $i1 i32) (local $i2 i32) (local $k i32) (local $j i32)
    (local $rx i32) (local $ri i32) (local $ro i32) (local $rs i32) ${extra}
    (local.set $t ${g('t0')})
    (block $done (loop $tasks
      (br_if $done (i32.ge_u ${g('t')} ${g('t1')}))
      (local.set $i2 (i32.rem_u ${g('t')} ${g('d2')}))
      (local.set $q (i32.div_u ${g('t')} ${g('d2')}))
      (local.set $i1 (i32.rem_u ${g('q')} ${g('d1')}))
      (local.set $i0 (i32.div_u ${g('q')} ${g('d1')}))
      ${rows}
      (local.set $k (i32.const 0))
      (block $kd (loop $kl
        (br_if $kd (i32.ge_u ${g('k')} ${g('n')}))
        (local.set $j (i32.load ${addr('ri', `(i32.mul ${g('k')} ${g('isk')})`)}))
        ${body}
        (local.set $k (i32.add ${g('k')} (i32.const 1)))
        (br $kl)))
      (local.set $t (i32.add ${g('t')} (i32.const 1)))
      (br $tasks))))
`;
}

export const gather: WatFragment = {
  name: 'gather',
  wat: () =>
    fibres(
      'gather_ax',
      [
        'x',
        'idx',
        'out',
        'd0',
        'd1',
        'd2',
        'n',
        'x0',
        'x1',
        'x2',
        'i0s',
        'i1s',
        'i2s',
        'isk',
        'o0',
        'o1',
        'o2',
        'osk',
        'axs',
        't0',
        't1',
      ],
      `${rowOf('x', 'x')} ${rowOf('o', 'out')}
      (local.set $ri ${addr('idx', `(i32.add (i32.add (i32.mul ${g('i0')} ${g('i0s')}) (i32.mul ${g('i1')} ${g('i1s')})) (i32.mul ${g('i2')} ${g('i2s')}))`)})`,
      `(i32.store ${addr('ro', `(i32.mul ${g('k')} ${g('osk')})`)} (i32.load ${addr('rx', `(i32.mul ${g('j')} ${g('axs')})`)}))`,
    ) +
    fibres(
      'scatter_add_ax',
      [
        'out',
        'idx',
        'src',
        'd0',
        'd1',
        'd2',
        'n',
        'o0',
        'o1',
        'o2',
        'i0s',
        'i1s',
        'i2s',
        'isk',
        's0',
        's1',
        's2',
        'ssk',
        'axs',
        'int',
        't0',
        't1',
      ],
      `${rowOf('o', 'out')} ${rowOf('s', 'src')}
      (local.set $ri ${addr('idx', `(i32.add (i32.add (i32.mul ${g('i0')} ${g('i0s')}) (i32.mul ${g('i1')} ${g('i1s')})) (i32.mul ${g('i2')} ${g('i2s')}))`)})`,
      `(local.set $a ${addr('ro', `(i32.mul ${g('j')} ${g('axs')})`)})
        (local.set $b ${addr('rs', `(i32.mul ${g('k')} ${g('ssk')})`)})
        (if ${g('int')}
          (then (i32.store ${g('a')} (i32.add (i32.load ${g('a')}) (i32.load ${g('b')}))))
          (else (f32.store ${g('a')} (f32.add (f32.load ${g('a')}) (f32.load ${g('b')})))))`,
      '(local $a i32) (local $b i32)',
    ),
};

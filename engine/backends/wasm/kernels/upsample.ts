// upsample_nearest2d forward (engine/ops/upsample_nearest2d.ts, the compiled forward's upsample
// step) with integer scales: one task per input row. The row is widened once into the first of its
// sh output rows (sw = 2: four inputs load as one f32x4 and leave as two shuffles [a a b b],
// [c c d d]; other scales element by element), then copied into the other sh - 1 rows.
// A plain copy of values: bit-identical to the cpu reference.
//   upsample(x, out, h, w, sh, sw, oplane, t0, t1)
//       x: contiguous planes of h x w; out: planes of (h sh) x (w sw) rows, oplane elements apart
//       (h sh w sw when contiguous; more when the output is a channel slice of a larger image).
//       Tasks: input rows, plane-major (t = plane * h + iy).
import type { WatFragment } from '../abi.js';

const g = (n: string) => `(local.get $${n})`;
const set = (n: string, v: string) => `(local.set $${n} ${v})`;
const inc = (n: string, by = '(i32.const 1)') => set(n, `(i32.add ${g(n)} ${by})`);

export const upsample: WatFragment = {
  name: 'upsample',
  wat: () => `  (func (export "upsample") (param $x i32) (param $out i32) (param $h i32) (param $w i32) (param $sh i32) (param $sw i32)
      (param $oplane i32) (param $t0 i32) (param $t1 i32)
    (local $t i32) (local $src i32) (local $dst i32) (local $ow4 i32) (local $j i32) (local $k i32) (local $v v128) (local $f f32)
    ${set('ow4', `(i32.shl (i32.mul ${g('w')} ${g('sw')}) (i32.const 2))`)}
    ${set('t', g('t0'))}
    (block $done (loop $rows
      (br_if $done (i32.ge_u ${g('t')} ${g('t1')}))
      ${set('src', `(i32.add ${g('x')} (i32.shl (i32.mul ${g('t')} ${g('w')}) (i32.const 2)))`)}
      ;; plane (t / h) at oplane, input row (t % h) -> output row (t % h) * sh
      ${set(
        'dst',
        `(i32.add ${g('out')} (i32.add (i32.shl (i32.mul (i32.div_u ${g('t')} ${g('h')}) ${g('oplane')}) (i32.const 2))
          (i32.mul (i32.mul (i32.rem_u ${g('t')} ${g('h')}) ${g('sh')}) ${g('ow4')})))`,
      )}
      ${set('j', '(i32.const 0)')}
      (if (i32.eq ${g('sw')} (i32.const 2)) (then
        (block $vd (loop $vl
          (br_if $vd (i32.gt_u (i32.add ${g('j')} (i32.const 4)) ${g('w')}))
          ${set('v', `(v128.load (i32.add ${g('src')} (i32.shl ${g('j')} (i32.const 2))))`)}
          (v128.store (i32.add ${g('dst')} (i32.shl ${g('j')} (i32.const 3)))
            (i8x16.shuffle 0 1 2 3 0 1 2 3 4 5 6 7 4 5 6 7 ${g('v')} ${g('v')}))
          (v128.store offset=16 (i32.add ${g('dst')} (i32.shl ${g('j')} (i32.const 3)))
            (i8x16.shuffle 8 9 10 11 8 9 10 11 12 13 14 15 12 13 14 15 ${g('v')} ${g('v')}))
          ${inc('j', '(i32.const 4)')}
          (br $vl)))))
      ;; the rest of the row (all of it when sw != 2): each input repeated sw times
      (block $sd (loop $sl
        (br_if $sd (i32.ge_u ${g('j')} ${g('w')}))
        ${set('f', `(f32.load (i32.add ${g('src')} (i32.shl ${g('j')} (i32.const 2))))`)}
        ${set('k', '(i32.const 0)')}
        (block $kd (loop $kl
          (br_if $kd (i32.ge_u ${g('k')} ${g('sw')}))
          (f32.store (i32.add ${g('dst')} (i32.shl (i32.add (i32.mul ${g('j')} ${g('sw')}) ${g('k')}) (i32.const 2))) ${g('f')})
          ${inc('k')}
          (br $kl)))
        ${inc('j')}
        (br $sl)))
      ;; output rows 1 .. sh-1 of this input row repeat row 0
      ${set('k', '(i32.const 1)')}
      (block $rd (loop $rl
        (br_if $rd (i32.ge_u ${g('k')} ${g('sh')}))
        (memory.copy (i32.add ${g('dst')} (i32.mul ${g('k')} ${g('ow4')})) ${g('dst')} ${g('ow4')})
        ${inc('k')}
        (br $rl)))
      ${inc('t')}
      (br $rows))))
`,
};

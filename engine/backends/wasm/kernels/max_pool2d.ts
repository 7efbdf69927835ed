// max_pool2d forward without indices (inference; SPPF's 5x5 stride-1 pools): one task per
// (n, c) plane. With stride 1, four neighbouring outputs go through f32x4.max (NaN propagates, like
// the reference):
//   - kernel width <= 5, dilation 1 along the row (SPPF): the 8 columns under the four windows are
//     max-reduced down the window's rows first (two v128 per row), then across: the windows'
//     kw shifts of that pair by i8x16.shuffle. 2 loads per row instead of kw.
//   - otherwise one v128 load per tap.
// Where the columns run past the row (the padding at its edges) they are gathered lane by lane,
// clamped into the row, and lanes outside it take -inf, as the padding does. Other strides and the
// last OW % 4 outputs of a row take the scalar loop.
//   maxpool(x, out, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, t0, t1)
import type { WatFragment } from '../abi.js';

const g = (n: string) => `(local.get $${n})`;
const inc = (n: string, by = '(i32.const 1)') => `(local.set $${n} (i32.add ${g(n)} ${by}))`;
const NEG_INF = '(v128.const f32x4 -inf -inf -inf -inf)';
const ZERO = '(v128.const i32x4 0 0 0 0)';
/** x[iy][cols[l]] for the 4 lanes of the i32x4 local `cols` (row pointer $rowp), -inf where `valid` is 0 */
const gather = (cols: string, valid: string) =>
  `(v128.bitselect ${[1, 2, 3].reduce(
    (v, l) => `(f32x4.replace_lane ${l} ${v} ${lane(cols, l)})`,
    `(f32x4.splat ${lane(cols, 0)})`,
  )} ${NEG_INF} ${g(valid)})`;
const lane = (cols: string, l: number) =>
  `(f32.load (i32.add ${g('rowp')} (i32.shl (i32x4.extract_lane ${l} ${g(cols)}) (i32.const 2))))`;
/** columns `first` + 0..3 as i32x4 into `cols` (clamped into [0, W)) and `valid` (inside [0, W)) */
const columns = (first: string, cols: string, valid: string) =>
  `(local.set $${cols} (i32x4.add (i32x4.splat ${first}) (v128.const i32x4 0 1 2 3)))
                (local.set $${valid} (v128.and (i32x4.ge_s ${g(cols)} ${ZERO}) (i32x4.lt_s ${g(cols)} (i32x4.splat ${g('W')}))))
                (local.set $${cols} (i32x4.min_s (i32x4.max_s ${g(cols)} ${ZERO}) (i32x4.splat (i32.sub ${g('W')} (i32.const 1)))))`;
/** lanes s..s+3 of the 8 floats (a, b) */
const shift = (s: number) =>
  `(i8x16.shuffle ${[0, 1, 2, 3].flatMap((l) => [0, 1, 2, 3].map((k) => 4 * (s + l) + k)).join(' ')} ${g('vm0')} ${g('vm1')})`;

export const maxPool2d: WatFragment = {
  name: 'max_pool2d',
  wat: () => `  (func (export "maxpool") (param $x i32) (param $out i32) (param $H i32) (param $W i32) (param $OH i32) (param $OW i32)
      (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $ph i32) (param $pw i32) (param $dh i32) (param $dw i32)
      (param $t0 i32) (param $t1 i32)
    (local $pl i32) (local $plane i32) (local $o i32) (local $oy i32) (local $ox i32) (local $ky i32) (local $kx i32)
    (local $iy i32) (local $ix i32) (local $row i32) (local $best f32) (local $v f32) (local $acc v128) (local $span i32)
    (local $inside i32) (local $cols v128) (local $valid v128) (local $rowp i32)
    (local $cols1 v128) (local $valid1 v128) (local $vm0 v128) (local $vm1 v128)
    ;; columns covered by a window of 4 outputs: 3 + (kw-1)*dw + 1
    (local.set $span (i32.add (i32.const 4) (i32.mul (i32.sub ${g('kw')} (i32.const 1)) ${g('dw')})))
    (local.set $pl ${g('t0')})
    (block $done (loop $planes
      (br_if $done (i32.ge_u ${g('pl')} ${g('t1')}))
      (local.set $plane (i32.add ${g('x')} (i32.shl (i32.mul ${g('pl')} (i32.mul ${g('H')} ${g('W')})) (i32.const 2))))
      (local.set $o (i32.add ${g('out')} (i32.shl (i32.mul ${g('pl')} (i32.mul ${g('OH')} ${g('OW')})) (i32.const 2))))
      (local.set $oy (i32.const 0))
      (block $yd (loop $yl
        (br_if $yd (i32.ge_u ${g('oy')} ${g('OH')}))
        (local.set $ox (i32.const 0))
        (block $xd (loop $xl
          (br_if $xd (i32.ge_u ${g('ox')} ${g('OW')}))
          (if (i32.and (i32.eq ${g('sw')} (i32.const 1)) (i32.le_u (i32.add ${g('ox')} (i32.const 4)) ${g('OW')}))
            (then
              ;; the four windows' columns all inside the row: plain loads (the per-tap path)
              (local.set $inside (i32.and (i32.ge_s (i32.sub ${g('ox')} ${g('pw')}) (i32.const 0))
                (i32.le_s (i32.add (i32.sub ${g('ox')} ${g('pw')}) ${g('span')}) ${g('W')})))
              (if (i32.and (i32.eq ${g('dw')} (i32.const 1)) (i32.le_u ${g('kw')} (i32.const 5)))
                (then
                  ;; columns c0 .. c0+7, c0 = ox - pw: rows first, then the kw shifts across
                  (local.set $inside (i32.and (i32.ge_s (i32.sub ${g('ox')} ${g('pw')}) (i32.const 0))
                    (i32.le_s (i32.add (i32.sub ${g('ox')} ${g('pw')}) (i32.const 8)) ${g('W')})))
                  (if (i32.eqz ${g('inside')}) (then
                    ${columns(`(i32.sub ${g('ox')} ${g('pw')})`, 'cols', 'valid')}
                    ${columns(`(i32.add (i32.sub ${g('ox')} ${g('pw')}) (i32.const 4))`, 'cols1', 'valid1')}))
                  (local.set $vm0 ${NEG_INF})
                  (local.set $vm1 ${NEG_INF})
                  (local.set $ky (i32.const 0))
                  (block $rkd (loop $rkl
                    (br_if $rkd (i32.ge_u ${g('ky')} ${g('kh')}))
                    (local.set $iy (i32.add (i32.sub (i32.mul ${g('oy')} ${g('sh')}) ${g('ph')}) (i32.mul ${g('ky')} ${g('dh')})))
                    (if (i32.lt_u ${g('iy')} ${g('H')}) (then
                      (local.set $rowp (i32.add ${g('plane')} (i32.shl (i32.mul ${g('iy')} ${g('W')}) (i32.const 2))))
                      (if ${g('inside')}
                        (then
                          (local.set $row (i32.add ${g('rowp')} (i32.shl (i32.sub ${g('ox')} ${g('pw')}) (i32.const 2))))
                          (local.set $vm0 (f32x4.max ${g('vm0')} (v128.load ${g('row')})))
                          (local.set $vm1 (f32x4.max ${g('vm1')} (v128.load offset=16 ${g('row')}))))
                        (else
                          (local.set $vm0 (f32x4.max ${g('vm0')} ${gather('cols', 'valid')}))
                          (local.set $vm1 (f32x4.max ${g('vm1')} ${gather('cols1', 'valid1')}))))))
                    ${inc('ky')}
                    (br $rkl)))
                  (local.set $acc ${g('vm0')})
                  ${[1, 2, 3, 4].map((s) => `(if (i32.gt_u ${g('kw')} (i32.const ${s})) (then (local.set $acc (f32x4.max ${g('acc')} ${shift(s)}))))`).join('\n                  ')})
                (else
              (local.set $acc (v128.const f32x4 -inf -inf -inf -inf))
              (local.set $ky (i32.const 0))
              (block $kyd (loop $kyl
                (br_if $kyd (i32.ge_u ${g('ky')} ${g('kh')}))
                (local.set $iy (i32.add (i32.sub (i32.mul ${g('oy')} ${g('sh')}) ${g('ph')}) (i32.mul ${g('ky')} ${g('dh')})))
                (if (i32.lt_u ${g('iy')} ${g('H')}) (then
                  (local.set $row (i32.add ${g('plane')} (i32.shl (i32.add (i32.mul ${g('iy')} ${g('W')}) (i32.sub ${g('ox')} ${g('pw')})) (i32.const 2))))
                  (local.set $kx (i32.const 0))
                  (block $kxd (loop $kxl
                    (br_if $kxd (i32.ge_u ${g('kx')} ${g('kw')}))
                    (if ${g('inside')}
                      (then (local.set $acc (f32x4.max ${g('acc')} (v128.load (i32.add ${g('row')} (i32.shl (i32.mul ${g('kx')} ${g('dw')}) (i32.const 2)))))))
                      (else
                        ;; columns ox - pw + kx dw + lane: gathered clamped into the row, -inf outside it
                        ${columns(`(i32.add (i32.sub ${g('ox')} ${g('pw')}) (i32.mul ${g('kx')} ${g('dw')}))`, 'cols', 'valid')}
                        (local.set $rowp (i32.add ${g('plane')} (i32.shl (i32.mul ${g('iy')} ${g('W')}) (i32.const 2))))
                        (local.set $acc (f32x4.max ${g('acc')} ${gather('cols', 'valid')}))))
                    ${inc('kx')}
                    (br $kxl)))))
                ${inc('ky')}
                (br $kyl)))))
              (v128.store (i32.add ${g('o')} (i32.shl (i32.add (i32.mul ${g('oy')} ${g('OW')}) ${g('ox')}) (i32.const 2))) ${g('acc')})
              ${inc('ox', '(i32.const 4)')})
            (else
              (local.set $best (f32.const -inf))
              (local.set $ky (i32.const 0))
              (block $kyd2 (loop $kyl2
                (br_if $kyd2 (i32.ge_u ${g('ky')} ${g('kh')}))
                (local.set $iy (i32.add (i32.sub (i32.mul ${g('oy')} ${g('sh')}) ${g('ph')}) (i32.mul ${g('ky')} ${g('dh')})))
                (if (i32.lt_u ${g('iy')} ${g('H')}) (then
                  (local.set $kx (i32.const 0))
                  (block $kxd2 (loop $kxl2
                    (br_if $kxd2 (i32.ge_u ${g('kx')} ${g('kw')}))
                    (local.set $ix (i32.add (i32.sub (i32.mul ${g('ox')} ${g('sw')}) ${g('pw')}) (i32.mul ${g('kx')} ${g('dw')})))
                    (if (i32.lt_u ${g('ix')} ${g('W')}) (then
                      (local.set $v (f32.load (i32.add ${g('plane')} (i32.shl (i32.add (i32.mul ${g('iy')} ${g('W')}) ${g('ix')}) (i32.const 2)))))
                      (if (i32.or (f32.gt ${g('v')} ${g('best')}) (f32.ne ${g('v')} ${g('v')})) (then (local.set $best ${g('v')})))))
                    ${inc('kx')}
                    (br $kxl2)))))
                ${inc('ky')}
                (br $kyl2)))
              (f32.store (i32.add ${g('o')} (i32.shl (i32.add (i32.mul ${g('oy')} ${g('OW')}) ${g('ox')}) (i32.const 2))) ${g('best')})
              ${inc('ox')}))
          (br $xl)))
        ${inc('oy')}
        (br $yl)))
      ${inc('pl')}
      (br $planes))))
`,
};

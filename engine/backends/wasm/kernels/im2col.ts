// im2col for the interim conv GEMM: one task per row ck = (c, ky, kx) of the panel, for one image
// and group (x points at the group's first channel plane). trans=0 writes col[ck, p] (forward,
// grad-input), trans=1 writes colT[p, ck] (grad-weight). Out-of-image taps are zeros.
//   im2col(x, col, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW, CK, trans, t0, t1)
import type { WatFragment } from '../abi.js';

const g = (n: string) => `(local.get $${n})`;

export const im2col: WatFragment = {
  name: 'im2col',
  wat: () => `  (func (export "im2col") (param $x i32) (param $col i32) (param $H i32) (param $W i32) (param $kh i32) (param $kw i32)
      (param $sh i32) (param $sw i32) (param $ph i32) (param $pw i32) (param $dh i32) (param $dw i32) (param $OH i32) (param $OW i32)
      (param $CK i32) (param $trans i32) (param $t0 i32) (param $t1 i32)
    (local $ck i32) (local $c i32) (local $ky i32) (local $kx i32) (local $plane i32) (local $oy i32) (local $ox i32)
    (local $iy i32) (local $ix i32) (local $dst i32) (local $step i32) (local $row i32)
    (local.set $step (select (i32.shl ${g('CK')} (i32.const 2)) (i32.const 4) ${g('trans')}))
    (local.set $ck ${g('t0')})
    (block $done (loop $cks
      (br_if $done (i32.ge_u ${g('ck')} ${g('t1')}))
      (local.set $c (i32.div_u ${g('ck')} (i32.mul ${g('kh')} ${g('kw')})))
      (local.set $ky (i32.div_u (i32.rem_u ${g('ck')} (i32.mul ${g('kh')} ${g('kw')})) ${g('kw')}))
      (local.set $kx (i32.rem_u ${g('ck')} ${g('kw')}))
      (local.set $plane (i32.add ${g('x')} (i32.shl (i32.mul ${g('c')} (i32.mul ${g('H')} ${g('W')})) (i32.const 2))))
      (local.set $oy (i32.const 0))
      (block $ydone (loop $ys
        (br_if $ydone (i32.ge_u ${g('oy')} ${g('OH')}))
        (local.set $iy (i32.add (i32.sub (i32.mul ${g('oy')} ${g('sh')}) ${g('ph')}) (i32.mul ${g('ky')} ${g('dh')})))
        (local.set $dst (i32.add ${g('col')} (i32.shl
          (select (i32.add (i32.mul (i32.mul ${g('oy')} ${g('OW')}) ${g('CK')}) ${g('ck')})
                  (i32.add (i32.mul ${g('ck')} (i32.mul ${g('OH')} ${g('OW')})) (i32.mul ${g('oy')} ${g('OW')})) ${g('trans')})
          (i32.const 2))))
        (local.set $row (i32.add ${g('plane')} (i32.shl (i32.mul ${g('iy')} ${g('W')}) (i32.const 2))))
        (local.set $ox (i32.const 0))
        (if (i32.lt_u ${g('iy')} ${g('H')})
          (then
            (local.set $ix (i32.sub (i32.mul ${g('kx')} ${g('dw')}) ${g('pw')}))
            (block $xdone (loop $xs
              (br_if $xdone (i32.ge_u ${g('ox')} ${g('OW')}))
              (f32.store ${g('dst')} (if (result f32) (i32.lt_u ${g('ix')} ${g('W')}) (then (f32.load (i32.add ${g('row')} (i32.shl ${g('ix')} (i32.const 2))))) (else (f32.const 0))))
              (local.set $ix (i32.add ${g('ix')} ${g('sw')}))
              (local.set $dst (i32.add ${g('dst')} ${g('step')}))
              (local.set $ox (i32.add ${g('ox')} (i32.const 1)))
              (br $xs))))
          (else
            (block $zdone (loop $zs
              (br_if $zdone (i32.ge_u ${g('ox')} ${g('OW')}))
              (f32.store ${g('dst')} (f32.const 0))
              (local.set $dst (i32.add ${g('dst')} ${g('step')}))
              (local.set $ox (i32.add ${g('ox')} (i32.const 1)))
              (br $zs)))))
        (local.set $oy (i32.add ${g('oy')} (i32.const 1)))
        (br $ys)))
      (local.set $ck (i32.add ${g('ck')} (i32.const 1)))
      (br $cks))))
`,
};

// col2im, the adjoint: gx[c] += every tap of col that reads input channel c. One task per input
// channel of the group (disjoint planes, so threads never write the same element).
//   col2im(col, gx, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW, t0, t1)
export const col2im: WatFragment = {
  name: 'col2im',
  wat: () => `  (func (export "col2im") (param $col i32) (param $gx i32) (param $H i32) (param $W i32) (param $kh i32) (param $kw i32)
      (param $sh i32) (param $sw i32) (param $ph i32) (param $pw i32) (param $dh i32) (param $dw i32) (param $OH i32) (param $OW i32)
      (param $t0 i32) (param $t1 i32)
    (local $c i32) (local $ky i32) (local $kx i32) (local $plane i32) (local $src i32) (local $oy i32) (local $ox i32)
    (local $iy i32) (local $ix i32) (local $row i32) (local $a i32)
    (local.set $c ${g('t0')})
    (block $done (loop $cs
      (br_if $done (i32.ge_u ${g('c')} ${g('t1')}))
      (local.set $plane (i32.add ${g('gx')} (i32.shl (i32.mul ${g('c')} (i32.mul ${g('H')} ${g('W')})) (i32.const 2))))
      (local.set $src (i32.add ${g('col')} (i32.shl (i32.mul (i32.mul ${g('c')} (i32.mul ${g('kh')} ${g('kw')})) (i32.mul ${g('OH')} ${g('OW')})) (i32.const 2))))
      (local.set $ky (i32.const 0))
      (block $kyd (loop $kyl
        (br_if $kyd (i32.ge_u ${g('ky')} ${g('kh')}))
        (local.set $kx (i32.const 0))
        (block $kxd (loop $kxl
          (br_if $kxd (i32.ge_u ${g('kx')} ${g('kw')}))
          (local.set $oy (i32.const 0))
          (block $yd (loop $yl
            (br_if $yd (i32.ge_u ${g('oy')} ${g('OH')}))
            (local.set $iy (i32.add (i32.sub (i32.mul ${g('oy')} ${g('sh')}) ${g('ph')}) (i32.mul ${g('ky')} ${g('dh')})))
            (if (i32.lt_u ${g('iy')} ${g('H')})
              (then
                (local.set $row (i32.add ${g('plane')} (i32.shl (i32.mul ${g('iy')} ${g('W')}) (i32.const 2))))
                (local.set $ix (i32.sub (i32.mul ${g('kx')} ${g('dw')}) ${g('pw')}))
                (local.set $ox (i32.const 0))
                (block $xd (loop $xl
                  (br_if $xd (i32.ge_u ${g('ox')} ${g('OW')}))
                  (if (i32.lt_u ${g('ix')} ${g('W')})
                    (then
                      (local.set $a (i32.add ${g('row')} (i32.shl ${g('ix')} (i32.const 2))))
                      (f32.store ${g('a')} (f32.add (f32.load ${g('a')}) (f32.load (i32.add ${g('src')} (i32.shl ${g('ox')} (i32.const 2))))))))
                  (local.set $ix (i32.add ${g('ix')} ${g('sw')}))
                  (local.set $ox (i32.add ${g('ox')} (i32.const 1)))
                  (br $xl)))))
            (local.set $src (i32.add ${g('src')} (i32.shl ${g('OW')} (i32.const 2))))
            (local.set $oy (i32.add ${g('oy')} (i32.const 1)))
            (br $yl)))
          (local.set $kx (i32.add ${g('kx')} (i32.const 1)))
          (br $kxl)))
        (local.set $ky (i32.add ${g('ky')} (i32.const 1)))
        (br $kyl)))
      (local.set $c (i32.add ${g('c')} (i32.const 1)))
      (br $cs))))
`,
};

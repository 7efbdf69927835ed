// The training side of pooling and upsampling on wasm (engine/ops/max_pool2d.ts,
// upsample_nearest2d.ts), one task per (n, c) plane, so threads write disjoint planes and every
// sum runs in the cpu reference's order (bit-identical results, any thread count):
//   maxpool_idx(x, out, idx, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, t0, t1)
//       values and the flat position of each window's first maximum (a NaN wins, the last one
//       seen). Stride 1 with the 4 windows' columns inside the row: f32x4 compare/select on
//       values and positions; else the scalar loop. Same initial position as the reference (the
//       first in-range tap), also for a window that has none.
//   maxpool_backward(gy, idx, gx, HW, OHW, t0, t1)
//       gx plane = 0, then gx[idx[o]] += gy[o] in output order (positions outside the plane skipped).
//   upsample_backward(g, gx, h, w, sh, sw, t0, t1)
//       gx[y, x] = 0 + the sum of g's sh x sw block, rows then columns, in f32 like the
//       reference's accumulation; sw = 2 takes 4 outputs at a time (even/odd lanes de-interleaved by shuffles).
import type { WatFragment } from '../abi.js';

const g = (n: string) => `(local.get $${n})`;
const inc = (n: string, by = '(i32.const 1)') => `(local.set $${n} (i32.add ${g(n)} ${by}))`;
const f32At = (base: string, idx: string) => `(i32.add ${g(base)} (i32.shl ${idx} (i32.const 2)))`;
const P = (names: string[]) => names.map((n) => `(param $${n} i32)`).join(' ');

/** for (v = from; v < to; v++) body */
const forUp = (v: string, from: string, to: string, body: string) => `(local.set $${v} ${from})
    (block $${v}_d (loop $${v}_l
      (br_if $${v}_d (i32.ge_s ${g(v)} ${to}))
      ${body}
      ${inc(v)}
      (br $${v}_l)))`;

const maxpoolIdx = `  (func (export "maxpool_idx") ${P(['x', 'out', 'idx', 'H', 'W', 'OH', 'OW', 'kh', 'kw', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw', 't0', 't1'])}
    (local $pl i32) (local $plane i32) (local $o i32) (local $oi i32) (local $oy i32) (local $ox i32) (local $ky i32) (local $kx i32)
    (local $y0 i32) (local $x0 i32) (local $iy i32) (local $ix i32) (local $pos i32) (local $span i32)
    (local $best f32) (local $v f32) (local $at i32)
    (local $vb v128) (local $vv v128) (local $vi v128) (local $m v128)
    (local.set $span (i32.add (i32.const 4) (i32.mul (i32.sub ${g('kw')} (i32.const 1)) ${g('dw')})))
    ${forUp(
      'pl',
      g('t0'),
      g('t1'),
      `(local.set $plane ${f32At('x', `(i32.mul ${g('pl')} (i32.mul ${g('H')} ${g('W')}))`)})
      (local.set $o ${f32At('out', `(i32.mul ${g('pl')} (i32.mul ${g('OH')} ${g('OW')}))`)})
      (local.set $oi ${f32At('idx', `(i32.mul ${g('pl')} (i32.mul ${g('OH')} ${g('OW')}))`)})
      ${forUp(
        'oy',
        '(i32.const 0)',
        g('OH'),
        `;; first in-range row of the window (the reference's starting position)
        (local.set $y0 (i32.sub (i32.mul ${g('oy')} ${g('sh')}) ${g('ph')}))
        (block $yd (loop $yl (br_if $yd (i32.ge_s ${g('y0')} (i32.const 0))) ${inc('y0', g('dh'))} (br $yl)))
        (local.set $ox (i32.const 0))
        (block $xd (loop $xl
          (br_if $xd (i32.ge_u ${g('ox')} ${g('OW')}))
          (if (i32.and (i32.and (i32.eq ${g('sw')} (i32.const 1)) (i32.le_u (i32.add ${g('ox')} (i32.const 4)) ${g('OW')}))
                (i32.and (i32.ge_s (i32.sub ${g('ox')} ${g('pw')}) (i32.const 0)) (i32.le_s (i32.add (i32.sub ${g('ox')} ${g('pw')}) ${g('span')}) ${g('W')})))
            (then
              (local.set $x0 (i32.sub ${g('ox')} ${g('pw')}))
              (local.set $vb (v128.const f32x4 -inf -inf -inf -inf))
              (local.set $vi (i32x4.add (i32x4.splat (i32.add (i32.mul ${g('y0')} ${g('W')}) ${g('x0')})) (v128.const i32x4 0 1 2 3)))
              ${forUp(
                'ky',
                '(i32.const 0)',
                g('kh'),
                `(local.set $iy (i32.add (i32.sub (i32.mul ${g('oy')} ${g('sh')}) ${g('ph')}) (i32.mul ${g('ky')} ${g('dh')})))
                (if (i32.lt_u ${g('iy')} ${g('H')}) (then
                  ${forUp(
                    'kx',
                    '(i32.const 0)',
                    g('kw'),
                    `(local.set $pos (i32.add (i32.add (i32.mul ${g('iy')} ${g('W')}) ${g('x0')}) (i32.mul ${g('kx')} ${g('dw')})))
                    (local.set $vv (v128.load ${f32At('plane', g('pos'))}))
                    (local.set $m (v128.or (f32x4.gt ${g('vv')} ${g('vb')}) (f32x4.ne ${g('vv')} ${g('vv')})))
                    (local.set $vb (v128.bitselect ${g('vv')} ${g('vb')} ${g('m')}))
                    (local.set $vi (v128.bitselect (i32x4.add (i32x4.splat ${g('pos')}) (v128.const i32x4 0 1 2 3)) ${g('vi')} ${g('m')}))`,
                  )}))`,
              )}
              (v128.store ${f32At('o', `(i32.add (i32.mul ${g('oy')} ${g('OW')}) ${g('ox')})`)} ${g('vb')})
              (v128.store ${f32At('oi', `(i32.add (i32.mul ${g('oy')} ${g('OW')}) ${g('ox')})`)} ${g('vi')})
              ${inc('ox', '(i32.const 4)')})
            (else
              (local.set $x0 (i32.sub (i32.mul ${g('ox')} ${g('sw')}) ${g('pw')}))
              (block $x0d (loop $x0l (br_if $x0d (i32.ge_s ${g('x0')} (i32.const 0))) ${inc('x0', g('dw'))} (br $x0l)))
              (local.set $best (f32.const -inf))
              (local.set $at (i32.add (i32.mul ${g('y0')} ${g('W')}) ${g('x0')}))
              ${forUp(
                'ky',
                '(i32.const 0)',
                g('kh'),
                `(local.set $iy (i32.add (i32.sub (i32.mul ${g('oy')} ${g('sh')}) ${g('ph')}) (i32.mul ${g('ky')} ${g('dh')})))
                (if (i32.lt_u ${g('iy')} ${g('H')}) (then
                  ${forUp(
                    'kx',
                    '(i32.const 0)',
                    g('kw'),
                    `(local.set $ix (i32.add (i32.sub (i32.mul ${g('ox')} ${g('sw')}) ${g('pw')}) (i32.mul ${g('kx')} ${g('dw')})))
                    (if (i32.lt_u ${g('ix')} ${g('W')}) (then
                      (local.set $pos (i32.add (i32.mul ${g('iy')} ${g('W')}) ${g('ix')}))
                      (local.set $v (f32.load ${f32At('plane', g('pos'))}))
                      (if (i32.or (f32.gt ${g('v')} ${g('best')}) (f32.ne ${g('v')} ${g('v')}))
                        (then (local.set $best ${g('v')}) (local.set $at ${g('pos')})))))`,
                  )}))`,
              )}
              (f32.store ${f32At('o', `(i32.add (i32.mul ${g('oy')} ${g('OW')}) ${g('ox')})`)} ${g('best')})
              (i32.store ${f32At('oi', `(i32.add (i32.mul ${g('oy')} ${g('OW')}) ${g('ox')})`)} ${g('at')})
              ${inc('ox')}))
          (br $xl)))`,
      )}`,
    )})
`;

const maxpoolBwd = `  (func (export "maxpool_backward") ${P(['gy', 'idx', 'gx', 'HW', 'OHW', 't0', 't1'])}
    (local $pl i32) (local $o i32) (local $k i32) (local $src i32) (local $ix i32) (local $dst i32) (local $a i32)
    ${forUp(
      'pl',
      g('t0'),
      g('t1'),
      `(local.set $src ${f32At('gy', `(i32.mul ${g('pl')} ${g('OHW')})`)})
      (local.set $ix ${f32At('idx', `(i32.mul ${g('pl')} ${g('OHW')})`)})
      (local.set $dst ${f32At('gx', `(i32.mul ${g('pl')} ${g('HW')})`)})
      (memory.fill ${g('dst')} (i32.const 0) (i32.shl ${g('HW')} (i32.const 2)))
      ${forUp(
        'o',
        '(i32.const 0)',
        g('OHW'),
        `(local.set $k (i32.load ${f32At('ix', g('o'))}))
        (if (i32.lt_u ${g('k')} ${g('HW')}) (then
          (local.set $a ${f32At('dst', g('k'))})
          (f32.store ${g('a')} (f32.add (f32.load ${g('a')}) (f32.load ${f32At('src', g('o'))})))))`,
      )}`,
    )})
`;

const upsampleBwd = `  (func (export "upsample_backward") ${P(['g', 'gx', 'h', 'w', 'sh', 'sw', 't0', 't1'])}
    (local $pl i32) (local $py i32) (local $px i32) (local $dy i32) (local $dx i32) (local $ow i32)
    (local $src i32) (local $dst i32) (local $row i32) (local $s f32) (local $v0 v128) (local $v1 v128) (local $vs v128)
    (local.set $ow (i32.mul ${g('w')} ${g('sw')}))
    ${forUp(
      'pl',
      g('t0'),
      g('t1'),
      `(local.set $src ${f32At('g', `(i32.mul ${g('pl')} (i32.mul (i32.mul ${g('h')} ${g('sh')}) ${g('ow')}))`)})
      (local.set $dst ${f32At('gx', `(i32.mul ${g('pl')} (i32.mul ${g('h')} ${g('w')}))`)})
      ${forUp(
        'py',
        '(i32.const 0)',
        g('h'),
        `(local.set $px (i32.const 0))
        (if (i32.eq ${g('sw')} (i32.const 2)) (then
          (block $vd (loop $vl
            (br_if $vd (i32.gt_u (i32.add ${g('px')} (i32.const 4)) ${g('w')}))
            (local.set $vs (v128.const i32x4 0 0 0 0)) ;; +0 first, like the reference (0 + -0 = +0)
            ${forUp(
              'dy',
              '(i32.const 0)',
              g('sh'),
              `(local.set $row ${f32At('src', `(i32.add (i32.mul (i32.add (i32.mul ${g('py')} ${g('sh')}) ${g('dy')}) ${g('ow')}) (i32.shl ${g('px')} (i32.const 1)))`)})
              (local.set $v0 (v128.load ${g('row')}))
              (local.set $v1 (v128.load offset=16 ${g('row')}))
              (local.set $vs (f32x4.add ${g('vs')} (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 ${g('v0')} ${g('v1')})))
              (local.set $vs (f32x4.add ${g('vs')} (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 ${g('v0')} ${g('v1')})))`,
            )}
            (v128.store ${f32At('dst', `(i32.add (i32.mul ${g('py')} ${g('w')}) ${g('px')})`)} ${g('vs')})
            ${inc('px', '(i32.const 4)')}
            (br $vl)))))
        (block $sd (loop $sl
          (br_if $sd (i32.ge_u ${g('px')} ${g('w')}))
          (local.set $s (f32.const 0))
          ${forUp(
            'dy',
            '(i32.const 0)',
            g('sh'),
            `(local.set $row ${f32At('src', `(i32.add (i32.mul (i32.add (i32.mul ${g('py')} ${g('sh')}) ${g('dy')}) ${g('ow')}) (i32.mul ${g('px')} ${g('sw')}))`)})
            ${forUp('dx', '(i32.const 0)', g('sw'), `(local.set $s (f32.add ${g('s')} (f32.load ${f32At('row', g('dx'))})))`)}`,
          )}
          (f32.store ${f32At('dst', `(i32.add (i32.mul ${g('py')} ${g('w')}) ${g('px')})`)} ${g('s')})
          ${inc('px')}
          (br $sl)))`,
      )}`,
    )})
`;

export const poolBackward: WatFragment = {
  name: 'pool_backward',
  wat: () => maxpoolIdx + maxpoolBwd + upsampleBwd,
};

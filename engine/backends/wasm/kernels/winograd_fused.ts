// Winograd F(2x2, 3x3) conv as one fused kernel for the compiled forward (launcher:
// ../winograd.ts, winogradConv2dFused). The unfused path (wino_in -> gemm_conv2d -> wino_out)
// sends V (4x the input) and M (4x the output) through memory and re-packs V; here one task is a
// block of `tb` consecutive tiles (flat index p = n tH tW + ty tW + tx, tb a multiple of 8), and
// its V and M stay in the task's scratch slot (sized for L2):
//   wino_fused(params, t0, t1), params: i32 words in WINO_FUSED_PARAMS order
//   1. input transform of the block, per channel c, into gemm_conv2d's packed-B layout for all 16 k:
//      V[k][panel j][c][lane] at vs + k ksv + (j C + c) 32 + lane 4, ksv = tb C 4 bytes rounded up
//      to an odd number of 64-byte lines (../winograd.ts, winogradSliceBytes)
//      (four tiles per vector where they lie on one tile row and p % 4 = 0, else one by one)
//   2. the 16 GEMMs: M[k] = U[k] V[k] with $gemm_micro (4 x 8 tiles), U packed by wino_weights
//      ([k][panel][C][4]), M[o][k][p] at ms + ((o 16 + k) tb + p) 4
//   3. output transform + bias + SiLU of the block, straight into y (a concat slice in place).
// Same arithmetic in the same order as the unfused path (same transforms, same micro-kernel over
// c = 0..C-1), so the results are bit-identical to it, for any thread count.
import type { WatFragment } from '../abi.js';
import { in1, in4, out1, out4, rows, E, IN4_EDGE_LOCALS } from './winograd.js';

export const WINO_FUSED_PARAMS = [
  'x',
  'x_sb',
  'x_sc',
  'C',
  'H',
  'W',
  'ph',
  'pw',
  'tH',
  'tW',
  'ntiles',
  'u',
  'mpan',
  'O',
  'bias',
  'y',
  'y_sb',
  'y_sc',
  'OH',
  'OW',
  'act',
  'tb',
  'flags',
  'scratch',
  'nslots',
  'slot_bytes',
] as const;

const g = (n: string) => `(local.get $${n})`;
const inc = (n: string, by = '(i32.const 1)') => `(local.set $${n} (i32.add ${g(n)} ${by}))`;

/** (n, ty, tx) of flat tile index $gp, and whether tiles p .. p + 3 can go as one vector */
const tilePos = `
        (local.set $n (i32.div_u ${g('gp')} ${g('tHW')}))
        (local.set $tr (i32.rem_u ${g('gp')} ${g('tHW')}))
        (local.set $ty (i32.div_u ${g('tr')} ${g('tW')}))
        (local.set $tx (i32.rem_u ${g('tr')} ${g('tW')}))
        (local.set $quad (i32.and (i32.eqz (i32.and ${g('p')} (i32.const 3)))
          (i32.and (i32.le_u (i32.add ${g('tx')} (i32.const 4)) ${g('tW')}) (i32.le_u (i32.add ${g('p')} (i32.const 4)) ${g('cnt')}))))`;

/**
 * Phase 2 of a fused Winograd task (wino_fused, wino_fused4): the n GEMMs M[k] = U[k] V[k] of the
 * block, per k, per weight panel (in L1), per pixel panel, with $gemm_micro; U packed as
 * [k][panel][C][4] at $u, V[k] at $vs + k $ksv, M[o][k][p] at $ms + ((o n + k) tb + p) 4.
 */
export const blockGemms = (n: number) => `;; 2. M[k] = U[k] V[k]: per k, per weight panel (in L1), per pixel panel
      (local.set $k (i32.const 0))
      (block $kd (loop $kl
        (br_if $kd (i32.ge_u ${g('k')} (i32.const ${n})))
        (local.set $mp (i32.const 0))
        (block $md (loop $ml
          (br_if $md (i32.ge_u ${g('mp')} ${g('mpan')}))
          (local.set $a (i32.add ${g('u')} (i32.shl (i32.mul (i32.add (i32.mul ${g('k')} ${g('mpan')}) ${g('mp')}) ${g('C')}) (i32.const 4))))
          (local.set $j (i32.const 0))
          (block $jd (loop $jl
            (br_if $jd (i32.ge_u ${g('j')} ${g('npan')}))
            (call $gemm_micro ${g('a')}
              (i32.add (i32.add ${g('vs')} (i32.mul ${g('ksv')} ${g('k')})) (i32.shl (i32.mul ${g('j')} ${g('C')}) (i32.const 5)))
              (i32.const 32) ${g('C')}
              (i32.add ${g('ms')} (i32.shl (i32.add (i32.mul (i32.add (i32.mul ${g('mp')} (i32.const ${4 * n})) ${g('k')}) ${g('tb')}) (i32.shl ${g('j')} (i32.const 3))) (i32.const 2)))
              ${g('cms')} (i32.const 4) (i32.const 4) (i32.const 8) (i32.const 0) (i32.const 0))
            ${inc('j')}
            (br $jl)))
          ${inc('mp')}
          (br $ml)))
        ${inc('k')}
        (br $kl)))`;

export const winogradFused: WatFragment = {
  name: 'winograd_fused',
  wat: (f) => {
    const loadParams = WINO_FUSED_PARAMS.map(
      (n, i) => `(local.set $${n} (i32.load offset=${4 * i} (local.get $params)))`,
    ).join('\n    ');
    return `  (func (export "wino_fused") (param $params i32) (param $t0 i32) (param $t1 i32)
    ${WINO_FUSED_PARAMS.map((n) => `(local $${n} i32)`).join(' ')}
    (local $t i32) (local $slot i32) (local $vs i32) (local $ms i32) (local $ksv i32) (local $ksm i32) (local $tHW i32)
    (local $p0 i32) (local $cnt i32) (local $npan i32) (local $p i32) (local $gp i32) (local $tr i32) (local $quad i32)
    (local $n i32) (local $c i32) (local $plane i32) (local $ks i32) (local $o i32)
    (local $ty i32) (local $tx i32) (local $iy i32) (local $ix i32)
    (local $k i32) (local $mp i32) (local $j i32) (local $a i32) (local $cms i32)
    (local $oc i32) (local $yb i32) (local $q i32) (local $oy i32) (local $ox i32) (local $dst i32) (local $b v128)
    ${rows.map((r) => `(local $${r} v128)`).join(' ')} (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128)
    (local $va v128) (local $vq v128) (local $vc v128) (local $ev v128) (local $od v128) ${E.map((e) => `(local $${e} v128)`).join(' ')}
    (local $s0 v128) (local $s1 v128) (local $yv v128) ${IN4_EDGE_LOCALS}
    (local $ma v128) (local $mb4 v128) (local $mc v128) (local $md v128) ${[0, 1, 2, 3].map((j) => `(local $s0${j} v128) (local $s1${j} v128)`).join(' ')}
    (local $y00 v128) (local $y01 v128) (local $y10 v128) (local $y11 v128)
    (local $st v128) (local $sz v128) (local $sn v128) (local $sr v128)
    ${loadParams}
    (local.set $tHW (i32.mul ${g('tH')} ${g('tW')}))
    ;; V[k]'s stride: tb C floats rounded up to an odd number of 64-byte lines (winogradSliceBytes)
    (local.set $ksv (i32.shl (i32.or (i32.shr_u (i32.add (i32.shl (i32.mul ${g('tb')} ${g('C')}) (i32.const 2)) (i32.const 63)) (i32.const 6)) (i32.const 1)) (i32.const 6)))
    (local.set $ksm (i32.shl ${g('tb')} (i32.const 2)))
    (local.set $cms (i32.shl ${g('tb')} (i32.const 6)))
    (local.set $slot (call $gemm_claim ${g('flags')} ${g('nslots')}))
    (local.set $vs (i32.add ${g('scratch')} (i32.mul ${g('slot')} ${g('slot_bytes')})))
    (local.set $ms (i32.add ${g('vs')} (i32.shl ${g('ksv')} (i32.const 4))))
    (local.set $t ${g('t0')})
    (block $done (loop $tasks
      (br_if $done (i32.ge_u ${g('t')} ${g('t1')}))
      (local.set $p0 (i32.mul ${g('t')} ${g('tb')}))
      (local.set $cnt (i32.sub ${g('ntiles')} ${g('p0')}))
      (if (i32.gt_u ${g('cnt')} ${g('tb')}) (then (local.set $cnt ${g('tb')})))
      (local.set $npan (i32.shr_u (i32.add ${g('cnt')} (i32.const 7)) (i32.const 3)))
      ;; 1. V of the block, packed [k][panel][c][8]
      (local.set $ks ${g('ksv')})
      (local.set $c (i32.const 0))
      (block $cd (loop $cl
        (br_if $cd (i32.ge_u ${g('c')} ${g('C')}))
        (local.set $p (i32.const 0))
        (block $pd (loop $pl
          (br_if $pd (i32.ge_u ${g('p')} ${g('cnt')}))
          (local.set $gp (i32.add ${g('p0')} ${g('p')}))
          ${tilePos}
          (local.set $plane (i32.add ${g('x')} (i32.shl (i32.add (i32.mul ${g('n')} ${g('x_sb')}) (i32.mul ${g('c')} ${g('x_sc')})) (i32.const 2))))
          (local.set $iy (i32.sub (i32.shl ${g('ty')} (i32.const 1)) ${g('ph')}))
          (local.set $ix (i32.sub (i32.shl ${g('tx')} (i32.const 1)) ${g('pw')}))
          (local.set $o (i32.add ${g('vs')} (i32.add (i32.shl (i32.add (i32.mul (i32.shr_u ${g('p')} (i32.const 3)) ${g('C')}) ${g('c')}) (i32.const 5))
            (i32.shl (i32.and ${g('p')} (i32.const 7)) (i32.const 2)))))
          (if ${g('quad')}
            (then
              (if (i32.and (i32.and (i32.ge_s ${g('iy')} (i32.const 0)) (i32.le_s (i32.add ${g('iy')} (i32.const 4)) ${g('H')}))
                           (i32.and (i32.ge_s ${g('ix')} (i32.const 0)) (i32.le_s (i32.add ${g('ix')} (i32.const 12)) ${g('W')})))
                (then
              ${in4(false)})
                (else
              ${in4(true)}))
              ${inc('p', '(i32.const 4)')})
            (else
            ${in1()}
              ${inc('p')}))
          (br $pl)))
        ${inc('c')}
        (br $cl)))
      ${blockGemms(16)}
      ;; 3. y = act(At M A + bias) of the block
      (local.set $ks ${g('ksm')})
      (local.set $oc (i32.const 0))
      (block $od (loop $ol
        (br_if $od (i32.ge_u ${g('oc')} ${g('O')}))
        (local.set $b (v128.const i32x4 0 0 0 0))
        (if ${g('bias')} (then (local.set $b (f32x4.splat (f32.load (i32.add ${g('bias')} (i32.shl ${g('oc')} (i32.const 2))))))))
        (local.set $p (i32.const 0))
        (block $pd (loop $pl
          (br_if $pd (i32.ge_u ${g('p')} ${g('cnt')}))
          (local.set $gp (i32.add ${g('p0')} ${g('p')}))
          ${tilePos}
          (local.set $yb (i32.add ${g('y')} (i32.shl (i32.add (i32.mul ${g('n')} ${g('y_sb')}) (i32.mul ${g('oc')} ${g('y_sc')})) (i32.const 2))))
          (local.set $oy (i32.shl ${g('ty')} (i32.const 1)))
          (local.set $ox (i32.shl ${g('tx')} (i32.const 1)))
          (local.set $q (i32.add ${g('ms')} (i32.shl (i32.add (i32.mul (i32.shl ${g('oc')} (i32.const 4)) ${g('tb')}) ${g('p')}) (i32.const 2))))
          (if (i32.and ${g('quad')} (i32.le_u (i32.add ${g('ox')} (i32.const 8)) ${g('OW')}))
            (then
              ${out4(f)}
              ${inc('p', '(i32.const 4)')})
            (else
            ${out1(f)}
              ${inc('p')}))
          (br $pl)))
        ${inc('oc')}
        (br $ol)))
      ${inc('t')}
      (br $tasks)))
    (call $gemm_release ${g('flags')} ${g('slot')}))
`;
  },
};

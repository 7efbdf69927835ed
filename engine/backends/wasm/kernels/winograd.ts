// Winograd F(2x2, 3x3) transforms for stride-1 3x3 convolutions in the compiled forward
// (launcher: ../winograd.ts). The 16 GEMMs between them are gemm_conv2d as one grouped 1x1 conv.
//   wino_in(x, v, C, H, W, x_sb, x_sc, tH, tW, P, ph, pw, t0, t1)   (P: V's plane stride, >= N tH tW)
//     one task per (n, c) plane: each 4x4 input tile d at rows 2ty - ph .., columns 2tx - pw ..
//     (zero outside the plane) becomes V = Bt d B, element k = 4i + j stored at
//     v[(k C + c) P + n tH tW + ty tW + tx]. Bt = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
//   wino_out(m, bias, y, O, P, tH, tW, OH, OW, y_sb, y_sc, act, t0, t1)   (P: M's plane stride)
//     one task per (n, o) plane: the 4x4 tile of m[(k O + o) P + p] becomes Y = At M A (2x2),
//     + bias[o] (bias 0: none), SiLU when act = 1 (gemm_wat.ts's inline form, as the direct
//     conv's epilogue), written at y[n y_sb + o y_sc + oy OW + ox] for the outputs inside OH x OW.
//     At = [1 1 1 0; 0 1 -1 -1].
//   wino_weights(w, u, R, Q, s_row, s_red, tap0, tstep, mpan, t0, t1)
//     U = G g Gt per (row r < R, reduction index q < Q) of a 3x3 kernel g whose tap j (= 3 ky + kx)
//     is w[r s_row + q s_red + tap0 + j tstep], written straight into gemm_conv2d's packed panels
//     for the 16 GEMMs: u[((k mpan + r / 4) Q + q) 4 + r % 4], rows >= R zero. One task per panel
//     of 4 rows (its lanes). The forward reads w (O, C, 3, 3) as (s_row, s_red, tap0, tstep) =
//     (9 C, 9, 0, 1); grad-input's conv of gy with the flipped, transposed kernel
//     w'[c][o][j] = w[o][c][8 - j] reads it as (9, 9 C, 8, -1). G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
//     in f32: (a + c +- b) / 2, two roundings per stage.
// Rows are f32x4 (a tile row is 4 consecutive pixels); the column step is two shuffles and a
// signed add. wino_in takes four tiles at once wherever a row has four left, the border ones
// through masked loads (on 10x10 planes most tiles touch the border). Only adds and subtracts: the transforms are exact up to f32 rounding.
import type { WasmFeatures, WatFragment } from '../abi.js';
import { siluInline } from '../gemm_wat.js';

const g = (n: string) => `(local.get $${n})`;
const inc = (n: string, by = '(i32.const 1)') => `(local.set $${n} (i32.add ${g(n)} ${by}))`;
const lanes = (idx: number[]) => idx.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]).join(' ');
const shuf = (a: string, b: string, idx: number[]) => `(i8x16.shuffle ${lanes(idx)} ${a} ${b})`;
const sign = (s: number[]) => `(v128.const f32x4 ${s.join(' ')})`;

/** address of row iy, column ix of a plane */
const px = (plane: string, iy: string, ix: string) =>
  `(i32.add ${g(plane)} (i32.shl (i32.add (i32.mul ${iy} ${g('W')}) ${ix}) (i32.const 2)))`;

// Generators shared with the fused compiled-forward kernel (winograd_fused.ts): the input
// transform stores V[k] at $o + k $ks (bytes), the output transform loads M[k] at $q + k $ks.
// R B for one row r of Bt d: [r0 - r2, r1 + r2, r2 - r1, r1 - r3]
export const colStep = (r: string) =>
  `(f32x4.add ${shuf(r, r, [0, 1, 2, 1])} (f32x4.mul ${shuf(r, r, [2, 2, 1, 3])} ${sign([-1, 1, -1, -1])}))`;
export const rows = ['d0', 'd1', 'd2', 'd3'];
export const storeRow = (i: number, c: string) =>
  [0, 1, 2, 3]
    .map(
      (j) =>
        `(f32.store (i32.add ${g('o')} (i32.mul ${g('ks')} (i32.const ${4 * i + j}))) (f32x4.extract_lane ${j} ${c}))`,
    )
    .join('\n            ');
// four tiles at once: lane l is tile tx + l. Input: row i's columns ix .. ix + 11 as three
// vectors, deinterleaved into the tile columns c = 0..3 (x[ix + 2 l + c]), then Bt d B with
// whole-vector adds, V[i][j] stored as one vector (tiles tx .. tx + 3 are adjacent in V).
export const E = [0, 1, 2, 3].flatMap((i) => [0, 1, 2, 3].map((c) => `e${i}${c}`));
// edge: the group touches the plane's border, its row vectors come from $wg_row (zeros outside)
/** locals in4(true) needs besides the transform's */
export const IN4_EDGE_LOCALS = '(local $ea i32) (local $m0 v128) (local $m1 v128) (local $m2 v128)';
export const in4 = (edge: boolean) => {
  const out: string[] = [];
  if (edge)
    for (let k = 0; k < 3; k++)
      out.push(`(local.set $ea (i32.add ${g('ix')} (i32.const ${4 * k})))
      (local.set $m${k} (v128.and (i32x4.ge_s (i32x4.add (i32x4.splat ${g('ea')}) (v128.const i32x4 0 1 2 3)) (v128.const i32x4 0 0 0 0))
        (i32x4.lt_s (i32x4.add (i32x4.splat ${g('ea')}) (v128.const i32x4 0 1 2 3)) (i32x4.splat ${g('W')}))))`);
  for (let i = 0; i < 4; i++) {
    const iy = `(i32.add ${g('iy')} (i32.const ${i}))`;
    const row = (k: number) =>
      edge
        ? `(call $wg_row ${g('plane')} ${iy} (i32.add ${g('ix')} (i32.const ${4 * k})) ${g('H')} ${g('W')})`
        : `(v128.load ${px('plane', iy, `(i32.add ${g('ix')} (i32.const ${4 * k}))`)})`;
    if (edge) {
      // rows outside the plane are zeros; inside, three loads masked by column ($m0..$m2, made once
      // per group by edgeMasks) unless the 48 bytes could leave the memory: then $wg_row per vector
      const vs = ['va', 'vq', 'vc'];
      out.push(`(if (i32.lt_u ${iy} ${g('H')})
        (then
          (local.set $ea ${px('plane', iy, g('ix'))})
          (if (i32.and (i32.ge_s ${g('ea')} (i32.const 0)) (i32.lt_u (i32.shr_u (i32.add ${g('ea')} (i32.const 47)) (i32.const 16)) (memory.size)))
            (then ${vs.map((v, k) => `(local.set $${v} (v128.and (v128.load offset=${16 * k} ${g('ea')}) ${g(`m${k}`)}))`).join(' ')})
            (else ${vs.map((v, k) => `(local.set $${v} ${row(k)})`).join(' ')})))
        (else ${vs.map((v) => `(local.set $${v} (v128.const i32x4 0 0 0 0))`).join(' ')}))`);
    } else out.push(`(local.set $va ${row(0)}) (local.set $vq ${row(1)}) (local.set $vc ${row(2)})`);
    out.push(
      `(local.set $ev ${shuf(g('va'), g('vq'), [0, 2, 4, 6])}) (local.set $od ${shuf(g('va'), g('vq'), [1, 3, 5, 7])})`,
    );
    out.push(`(local.set $e${i}0 ${g('ev')}) (local.set $e${i}1 ${g('od')})`);
    out.push(
      `(local.set $e${i}2 ${shuf(g('ev'), g('vc'), [1, 2, 3, 4])}) (local.set $e${i}3 ${shuf(g('od'), g('vc'), [1, 2, 3, 5])})`,
    );
  }
  for (let c = 0; c < 4; c++) {
    // Bt over rows, in place: (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
    const [a, b, cc, d] = [0, 1, 2, 3].map((i) => g(`e${i}${c}`));
    out.push(`(local.set $r0 (f32x4.sub ${a} ${cc})) (local.set $r1 (f32x4.add ${b} ${cc}))`);
    out.push(`(local.set $r2 (f32x4.sub ${cc} ${b})) (local.set $r3 (f32x4.sub ${b} ${d}))`);
    out.push([0, 1, 2, 3].map((i) => `(local.set $e${i}${c} ${g(`r${i}`)})`).join(' '));
  }
  for (let i = 0; i < 4; i++) {
    const [a, b, cc, d] = [0, 1, 2, 3].map((c) => g(`e${i}${c}`));
    const v = [`(f32x4.sub ${a} ${cc})`, `(f32x4.add ${b} ${cc})`, `(f32x4.sub ${cc} ${b})`, `(f32x4.sub ${b} ${d})`];
    v.forEach((e, j) =>
      out.push(`(v128.store (i32.add ${g('o')} (i32.mul ${g('ks')} (i32.const ${4 * i + j}))) ${e})`),
    );
  }
  return out.join('\n              ');
};
// Output, four tiles at once: M[k] for tiles tx .. tx + 3 is one vector load per k; At M A with
// whole-vector adds gives y00, y01, y10, y11 per tile; interleaving (y00, y01) gives 8 output
// pixels of row oy as two vectors, (y10, y11) those of row oy + 1.
export const out4 = (f: WasmFeatures) => {
  const out: string[] = [];
  const ld = (k: number) => `(v128.load (i32.add ${g('q')} (i32.mul ${g('ks')} (i32.const ${k}))))`;
  for (let j = 0; j < 4; j++) {
    out.push(
      `(local.set $ma ${ld(j)}) (local.set $mb4 ${ld(4 + j)}) (local.set $mc ${ld(8 + j)}) (local.set $md ${ld(12 + j)})`,
    );
    out.push(`(local.set $s0${j} (f32x4.add (f32x4.add ${g('ma')} ${g('mb4')}) ${g('mc')}))`);
    out.push(`(local.set $s1${j} (f32x4.sub (f32x4.sub ${g('mb4')} ${g('mc')}) ${g('md')}))`);
  }
  for (const r of [0, 1]) {
    out.push(
      `(local.set $y${r}0 (f32x4.add (f32x4.add (f32x4.add ${g(`s${r}0`)} ${g(`s${r}1`)}) ${g(`s${r}2`)}) ${g('b')}))`,
    );
    out.push(
      `(local.set $y${r}1 (f32x4.add (f32x4.sub (f32x4.sub ${g(`s${r}1`)} ${g(`s${r}2`)}) ${g(`s${r}3`)}) ${g('b')}))`,
    );
  }
  out.push(`(if ${g('act')} (then
            ${['y00', 'y01', 'y10', 'y11'].map((y) => siluInline(f, `$${y}`)).join('\n                ')}))`);
  out.push(
    `(local.set $dst (i32.add ${g('yb')} (i32.shl (i32.add (i32.mul ${g('oy')} ${g('OW')}) ${g('ox')}) (i32.const 2))))`,
  );
  out.push(`(v128.store ${g('dst')} ${shuf(g('y00'), g('y01'), [0, 4, 1, 5])})`);
  out.push(`(v128.store offset=16 ${g('dst')} ${shuf(g('y00'), g('y01'), [2, 6, 3, 7])})`);
  out.push(`(if (i32.lt_u (i32.add ${g('oy')} (i32.const 1)) ${g('OH')}) (then
            (local.set $dst (i32.add ${g('dst')} (i32.shl ${g('OW')} (i32.const 2))))
            (v128.store ${g('dst')} ${shuf(g('y10'), g('y11'), [0, 4, 1, 5])})
            (v128.store offset=16 ${g('dst')} ${shuf(g('y10'), g('y11'), [2, 6, 3, 7])})))`);
  return out.join('\n              ');
};

/** One tile of the input transform (V = Bt d B), border tiles through $wg_row. */
export const in1 =
  () => `            (if (i32.and (i32.and (i32.ge_s ${g('iy')} (i32.const 0)) (i32.le_s (i32.add ${g('iy')} (i32.const 4)) ${g('H')}))
                         (i32.and (i32.ge_s ${g('ix')} (i32.const 0)) (i32.le_s (i32.add ${g('ix')} (i32.const 4)) ${g('W')})))
              (then
                ${rows.map((r, i) => `(local.set $${r} (v128.load ${px('plane', `(i32.add ${g('iy')} (i32.const ${i}))`, g('ix'))}))`).join('\n              ')})
              (else
                ${rows.map((r, i) => `(local.set $${r} (call $wg_row ${g('plane')} (i32.add ${g('iy')} (i32.const ${i})) ${g('ix')} ${g('H')} ${g('W')}))`).join('\n              ')}))
            (local.set $r0 (f32x4.sub ${g('d0')} ${g('d2')}))
            (local.set $r1 (f32x4.add ${g('d1')} ${g('d2')}))
            (local.set $r2 (f32x4.sub ${g('d2')} ${g('d1')}))
            (local.set $r3 (f32x4.sub ${g('d1')} ${g('d3')}))
            (local.set $r0 ${colStep(g('r0'))})
            (local.set $r1 ${colStep(g('r1'))})
            (local.set $r2 ${colStep(g('r2'))})
            (local.set $r3 ${colStep(g('r3'))})
              ${[0, 1, 2, 3].map((i) => storeRow(i, g(`r${i}`))).join('\n            ')}`;
/** One tile of the output transform: Y = At M A + bias, SiLU, the outputs inside OH x OW stored. */
export const out1 = (f: WasmFeatures) => `            ${[0, 1, 2, 3]
  .map(
    (i) =>
      `(local.set $r${i} (f32x4.splat (f32.load (i32.add ${g('q')} (i32.mul ${g('ks')} (i32.const ${4 * i}))))))` +
      [1, 2, 3]
        .map(
          (j) =>
            `\n          (local.set $r${i} (f32x4.replace_lane ${j} ${g(`r${i}`)} (f32.load (i32.add ${g('q')} (i32.mul ${g('ks')} (i32.const ${4 * i + j}))))))`,
        )
        .join(''),
  )
  .join('\n          ')}
            ;; At M: s0 = r0 + r1 + r2, s1 = r1 - r2 - r3; then (. A) per row, both rows in one vector
            (local.set $s0 (f32x4.add (f32x4.add ${g('r0')} ${g('r1')}) ${g('r2')}))
            (local.set $s1 (f32x4.sub (f32x4.sub ${g('r1')} ${g('r2')}) ${g('r3')}))
            ;; (y0, y1) = ((a + b) + c, (b - c) - d) per row, summed in out4's order (so a tile rounds alike on either path)
            (local.set $yv (f32x4.add (f32x4.add ${shuf(g('s0'), g('s1'), [0, 1, 4, 5])}
                (f32x4.mul ${shuf(g('s0'), g('s1'), [1, 2, 5, 6])} ${sign([1, -1, 1, -1])}))
              (f32x4.mul ${shuf(g('s0'), g('s1'), [2, 3, 6, 7])} ${sign([1, -1, 1, -1])})))
            (local.set $yv (f32x4.add ${g('yv')} ${g('b')}))
            (if ${g('act')} (then
              ${siluInline(f, '$yv')}))
            (local.set $dst (i32.add ${g('yb')} (i32.shl (i32.add (i32.mul ${g('oy')} ${g('OW')}) ${g('ox')}) (i32.const 2))))
            (f32.store ${g('dst')} (f32x4.extract_lane 0 ${g('yv')}))
            (if (i32.lt_u (i32.add ${g('ox')} (i32.const 1)) ${g('OW')})
              (then (f32.store offset=4 ${g('dst')} (f32x4.extract_lane 1 ${g('yv')}))))
            (if (i32.lt_u (i32.add ${g('oy')} (i32.const 1)) ${g('OH')}) (then
              (local.set $dst (i32.add ${g('dst')} (i32.shl ${g('OW')} (i32.const 2))))
              (f32.store ${g('dst')} (f32x4.extract_lane 2 ${g('yv')}))
              (if (i32.lt_u (i32.add ${g('ox')} (i32.const 1)) ${g('OW')})
                (then (f32.store offset=4 ${g('dst')} (f32x4.extract_lane 3 ${g('yv')}))))))`;

export const winograd: WatFragment = {
  name: 'winograd',
  wat: (f) => {
    // $wg_row: columns ix .. ix + 3 of row iy, zero outside the plane. Inside: one load; across the
    // left or right border: one load masked by column (the bytes outside the row are other memory,
    // never used), unless the 16 bytes could leave the memory; else lane by lane.
    return `  (func $wg_row (param $plane i32) (param $iy i32) (param $ix i32) (param $H i32) (param $W i32) (result v128)
    (local $r v128) (local $j i32) (local $c i32) (local $a i32) (local $cols v128)
    (local.set $r (v128.const i32x4 0 0 0 0))
    (if (i32.ge_u ${g('iy')} ${g('H')}) (then (return ${g('r')})))
    (local.set $a ${px('plane', g('iy'), g('ix'))})
    (if (i32.and (i32.ge_s ${g('ix')} (i32.const 0)) (i32.le_s (i32.add ${g('ix')} (i32.const 4)) ${g('W')}))
      (then (return (v128.load ${g('a')}))))
    (if (i32.and (i32.ge_s ${g('a')} (i32.const 0)) (i32.lt_u (i32.shr_u (i32.add ${g('a')} (i32.const 15)) (i32.const 16)) (memory.size)))
      (then
        (local.set $cols (i32x4.add (i32x4.splat ${g('ix')}) (v128.const i32x4 0 1 2 3)))
        (return (v128.and (v128.load ${g('a')})
          (v128.and (i32x4.ge_s ${g('cols')} (v128.const i32x4 0 0 0 0)) (i32x4.lt_s ${g('cols')} (i32x4.splat ${g('W')})))))))
    ${[0, 1, 2, 3]
      .map(
        (j) => `(local.set $c (i32.add ${g('ix')} (i32.const ${j})))
    (if (i32.lt_u ${g('c')} ${g('W')}) (then (local.set $r (f32x4.replace_lane ${j} ${g('r')} (f32.load ${px('plane', g('iy'), g('c'))})))))`,
      )
      .join('\n    ')}
    ${g('r')})
  (func (export "wino_in") (param $x i32) (param $v i32) (param $C i32) (param $H i32) (param $W i32)
      (param $x_sb i32) (param $x_sc i32) (param $tH i32) (param $tW i32) (param $P i32) (param $ph i32) (param $pw i32)
      (param $t0 i32) (param $t1 i32)
    (local $t i32) (local $n i32) (local $c i32) (local $plane i32) (local $vb i32) (local $ks i32) (local $o i32)
    (local $ty i32) (local $tx i32) (local $iy i32) (local $ix i32)
    ${rows.map((r) => `(local $${r} v128)`).join(' ')} (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128)
    (local $va v128) (local $vq v128) (local $vc v128) (local $ev v128) (local $od v128) ${E.map((e) => `(local $${e} v128)`).join(' ')}
    ${IN4_EDGE_LOCALS}
    (local.set $ks (i32.shl (i32.mul ${g('C')} ${g('P')}) (i32.const 2)))
    (local.set $t ${g('t0')})
    (block $done (loop $tasks
      (br_if $done (i32.ge_u ${g('t')} ${g('t1')}))
      (local.set $n (i32.div_u ${g('t')} ${g('C')}))
      (local.set $c (i32.rem_u ${g('t')} ${g('C')}))
      (local.set $plane (i32.add ${g('x')} (i32.shl (i32.add (i32.mul ${g('n')} ${g('x_sb')}) (i32.mul ${g('c')} ${g('x_sc')})) (i32.const 2))))
      (local.set $vb (i32.add ${g('v')} (i32.shl (i32.add (i32.mul ${g('c')} ${g('P')}) (i32.mul ${g('n')} (i32.mul ${g('tH')} ${g('tW')}))) (i32.const 2))))
      (local.set $o ${g('vb')})
      (local.set $ty (i32.const 0))
      (block $yd (loop $yl
        (br_if $yd (i32.ge_u ${g('ty')} ${g('tH')}))
        (local.set $iy (i32.sub (i32.shl ${g('ty')} (i32.const 1)) ${g('ph')}))
        (local.set $tx (i32.const 0))
        (block $xd (loop $xl
          (br_if $xd (i32.ge_u ${g('tx')} ${g('tW')}))
          (local.set $ix (i32.sub (i32.shl ${g('tx')} (i32.const 1)) ${g('pw')}))
          (if (i32.le_u (i32.add ${g('tx')} (i32.const 4)) ${g('tW')})
            (then ;; four tiles side by side, one per lane
              (if (i32.and (i32.and (i32.ge_s ${g('iy')} (i32.const 0)) (i32.le_s (i32.add ${g('iy')} (i32.const 4)) ${g('H')}))
                           (i32.and (i32.ge_s ${g('ix')} (i32.const 0)) (i32.le_s (i32.add ${g('ix')} (i32.const 12)) ${g('W')})))
                (then
              ${in4(false)})
                (else
              ${in4(true)}))
              (local.set $o (i32.add ${g('o')} (i32.const 16)))
              ${inc('tx', '(i32.const 4)')})
            (else
            ${in1()}
            (local.set $o (i32.add ${g('o')} (i32.const 4)))
            ${inc('tx')}))
          (br $xl)))
        ${inc('ty')}
        (br $yl)))
      ${inc('t')}
      (br $tasks))))
  (func (export "wino_out") (param $m i32) (param $bias i32) (param $y i32) (param $O i32) (param $P i32)
      (param $tH i32) (param $tW i32) (param $OH i32) (param $OW i32) (param $y_sb i32) (param $y_sc i32) (param $act i32)
      (param $t0 i32) (param $t1 i32)
    (local $t i32) (local $n i32) (local $oc i32) (local $mb i32) (local $yb i32) (local $ks i32) (local $q i32)
    (local $ty i32) (local $tx i32) (local $oy i32) (local $ox i32) (local $dst i32) (local $b v128)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $s0 v128) (local $s1 v128) (local $yv v128)
    (local $ma v128) (local $mb4 v128) (local $mc v128) (local $md v128) ${[0, 1, 2, 3].map((j) => `(local $s0${j} v128) (local $s1${j} v128)`).join(' ')}
    (local $y00 v128) (local $y01 v128) (local $y10 v128) (local $y11 v128)
    (local $st v128) (local $sz v128) (local $sn v128) (local $sr v128)
    (local.set $ks (i32.shl (i32.mul ${g('O')} ${g('P')}) (i32.const 2)))
    (local.set $t ${g('t0')})
    (block $done (loop $tasks
      (br_if $done (i32.ge_u ${g('t')} ${g('t1')}))
      (local.set $n (i32.div_u ${g('t')} ${g('O')}))
      (local.set $oc (i32.rem_u ${g('t')} ${g('O')}))
      (local.set $b (v128.const i32x4 0 0 0 0))
      (if ${g('bias')} (then (local.set $b (f32x4.splat (f32.load (i32.add ${g('bias')} (i32.shl ${g('oc')} (i32.const 2))))))))
      (local.set $mb (i32.add ${g('m')} (i32.shl (i32.add (i32.mul ${g('oc')} ${g('P')}) (i32.mul ${g('n')} (i32.mul ${g('tH')} ${g('tW')}))) (i32.const 2))))
      (local.set $yb (i32.add ${g('y')} (i32.shl (i32.add (i32.mul ${g('n')} ${g('y_sb')}) (i32.mul ${g('oc')} ${g('y_sc')})) (i32.const 2))))
      (local.set $q ${g('mb')})
      (local.set $ty (i32.const 0))
      (block $yd (loop $yl
        (br_if $yd (i32.ge_u ${g('ty')} ${g('tH')}))
        (local.set $oy (i32.shl ${g('ty')} (i32.const 1)))
        (local.set $tx (i32.const 0))
        (block $xd (loop $xl
          (br_if $xd (i32.ge_u ${g('tx')} ${g('tW')}))
          (local.set $ox (i32.shl ${g('tx')} (i32.const 1)))
          (if (i32.and (i32.le_u (i32.add ${g('tx')} (i32.const 4)) ${g('tW')}) (i32.le_u (i32.add ${g('ox')} (i32.const 8)) ${g('OW')}))
            (then ;; four tiles side by side, one per lane
              ${out4(f)}
              (local.set $q (i32.add ${g('q')} (i32.const 16)))
              ${inc('tx', '(i32.const 4)')})
            (else
            ${out1(f)}
            (local.set $q (i32.add ${g('q')} (i32.const 4)))
            ${inc('tx')}))
          (br $xl)))
        ${inc('ty')}
        (br $yl)))
      ${inc('t')}
      (br $tasks))))
${weightsKernel()}`;
  },
};

/** wino_weights: U = G g Gt for four rows (lanes) at a time, stored into the packed panels. */
function weightsKernel() {
  const taps = [...Array(9).keys()];
  const T = [0, 1, 2, 3].flatMap((i) => [0, 1, 2].map((j) => `t${i}${j}`));
  const half = (e: string) => `(f32x4.mul ${e} (v128.const f32x4 0.5 0.5 0.5 0.5))`;
  // (a, b, c) -> (a, (a + c + b) / 2, (a + c - b) / 2, c): one application of G
  const gRow = (a: string, b: string, c: string, out: (i: number) => string) =>
    `(local.set $s (f32x4.add ${a} ${c}))
        (local.set ${out(0)} ${a}) (local.set ${out(1)} ${half(`(f32x4.add ${g('s')} ${b})`)})
        (local.set ${out(2)} ${half(`(f32x4.sub ${g('s')} ${b})`)}) (local.set ${out(3)} ${c})`;
  const lane = (l: number) => `(if (i32.lt_u (i32.add ${g('r0')} (i32.const ${l})) ${g('R')}) (then
          (local.set $src (i32.add ${g('w')} (i32.shl (i32.add (i32.add (i32.mul (i32.add ${g('r0')} (i32.const ${l})) ${g('s_row')})
            (i32.mul ${g('q')} ${g('s_red')})) ${g('tap0')}) (i32.const 2))))
          ${taps.map((j) => `(local.set $g${j} (f32x4.replace_lane ${l} ${g(`g${j}`)} (f32.load (i32.add ${g('src')} (i32.mul ${g('tstep4')} (i32.const ${j}))))))`).join('\n          ')}))`;
  return `  (func (export "wino_weights") (param $w i32) (param $u i32) (param $R i32) (param $Q i32)
      (param $s_row i32) (param $s_red i32) (param $tap0 i32) (param $tstep i32) (param $mpan i32)
      (param $t0 i32) (param $t1 i32)
    (local $t i32) (local $r0 i32) (local $q i32) (local $src i32) (local $dst i32) (local $ks i32) (local $tstep4 i32)
    (local $s v128) (local $u0 v128) (local $u1 v128) (local $u2 v128) (local $u3 v128)
    ${taps.map((j) => `(local $g${j} v128)`).join(' ')} ${T.map((e) => `(local $${e} v128)`).join(' ')}
    (local.set $ks (i32.shl (i32.mul ${g('mpan')} ${g('Q')}) (i32.const 4)))
    (local.set $tstep4 (i32.shl ${g('tstep')} (i32.const 2)))
    (local.set $t ${g('t0')})
    (block $done (loop $tasks
      (br_if $done (i32.ge_u ${g('t')} ${g('t1')}))
      (local.set $r0 (i32.shl ${g('t')} (i32.const 2)))
      (local.set $dst (i32.add ${g('u')} (i32.shl (i32.mul ${g('t')} ${g('Q')}) (i32.const 4))))
      (local.set $q (i32.const 0))
      (block $qd (loop $ql
        (br_if $qd (i32.ge_u ${g('q')} ${g('Q')}))
        ${taps.map((j) => `(local.set $g${j} (v128.const i32x4 0 0 0 0))`).join(' ')}
        ${[0, 1, 2, 3].map(lane).join('\n        ')}
        ;; t = G g (4 x 3), column by column
        ${[0, 1, 2].map((j) => gRow(g(`g${j}`), g(`g${3 + j}`), g(`g${6 + j}`), (i) => `$t${i}${j}`)).join('\n        ')}
        ;; U = t Gt (4 x 4), row by row; U[i][j] is GEMM k = 4 i + j
        ${[0, 1, 2, 3]
          .map(
            (i) =>
              gRow(g(`t${i}0`), g(`t${i}1`), g(`t${i}2`), (j) => `$u${j}`) +
              [0, 1, 2, 3]
                .map(
                  (j) =>
                    `\n        (v128.store (i32.add ${g('dst')} (i32.mul ${g('ks')} (i32.const ${4 * i + j}))) ${g(`u${j}`)})`,
                )
                .join(''),
          )
          .join('\n        ')}
        (local.set $dst (i32.add ${g('dst')} (i32.const 16)))
        ${inc('q')}
        (br $ql)))
      ${inc('t')}
      (br $tasks))))
`;
}

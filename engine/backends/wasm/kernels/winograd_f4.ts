// Winograd F(4x4, 3x3) as one fused kernel, for the compiled forward and the eager forward and grad-input (launcher:
// ../winograd_f4.ts; which convs take it: winogradF4Eligible there). The same plan as wino_fused
// (kernels/winograd_fused.ts) with 6x6 input tiles at stride 4 and 36 GEMMs:
//   wino_fused4(params, t0, t1), params: i32 words in WINO_FUSED_PARAMS order (tH, tW count 4x4 tiles)
//   0. a table of the block's tiles (32 bytes each: x image offset, iy, ix, y offset of the tile's
//      first output, valid output rows and columns), so the phases below divide nothing per channel
//   1. V = Bt d B, four consecutive tiles (lanes) per f32x4, all channels of the four in turn, into
//      gemm_conv2d's packed-B layout for the 36 k: V[k][panel j][c][lane] at vs + k ksv + (j C + c) 32
//      + lane 4, ksv = tb C 4 bytes rounded up to an odd number of 64-byte lines (no 4 KiB aliasing).
//      d B row by row (the row's six column vectors come from a 4x4 transpose of its loads), stored
//      in V's places, then Bt (.) column by column in place. Four tiles on one tile row load each
//      row as five vectors (masked by column at the plane's border); any other four (across a tile
//      row, past the block's end) two masked vectors per lane, or, where a plane's reads could
//      leave the memory ($safe = 0), $wg_row per vector (kernels/winograd.ts).
//   2. the 36 GEMMs M[k] = U[k] V[k] with $gemm_micro (4 x 8 tiles), U packed by wino_weights4
//      (below; [k][panel][C][4]), M[o][k][p] at ms + ((o 36 + k) tb + p) 4
//   3. y = act(At M A + bias): At over the rows of M in place, then per output row r the four
//      tiles' values (c = 0..3) transposed to four vectors of one tile's 4 pixels each, stored
//      where the table says they lie inside OH x OW.
// The transforms are generated from the matrices (linearMap in winograd_f4_transforms.ts), with the
// shared sums of paired rows and columns found there (Bt: rows 1/2, 3/4; At: columns 1/2, 3/4).
import type { WasmFeatures, WatFragment } from '../abi.js';
import { blockGemms, WINO_FUSED_PARAMS } from './winograd_fused.js';

import {
  E6,
  G4,
  ZERO,
  g,
  inc,
  inputTransform,
  laneMask,
  linearMap,
  outputTransform,
  rowGather,
  rowGatherInline,
  rowSameLine,
} from './winograd_f4_transforms.js';

/** bytes of the tile table per tile (8 i32 words) */
export const F4_TABLE_BYTES = 32;

/** table word w of tile p (a WAT expression) */
const tab = (p: string, w: number) => `(i32.load offset=${4 * w} (i32.add ${g('tab')} (i32.shl ${p} (i32.const 5))))`;

/**
 * wino_weights4(w, u, R, Q, sRow, sRed, flip, mpan, t0, t1): U = G g Gt (6x6) per (row r < R,
 * reduction index q < Q) of the 3x3 kernels g at w + 4 (r sRow + q sRed), their taps in order, or
 * reversed when flip is 1 (the grad-input's kernel, as wino_weights), in f32, straight into the
 * packed panels of the 36 GEMMs: u[((k mpan + r / 4) Q + q) 4 + r % 4], rows >= R zero. One task
 * per panel of 4 rows (the lanes).
 */
function weightsKernel(f: WasmFeatures) {
  const T = [0, 1, 2, 3, 4, 5].flatMap((i) => [0, 1, 2].map((b) => `tt${i}${b}`));
  const locals = new Set<string>();
  const code: string[] = [];
  // t = G g (6 x 3), column by column
  for (let b = 0; b < 3; b++) {
    const m = linearMap(
      f,
      G4,
      [g(`g${b}`), g(`g${3 + b}`), g(`g${6 + b}`)],
      (i, e) => `(local.set $tt${i}${b} ${e})`,
      'w',
    );
    m.locals.forEach((l) => locals.add(l));
    code.push(m.code);
  }
  // U = t Gt (6 x 6), row by row; U[i][j] is GEMM k = 6 i + j
  for (let i = 0; i < 6; i++) {
    const m = linearMap(
      f,
      G4,
      [0, 1, 2].map((b) => g(`tt${i}${b}`)),
      (j, e) => `(v128.store (i32.add ${g('dst')} (i32.mul ${g('ks')} (i32.const ${6 * i + j}))) ${e})`,
      'w',
    );
    m.locals.forEach((l) => locals.add(l));
    code.push(m.code);
  }
  const lane = (l: number) => `(if (i32.lt_u (i32.add ${g('r0')} (i32.const ${l})) ${g('R')}) (then
          (local.set $src (i32.add ${g('w')} (i32.shl (i32.add (i32.mul (i32.add ${g('r0')} (i32.const ${l})) ${g('sRow')})
            (i32.mul ${g('q')} ${g('sRed')})) (i32.const 2))))
          ${[...Array(9).keys()].map((j) => `(local.set $g${j} (f32x4.replace_lane ${l} ${g(`g${j}`)} (f32.load (i32.add ${g('src')} (select (i32.const ${4 * (8 - j)}) (i32.const ${4 * j}) ${g('flip')})))))`).join('\n          ')}))`;
  return `  (func (export "wino_weights4") (param $w i32) (param $u i32) (param $R i32) (param $Q i32)
      (param $sRow i32) (param $sRed i32) (param $flip i32) (param $mpan i32) (param $t0 i32) (param $t1 i32)
    (local $t i32) (local $r0 i32) (local $q i32) (local $src i32) (local $dst i32) (local $ks i32)
    ${[...Array(9).keys()].map((j) => `(local $g${j} v128)`).join(' ')} ${T.map((e) => `(local $${e} v128)`).join(' ')}
    ${[...locals].map((n) => `(local ${n} v128)`).join(' ')}
    (local.set $ks (i32.shl (i32.mul ${g('mpan')} ${g('Q')}) (i32.const 4)))
    (local.set $t ${g('t0')})
    (block $done (loop $tasks
      (br_if $done (i32.ge_u ${g('t')} ${g('t1')}))
      (local.set $r0 (i32.shl ${g('t')} (i32.const 2)))
      (local.set $dst (i32.add ${g('u')} (i32.shl (i32.mul ${g('t')} ${g('Q')}) (i32.const 4))))
      (local.set $q (i32.const 0))
      (block $qd (loop $ql
        (br_if $qd (i32.ge_u ${g('q')} ${g('Q')}))
        ${[...Array(9).keys()].map((j) => `(local.set $g${j} ${ZERO})`).join(' ')}
        ${[0, 1, 2, 3].map(lane).join('\n        ')}
        ${code.join('\n        ')}
        (local.set $dst (i32.add ${g('dst')} (i32.const 16)))
        ${inc('q')}
        (br $ql)))
      ${inc('t')}
      (br $tasks))))
`;
}

export const winogradF4: WatFragment = {
  name: 'winograd_f4',
  wat: (f) => {
    const loadParams = WINO_FUSED_PARAMS.map(
      (n, i) => `(local.set $${n} (i32.load offset=${4 * i} (local.get $params)))`,
    ).join('\n    ');
    const fast = inputTransform(f, (i) => rowSameLine(i, false));
    const edge = inputTransform(f, (i) => rowSameLine(i, true));
    const gather = inputTransform(f, rowGather);
    const gatherInline = inputTransform(f, rowGatherInline);
    const outT = outputTransform(f);
    const tmpLocals = [
      ...new Set([...fast.locals, ...edge.locals, ...gather.locals, ...gatherInline.locals, ...outT.locals]),
    ];
    const v128 = [
      ...E6,
      ...[0, 1, 2, 3].flatMap((l) => [`ma${l}`, `mb${l}`]),
      ...'b h0 h1 h2 h3 v0 v1 v2 v3 v4 m0 m1 m2 m3 m4 a0 a1 a2 a3 b0 b1 b2 b3'.split(' '),
      ...'y0 y1 y2 y3 w0 w1 w2 w3 st sz sn sr'.split(' '),
    ];
    const i32 = [
      ...'t slot vs ms tab ksv ksm cms tHW p0 cnt cnt4 npan p gp tr ty tx c plane o ks k mp j a'.split(' '),
      ...'oc q rowb iy ix xb o0 xsc4 safe ea'.split(' '),
      ...[0, 1, 2, 3].flatMap((l) => [`pl${l}`, `gy${l}`, `gx${l}`, `dst${l}`, `nr${l}`, `nc${l}`]),
    ];
    // column masks of the five row vectors at ix: lanes inside [0, W)
    const masks = [0, 1, 2, 3, 4]
      .map((k) => laneMask(`m${k}`, `(i32.add ${g('ix')} (i32.const ${4 * k}))`))
      .join('\n            ');
    /** the loop over the channels c of the current quad: V at $o (+32 per channel), the planes named in `planes` advance by x_sc */
    const channels = (
      label: string,
      code: string,
      planes: string[],
    ) => `(local.set $c (i32.const 0)) (local.set $o ${g('o0')})
        (block $${label}_d (loop $${label}_l
          (br_if $${label}_d (i32.ge_u ${g('c')} ${g('C')}))
        ${code}
          (local.set $o (i32.add ${g('o')} (i32.const 32)))
          ${planes.map((n) => inc(n, g('xsc4'))).join(' ')}
          ${inc('c')}
          (br $${label}_l)))`;
    return `  (func (export "wino_fused4") (param $params i32) (param $t0 i32) (param $t1 i32)
    ${WINO_FUSED_PARAMS.map((n) => `(local $${n} i32)`).join(' ')}
    ${i32.map((n) => `(local $${n} i32)`).join(' ')}
    ${v128.map((n) => `(local $${n} v128)`).join(' ')}
    ${tmpLocals.map((n) => `(local ${n} v128)`).join(' ')}
    ${loadParams}
    (local.set $tHW (i32.mul ${g('tH')} ${g('tW')}))
    ;; V[k]'s stride: tb C floats rounded up to an odd number of 64-byte lines, so the 36 slices of
    ;; one (tile, channel) fall in 36 distinct L1 sets (at tb C 4 = a multiple of 4 KiB they shared one)
    (local.set $ksv (i32.shl (i32.or (i32.shr_u (i32.add (i32.shl (i32.mul ${g('tb')} ${g('C')}) (i32.const 2)) (i32.const 63)) (i32.const 6)) (i32.const 1)) (i32.const 6)))
    (local.set $ksm (i32.shl ${g('tb')} (i32.const 2)))
    (local.set $cms (i32.mul ${g('tb')} (i32.const 144)))
    (local.set $rowb (i32.shl ${g('OW')} (i32.const 2)))
    (local.set $xsc4 (i32.shl ${g('x_sc')} (i32.const 2)))
    ;; every plane's loads (columns -2 .. W + 5 of rows 0 .. H - 1) lie inside the memory: the gather path loads inline
    (local.set $safe (i32.and (i32.ge_u ${g('x')} (i32.const 8))
      (i32.lt_u (i32.shr_u (i32.add ${g('x')} (i32.shl (i32.add (i32.add (i32.mul (i32.sub (i32.div_u ${g('ntiles')} ${g('tHW')}) (i32.const 1)) ${g('x_sb')})
          (i32.mul (i32.sub ${g('C')} (i32.const 1)) ${g('x_sc')})) (i32.add (i32.mul ${g('H')} ${g('W')}) (i32.const 8))) (i32.const 2))) (i32.const 16))
        (memory.size))))
    (local.set $slot (call $gemm_claim ${g('flags')} ${g('nslots')}))
    (local.set $vs (i32.add ${g('scratch')} (i32.mul ${g('slot')} ${g('slot_bytes')})))
    (local.set $ms (i32.add ${g('vs')} (i32.mul ${g('ksv')} (i32.const 36))))
    (local.set $tab (i32.add ${g('ms')} (i32.mul (i32.mul ${g('cms')} ${g('mpan')}) (i32.const 4))))
    (local.set $t ${g('t0')})
    (block $done (loop $tasks
      (br_if $done (i32.ge_u ${g('t')} ${g('t1')}))
      (local.set $p0 (i32.mul ${g('t')} ${g('tb')}))
      (local.set $cnt (i32.sub ${g('ntiles')} ${g('p0')}))
      (if (i32.gt_u ${g('cnt')} ${g('tb')}) (then (local.set $cnt ${g('tb')})))
      (local.set $cnt4 (i32.and (i32.add ${g('cnt')} (i32.const 3)) (i32.const -4)))
      (local.set $npan (i32.shr_u (i32.add ${g('cnt')} (i32.const 7)) (i32.const 3)))
      ;; 0. the tile table: [x image offset, iy, ix, y offset, valid rows, valid columns]; lanes past cnt: rows far outside, nothing valid
      (local.set $p (i32.const 0))
      (block $pd (loop $pl
        (br_if $pd (i32.ge_u ${g('p')} ${g('cnt4')}))
        (local.set $a (i32.add ${g('tab')} (i32.shl ${g('p')} (i32.const 5))))
        (if (i32.lt_u ${g('p')} ${g('cnt')})
          (then
            (local.set $gp (i32.add ${g('p0')} ${g('p')}))
            (local.set $k (i32.div_u ${g('gp')} ${g('tHW')}))
            (local.set $tr (i32.rem_u ${g('gp')} ${g('tHW')}))
            (local.set $ty (i32.shl (i32.div_u ${g('tr')} ${g('tW')}) (i32.const 2)))
            (local.set $tx (i32.shl (i32.rem_u ${g('tr')} ${g('tW')}) (i32.const 2)))
            (i32.store offset=0 ${g('a')} (i32.mul ${g('k')} ${g('x_sb')}))
            (i32.store offset=4 ${g('a')} (i32.sub ${g('ty')} ${g('ph')}))
            (i32.store offset=8 ${g('a')} (i32.sub ${g('tx')} ${g('pw')}))
            (i32.store offset=12 ${g('a')} (i32.add (i32.mul ${g('k')} ${g('y_sb')}) (i32.add (i32.mul ${g('ty')} ${g('OW')}) ${g('tx')})))
            (local.set $j (i32.sub ${g('OH')} ${g('ty')}))
            (i32.store offset=16 ${g('a')} (select (i32.const 4) ${g('j')} (i32.gt_s ${g('j')} (i32.const 4))))
            (local.set $j (i32.sub ${g('OW')} ${g('tx')}))
            (i32.store offset=20 ${g('a')} (select (i32.const 4) ${g('j')} (i32.gt_s ${g('j')} (i32.const 4)))))
          (else
            (i32.store offset=0 ${g('a')} (i32.const 0))
            (i32.store offset=4 ${g('a')} (i32.const -65536))
            (i32.store offset=8 ${g('a')} (i32.const 0))
            (i32.store offset=12 ${g('a')} (i32.const 0))
            (i32.store offset=16 ${g('a')} (i32.const 0))
            (i32.store offset=20 ${g('a')} (i32.const 0))))
        ${inc('p')}
        (br $pl)))
      ;; 1. V of the block, packed [k][panel][c][8], four tiles at a time, a quad's channels in turn
      (local.set $ks ${g('ksv')})
      (local.set $p (i32.const 0))
      (block $pd (loop $pl
        (br_if $pd (i32.ge_u ${g('p')} ${g('cnt')}))
        (local.set $o0 (i32.add ${g('vs')} (i32.add (i32.shl (i32.mul (i32.shr_u ${g('p')} (i32.const 3)) ${g('C')}) (i32.const 5))
          (i32.shl (i32.and ${g('p')} (i32.const 7)) (i32.const 2)))))
        (local.set $xb ${tab(g('p'), 0)})
        (local.set $iy ${tab(g('p'), 1)})
        (local.set $ix ${tab(g('p'), 2)})
        (local.set $gp (i32.add ${g('p')} (i32.const 3)))
        (if (i32.and (i32.lt_u ${g('gp')} ${g('cnt')})
              (i32.and (i32.eq ${tab(g('gp'), 1)} ${g('iy')})
                (i32.and (i32.eq ${tab(g('gp'), 2)} (i32.add ${g('ix')} (i32.const 12))) (i32.eq ${tab(g('gp'), 0)} ${g('xb')}))))
          (then ;; four tiles on one tile row
            (local.set $plane (i32.add ${g('x')} (i32.shl ${g('xb')} (i32.const 2))))
            (if (i32.and (i32.and (i32.ge_s ${g('iy')} (i32.const 0)) (i32.le_s (i32.add ${g('iy')} (i32.const 6)) ${g('H')}))
                         (i32.and (i32.ge_s ${g('ix')} (i32.const 0)) (i32.le_s (i32.add ${g('ix')} (i32.const 20)) ${g('W')})))
              (then
        ${channels('fast', fast.code, ['plane'])})
              (else
            ${masks}
        ${channels('edge', edge.code, ['plane'])})))
          (else ;; tiles on different rows or past the block's end, lane by lane
            ${[0, 1, 2, 3]
              .map(
                (l) => `(local.set $gp (i32.add ${g('p')} (i32.const ${l})))
            (local.set $pl${l} (i32.add ${g('x')} (i32.shl ${tab(g('gp'), 0)} (i32.const 2))))
            (local.set $gy${l} ${tab(g('gp'), 1)}) (local.set $gx${l} ${tab(g('gp'), 2)})
            ${laneMask(`ma${l}`, g(`gx${l}`))}
            ${laneMask(`mb${l}`, `(i32.add ${g(`gx${l}`)} (i32.const 4))`)}`,
              )
              .join('\n            ')}
            (if ${g('safe')}
              (then
        ${channels('gather', gatherInline.code, ['pl0', 'pl1', 'pl2', 'pl3'])})
              (else
        ${channels('gcall', gather.code, ['pl0', 'pl1', 'pl2', 'pl3'])}))))
        ${inc('p', '(i32.const 4)')}
        (br $pl)))
      ${blockGemms(36)}
      ;; 3. y = act(At M A + bias) of the block, four tiles at a time
      (local.set $ks ${g('ksm')})
      (local.set $oc (i32.const 0))
      (block $od (loop $ol
        (br_if $od (i32.ge_u ${g('oc')} ${g('O')}))
        (local.set $b ${ZERO})
        (if ${g('bias')} (then (local.set $b (f32x4.splat (f32.load (i32.add ${g('bias')} (i32.shl ${g('oc')} (i32.const 2))))))))
        (local.set $p (i32.const 0))
        (block $pd (loop $pl
          (br_if $pd (i32.ge_u ${g('p')} ${g('cnt')}))
          (local.set $q (i32.add ${g('ms')} (i32.shl (i32.add (i32.mul (i32.mul ${g('oc')} (i32.const 36)) ${g('tb')}) ${g('p')}) (i32.const 2))))
          ${[0, 1, 2, 3]
            .map(
              (l) => `(local.set $gp (i32.add ${g('p')} (i32.const ${l})))
          (local.set $dst${l} (i32.add ${g('y')} (i32.shl (i32.add ${tab(g('gp'), 3)} (i32.mul ${g('oc')} ${g('y_sc')})) (i32.const 2))))
          (local.set $nr${l} ${tab(g('gp'), 4)}) (local.set $nc${l} ${tab(g('gp'), 5)})`,
            )
            .join('\n          ')}
        ${outT.code}
          ${inc('p', '(i32.const 4)')}
          (br $pl)))
        ${inc('oc')}
        (br $ol)))
      ${inc('t')}
      (br $tasks)))
    (call $gemm_release ${g('flags')} ${g('slot')}))
${weightsKernel(f)}`;
  },
};

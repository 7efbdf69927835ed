// Winograd F(4x4, 3x3) transforms for the grad-weight of stride-1 3x3 convs (launcher:
// ../winograd_grad_weight_f4.ts), the points of the F(4x4) forward (BT4, G4, AT4 in
// winograd_f4_transforms.ts). With Y = At [U . V] A per 4x4 output tile, U = G g Gt, V = Bt d B:
//   dg = Gt dU G,   dU[k][o][c] = sum over tiles of M'[k][o, tile] V[k][c, tile],   M' = A dY At
// The tiles of a pass (n images of tH x tW tiles) are numbered p = n tH tW + ty tW + tx, and every
// kernel takes them four at a time (lane l: tile p + l), running to np rounded up to 4: the lanes
// past np get zeros, so the GEMMs' dot products can run over them.
//   wino_in4(x, v, C, H, W, x_sb, x_sc, tH, tW, np, P, KS, ph, pw, t0, t1)
//     one task per input channel c: the 6x6 input tile d of p at rows 4 ty - ph .., columns
//     4 tx - pw .. of image n (zero outside the plane) becomes V = Bt d B, element k = 6 i + j
//     stored at v + k KS + (c P + p) 4 (KS: bytes between the slices). Four tiles on one tile row load a row as five vectors
//     (masked by column at the border: rowSameLine); fours across tile rows two vectors per lane
//     (rowGatherInline; $wg_row where a plane's reads could leave the memory).
//   wino_gy4(gy, m, O, OH, OW, tH, tW, np, P, KS, t0, t1)
//     one task per output channel o: the 4x4 tile dY of gy (N, O, OH, OW contiguous, zeros past the
//     edge) becomes M' = A dY At (A = AT4 transposed, 6x4), element k = 6 i + j at m + k KS + (o P + p) 4.
//   wino_gw_out4(du, gw, O, C, parts, t0, t1)
//     one task per output channel o: dU[k] = sum over s < parts of du[((k parts + s) O + o) C + c],
//     then gw[o][c][3 y + x] = (Gt dU G)[y][x] (G = G4, 6x3). Four input channels per f32x4, the
//     last C % 4 one per vector.
// The arithmetic is generated from the matrices (linearMap): zeros skipped, +-1 as adds, the rest
// multiply-adds (relaxed where the build has it).
import type { WasmFeatures, WatFragment } from '../abi.js';
import {
  AT4,
  E6,
  G4,
  ZERO,
  g,
  inc,
  inputTransform,
  laneMask,
  linearMap,
  rowGather,
  rowGatherInline,
  rowSameLine,
} from './winograd_f4_transforms.js';

const transposeM = (m: number[][]) => m[0].map((_, j) => m.map((r) => r[j]));
/** A (6x4): M' = A dY At */
const A4 = transposeM(AT4);
/** Gt (3x6): dg = Gt dU G */
const GT4 = transposeM(G4);
const lanes = (idx: number[]) => idx.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]).join(' ');
const shuf = (a: string, b: string, idx: number[]) => `(i8x16.shuffle ${lanes(idx)} ${a} ${b})`;
const L4 = [0, 1, 2, 3];

/** the tile state ($n, $ty, $tx) moves on by one tile */
const step1 = `${inc('tx')}
        (if (i32.eq ${g('tx')} ${g('tW')}) (then (local.set $tx (i32.const 0)) ${inc('ty')}
          (if (i32.eq ${g('ty')} ${g('tH')}) (then (local.set $ty (i32.const 0)) ${inc('n')}))))`;

/** 4x4 transpose of the vectors a[0..3] into locals out[0..3], through $h0..$h3 */
const transpose = (a: string[], out: string[]) =>
  `(local.set $h0 ${shuf(g(a[0]), g(a[1]), [0, 4, 1, 5])}) (local.set $h1 ${shuf(g(a[0]), g(a[1]), [2, 6, 3, 7])})
        (local.set $h2 ${shuf(g(a[2]), g(a[3]), [0, 4, 1, 5])}) (local.set $h3 ${shuf(g(a[2]), g(a[3]), [2, 6, 3, 7])})
        (local.set $${out[0]} ${shuf(g('h0'), g('h2'), [0, 1, 4, 5])}) (local.set $${out[1]} ${shuf(g('h0'), g('h2'), [2, 3, 6, 7])})
        (local.set $${out[2]} ${shuf(g('h1'), g('h3'), [0, 1, 4, 5])}) (local.set $${out[3]} ${shuf(g('h1'), g('h3'), [2, 3, 6, 7])})`;

function inKernel(f: WasmFeatures) {
  const fast = inputTransform(f, (i) => rowSameLine(i, false));
  const edge = inputTransform(f, (i) => rowSameLine(i, true));
  const gather = inputTransform(f, rowGather);
  const gatherInline = inputTransform(f, rowGatherInline);
  const tmp = [...new Set([...fast.locals, ...edge.locals, ...gather.locals, ...gatherInline.locals])];
  const v128 = [
    ...E6,
    ...L4.flatMap((l) => [`ma${l}`, `mb${l}`, `a${l}`, `b${l}`]),
    ...'h0 h1 h2 h3 v0 v1 v2 v3 v4 m0 m1 m2 m3 m4'.split(' '),
  ];
  const i32 = [
    ...'t c o ks p n ty tx plane iy ix ea safe nimg'.split(' '),
    ...L4.flatMap((l) => [`pl${l}`, `gy${l}`, `gx${l}`]),
  ];
  const masks = [0, 1, 2, 3, 4].map((k) => laneMask(`m${k}`, `(i32.add ${g('ix')} (i32.const ${4 * k}))`)).join('\n');
  const plane = `(i32.add ${g('x')} (i32.shl (i32.add (i32.mul ${g('n')} ${g('x_sb')}) (i32.mul ${g('c')} ${g('x_sc')})) (i32.const 2)))`;
  return `  (func (export "wino_in4") (param $x i32) (param $v i32) (param $C i32) (param $H i32) (param $W i32)
      (param $x_sb i32) (param $x_sc i32) (param $tH i32) (param $tW i32) (param $np i32) (param $P i32)
      (param $KS i32) (param $ph i32) (param $pw i32) (param $t0 i32) (param $t1 i32)
    ${i32.map((n) => `(local $${n} i32)`).join(' ')}
    ${v128.map((n) => `(local $${n} v128)`).join(' ')}
    ${tmp.map((n) => `(local ${n} v128)`).join(' ')}
    (local.set $ks ${g('KS')})
    (local.set $nimg (i32.div_u ${g('np')} (i32.mul ${g('tH')} ${g('tW')})))
    ;; every plane's loads (columns -2 .. W + 5 of rows 0 .. H - 1) lie inside the memory: gathers load inline
    (local.set $safe (i32.and (i32.ge_u ${g('x')} (i32.const 8))
      (i32.lt_u (i32.shr_u (i32.add ${g('x')} (i32.shl (i32.add (i32.add (i32.mul (i32.sub ${g('nimg')} (i32.const 1)) ${g('x_sb')})
          (i32.mul (i32.sub ${g('C')} (i32.const 1)) ${g('x_sc')})) (i32.add (i32.mul ${g('H')} ${g('W')}) (i32.const 8))) (i32.const 2))) (i32.const 16))
        (memory.size))))
    (local.set $t ${g('t0')})
    (block $done (loop $tasks
      (br_if $done (i32.ge_u ${g('t')} ${g('t1')}))
      (local.set $c ${g('t')})
      (local.set $o (i32.add ${g('v')} (i32.shl (i32.mul ${g('c')} ${g('P')}) (i32.const 2))))
      (local.set $p (i32.const 0)) (local.set $n (i32.const 0)) (local.set $ty (i32.const 0)) (local.set $tx (i32.const 0))
      (block $pd (loop $pl
        (br_if $pd (i32.ge_u ${g('p')} ${g('np')}))
        (if (i32.le_u (i32.add ${g('tx')} (i32.const 4)) ${g('tW')})
          (then ;; four tiles on one tile row of image n
            (local.set $plane ${plane})
            (local.set $iy (i32.sub (i32.shl ${g('ty')} (i32.const 2)) ${g('ph')}))
            (local.set $ix (i32.sub (i32.shl ${g('tx')} (i32.const 2)) ${g('pw')}))
            (if (i32.and (i32.and (i32.ge_s ${g('iy')} (i32.const 0)) (i32.le_s (i32.add ${g('iy')} (i32.const 6)) ${g('H')}))
                         (i32.and (i32.ge_s ${g('ix')} (i32.const 0)) (i32.le_s (i32.add ${g('ix')} (i32.const 20)) ${g('W')})))
              (then
        ${fast.code})
              (else
        ${masks}
        ${edge.code}))
            (local.set $tx (i32.add ${g('tx')} (i32.const 3)))
            ${step1})
          (else ;; tiles across tile rows or images, or past np (rows far outside: zeros), lane by lane
            ${L4.map(
              (l) => `(if (i32.lt_u ${g('n')} ${g('nimg')})
              (then (local.set $pl${l} ${plane})
                (local.set $gy${l} (i32.sub (i32.shl ${g('ty')} (i32.const 2)) ${g('ph')}))
                (local.set $gx${l} (i32.sub (i32.shl ${g('tx')} (i32.const 2)) ${g('pw')})))
              (else (local.set $pl${l} ${g('x')}) (local.set $gy${l} (i32.const -65536)) (local.set $gx${l} (i32.const 0))))
            ${laneMask(`ma${l}`, g(`gx${l}`))}
            ${laneMask(`mb${l}`, `(i32.add ${g(`gx${l}`)} (i32.const 4))`)}
            ${step1}`,
            ).join('\n            ')}
            (if ${g('safe')}
              (then
        ${gatherInline.code})
              (else
        ${gather.code}))))
        (local.set $o (i32.add ${g('o')} (i32.const 16)))
        ${inc('p', '(i32.const 4)')}
        (br $pl)))
      ${inc('t')}
      (br $tasks))))
`;
}

function gyKernel(f: WasmFeatures) {
  const locals = new Set<string>();
  const code: string[] = [];
  // rows of dY: r[a][j] = sum_b A[j][b] dY[a][b] (lane l: tile l)
  for (let a = 0; a < 4; a++) {
    code.push(`$ROW${a}`); // the row's loads, filled in per path by transform()
    const m = linearMap(
      f,
      A4,
      L4.map((b) => g(`e${b}`)),
      (j, e) => `(local.set $r${a}${j} ${e})`,
      'z',
    );
    m.locals.forEach((l) => locals.add(l));
    code.push(m.code);
  }
  // columns: M'[i][j] = sum_a A[i][a] r[a][j], stored at $o + (6 i + j) $ks
  for (let j = 0; j < 6; j++) {
    const m = linearMap(
      f,
      A4,
      L4.map((a) => g(`r${a}${j}`)),
      (i, e) => `(v128.store (i32.add ${g('o')} (i32.mul ${g('ks')} (i32.const ${6 * i + j}))) ${e})`,
      'z',
    );
    m.locals.forEach((l) => locals.add(l));
    code.push(m.code);
  }
  const transform = (row: (a: number) => string) =>
    code.map((c) => c.replace(/^\$ROW(\d)$/, (_, a) => row(+a))).join('\n        ');
  const pxAddr = (plane: string, oy: string, ox: string) =>
    `(i32.add ${plane} (i32.shl (i32.add (i32.mul ${oy} ${g('OW')}) ${ox}) (i32.const 2)))`;
  // four tiles on one row, inside: row a of the four is four vectors, transposed to one per column
  const rowFast = (
    a: number,
  ) => `(local.set $ea ${pxAddr(g('plane'), `(i32.add ${g('oy')} (i32.const ${a}))`, g('ox'))})
        ${L4.map((l) => `(local.set $a${l} (v128.load offset=${16 * l} ${g('ea')}))`).join(' ')}
        ${transpose(['a0', 'a1', 'a2', 'a3'], ['e0', 'e1', 'e2', 'e3'])}`;
  // any four: per lane one load masked by column ($ma{l}), zeros on rows outside
  const rowInline = (a: number) => `${L4.map(
    (l) => `(local.set $ea (i32.add ${g(`gy${l}`)} (i32.const ${a})))
        (if (i32.lt_u ${g('ea')} ${g('OH')})
          (then (local.set $a${l} (v128.and (v128.load ${pxAddr(g(`pl${l}`), g('ea'), g(`gx${l}`))}) ${g(`ma${l}`)})))
          (else (local.set $a${l} ${ZERO})))`,
  ).join('\n        ')}
        ${transpose(['a0', 'a1', 'a2', 'a3'], ['e0', 'e1', 'e2', 'e3'])}`;
  const rowCall = (a: number) => `${L4.map(
    (l) =>
      `(local.set $a${l} (call $wg_row ${g(`pl${l}`)} (i32.add ${g(`gy${l}`)} (i32.const ${a})) ${g(`gx${l}`)} ${g('OH')} ${g('OW')}))`,
  ).join('\n        ')}
        ${transpose(['a0', 'a1', 'a2', 'a3'], ['e0', 'e1', 'e2', 'e3'])}`;
  const R = L4.flatMap((a) => [0, 1, 2, 3, 4, 5].map((j) => `r${a}${j}`));
  const v128 = [...'e0 e1 e2 e3 h0 h1 h2 h3'.split(' '), ...L4.flatMap((l) => [`a${l}`, `ma${l}`]), ...R];
  const i32 = [
    ...'t o ks p n ty tx plane oy ox ea safe nimg'.split(' '),
    ...L4.flatMap((l) => [`pl${l}`, `gy${l}`, `gx${l}`]),
  ];
  const plane = `(i32.add ${g('gy')} (i32.shl (i32.mul (i32.add (i32.mul ${g('n')} ${g('O')}) ${g('t')}) (i32.mul ${g('OH')} ${g('OW')})) (i32.const 2)))`;
  // lane mask of columns gx .. gx + 3 inside [0, OW)
  const maskOW = (name: string, col: string) =>
    laneMask(name, col).replace(`(i32x4.splat ${g('W')})`, `(i32x4.splat ${g('OW')})`);
  return `  (func (export "wino_gy4") (param $gy i32) (param $m i32) (param $O i32) (param $OH i32) (param $OW i32)
      (param $tH i32) (param $tW i32) (param $np i32) (param $P i32) (param $KS i32) (param $t0 i32) (param $t1 i32)
    ${i32.map((n) => `(local $${n} i32)`).join(' ')}
    ${v128.map((n) => `(local $${n} v128)`).join(' ')}
    ${[...locals].map((n) => `(local ${n} v128)`).join(' ')}
    (local.set $ks ${g('KS')})
    (local.set $nimg (i32.div_u ${g('np')} (i32.mul ${g('tH')} ${g('tW')})))
    ;; a tile's loads (4 columns from ox < OW) end at most 3 floats past the tensor: inside the memory?
    (local.set $safe (i32.lt_u (i32.shr_u (i32.add ${g('gy')} (i32.shl (i32.add (i32.mul ${g('nimg')} (i32.mul ${g('O')} (i32.mul ${g('OH')} ${g('OW')}))) (i32.const 4)) (i32.const 2))) (i32.const 16))
      (memory.size)))
    (local.set $t ${g('t0')})
    (block $done (loop $tasks
      (br_if $done (i32.ge_u ${g('t')} ${g('t1')}))
      (local.set $o (i32.add ${g('m')} (i32.shl (i32.mul ${g('t')} ${g('P')}) (i32.const 2))))
      (local.set $p (i32.const 0)) (local.set $n (i32.const 0)) (local.set $ty (i32.const 0)) (local.set $tx (i32.const 0))
      (block $pd (loop $pl
        (br_if $pd (i32.ge_u ${g('p')} ${g('np')}))
        (local.set $oy (i32.shl ${g('ty')} (i32.const 2)))
        (local.set $ox (i32.shl ${g('tx')} (i32.const 2)))
        (if (i32.and (i32.le_u (i32.add ${g('tx')} (i32.const 4)) ${g('tW')})
              (i32.and (i32.le_u (i32.add ${g('ox')} (i32.const 16)) ${g('OW')}) (i32.le_u (i32.add ${g('oy')} (i32.const 4)) ${g('OH')})))
          (then ;; four whole tiles on one tile row
            (local.set $plane ${plane})
        ${transform(rowFast)}
            (local.set $tx (i32.add ${g('tx')} (i32.const 3)))
            ${step1})
          (else ;; lane by lane: tiles cut by the edge, across tile rows, or past np (rows far outside: zeros)
            ${L4.map(
              (l) => `(if (i32.lt_u ${g('n')} ${g('nimg')})
              (then (local.set $pl${l} ${plane})
                (local.set $gy${l} (i32.shl ${g('ty')} (i32.const 2))) (local.set $gx${l} (i32.shl ${g('tx')} (i32.const 2))))
              (else (local.set $pl${l} ${g('gy')}) (local.set $gy${l} (i32.const -65536)) (local.set $gx${l} (i32.const 0))))
            ${maskOW(`ma${l}`, g(`gx${l}`))}
            ${step1}`,
            ).join('\n            ')}
            (if ${g('safe')}
              (then
        ${transform(rowInline)})
              (else
        ${transform(rowCall)}))))
        (local.set $o (i32.add ${g('o')} (i32.const 16)))
        ${inc('p', '(i32.const 4)')}
        (br $pl)))
      ${inc('t')}
      (br $tasks))))
`;
}

function outKernel(f: WasmFeatures) {
  const locals = new Set<string>();
  const U = [...Array(36).keys()];
  const Hs = [0, 1, 2].flatMap((y) => [0, 1, 2, 3, 4, 5].map((j) => `hh${y}${j}`));
  /** the body for four channels (vector) or one (lane 0 of a splat) */
  const body = (vec: boolean) => {
    const load = (a: string) => (vec ? `(v128.load ${a})` : `(f32x4.splat (f32.load ${a}))`);
    const out: string[] = [...U.map((k) => `(local.set $u${k} ${ZERO})`)];
    out.push(`(local.set $q ${g('src')}) (local.set $s (i32.const 0))
        (block $pd${vec ? 'v' : 's'} (loop $pl${vec ? 'v' : 's'} (br_if $pd${vec ? 'v' : 's'} (i32.ge_u ${g('s')} ${g('parts')}))
          ${U.map((k) => `(local.set $u${k} (f32x4.add ${g(`u${k}`)} ${load(`(i32.add ${g('q')} (i32.mul ${g('ks')} (i32.const ${k})))`)}))`).join('\n          ')}
          ${inc('q', g('ps'))} ${inc('s')} (br $pl${vec ? 'v' : 's'})))`);
    // h = Gt dU (3 x 6), column by column
    for (let j = 0; j < 6; j++) {
      const m = linearMap(
        f,
        GT4,
        [0, 1, 2, 3, 4, 5].map((i) => g(`u${6 * i + j}`)),
        (y, e) => `(local.set $hh${y}${j} ${e})`,
        'q',
      );
      m.locals.forEach((l) => locals.add(l));
      out.push(m.code);
    }
    // gw = h G (3 x 3), row by row
    for (let y = 0; y < 3; y++) {
      const m = linearMap(
        f,
        GT4,
        [0, 1, 2, 3, 4, 5].map((j) => g(`hh${y}${j}`)),
        (x, e) =>
          vec
            ? `(local.set $w ${e}) ${L4.map((l) => `(f32.store offset=${4 * (9 * l + 3 * y + x)} ${g('dst')} (f32x4.extract_lane ${l} ${g('w')}))`).join(' ')}`
            : `(f32.store offset=${4 * (3 * y + x)} ${g('dst')} (f32x4.extract_lane 0 ${e}))`,
        'q',
      );
      m.locals.forEach((l) => locals.add(l));
      out.push(m.code);
    }
    return out.join('\n        ');
  };
  const vecBody = body(true),
    oneBody = body(false);
  const addrs = `(local.set $src (i32.add ${g('du')} (i32.shl (i32.add (i32.mul ${g('t')} ${g('C')}) ${g('c')}) (i32.const 2))))
        (local.set $dst (i32.add ${g('gw')} (i32.mul (i32.add (i32.mul ${g('t')} ${g('C')}) ${g('c')}) (i32.const 36))))`;
  return `  (func (export "wino_gw_out4") (param $du i32) (param $gw i32) (param $O i32) (param $C i32) (param $parts i32)
      (param $t0 i32) (param $t1 i32)
    (local $t i32) (local $c i32) (local $src i32) (local $dst i32) (local $q i32) (local $s i32) (local $ks i32) (local $ps i32)
    (local $w v128) ${U.map((k) => `(local $u${k} v128)`).join(' ')} ${Hs.map((h) => `(local $${h} v128)`).join(' ')}
    ${[...locals].map((n) => `(local ${n} v128)`).join(' ')}
    ;; dU[k] part s at du + ((k parts + s) O C) * 4: ps between parts, ks between k's
    (local.set $ps (i32.shl (i32.mul ${g('O')} ${g('C')}) (i32.const 2)))
    (local.set $ks (i32.mul ${g('ps')} ${g('parts')}))
    (local.set $t ${g('t0')})
    (block $done (loop $tasks
      (br_if $done (i32.ge_u ${g('t')} ${g('t1')}))
      (local.set $c (i32.const 0))
      (block $cd (loop $cl
        (br_if $cd (i32.gt_u (i32.add ${g('c')} (i32.const 4)) ${g('C')}))
        ${addrs}
        ${vecBody}
        ${inc('c', '(i32.const 4)')} (br $cl)))
      (block $sd (loop $sl
        (br_if $sd (i32.ge_u ${g('c')} ${g('C')}))
        ${addrs}
        ${oneBody}
        ${inc('c')} (br $sl)))
      ${inc('t')}
      (br $tasks))))
`;
}

export const winogradGw4: WatFragment = {
  name: 'winograd_gw4',
  wat: (f) => inKernel(f) + gyKernel(f) + outKernel(f),
};

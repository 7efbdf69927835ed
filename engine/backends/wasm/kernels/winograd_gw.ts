// Winograd F(2x2, 3x3) transforms for the grad-weight of stride-1 3x3 convs (launcher:
// ../winograd_grad_weight.ts). With Y = At [U . V] A per tile, U = G g Gt and V = Bt d B (wino_in):
//   dg = Gt dU G,   dU[k][o][c] = sum over tiles of M'[k][o, tile] V[k][c, tile],   M' = A dY At
// where dY is a tile's 2x2 output gradient (zeros past the output's edge).
//   wino_gy(gy, m, O, OH, OW, tH, tW, P, t0, t1)   (P: M's plane stride, >= N tH tW)
//     one task per (n, o) plane of gy (N, O, OH, OW contiguous): M' = A dY At, element k = 4i + j
//     stored at m[(k O + o) P + n tH tW + ty tW + tx]. A's rows (1 0; 1 1; 1 -1; 0 -1): a row
//     (y0, y1) becomes (y0, y0 + y1, y0 - y1, -y1), the same along columns. Four tiles per f32x4
//     where a tile row has four whole tiles left and the tile's second output row is inside.
//   wino_gw_out(du, gw, O, C, parts, t0, t1)
//     one task per output channel o: dU[k] = sum over s < parts of du[((k parts + s) O + o) C + c]
//     (the partial blocks of split or batched GEMMs), then gw[o][c][3 y + x] = (Gt dU G)[y][x],
//     Gt = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1]: (u0 + (u1 + u2) / 2, (u1 - u2) / 2, (u1 + u2) / 2 + u3)
//     per row, then per column. Four input channels per f32x4, the last C % 4 one at a time.
// Only adds, subtracts and halvings: exact up to f32 rounding.
import type { WatFragment } from '../abi.js';

const g = (n: string) => `(local.get $${n})`;
const set = (n: string, v: string) => `(local.set $${n} ${v})`;
const inc = (n: string, by = '(i32.const 1)') => set(n, `(i32.add ${g(n)} ${by})`);
const lanes = (idx: number[]) => idx.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]).join(' ');
const shuf = (a: string, b: string, idx: number[]) => `(i8x16.shuffle ${lanes(idx)} ${a} ${b})`;

/** ops on one value type: f32x4 (four tiles / channels per vector) or f32 (one) */
const ops = (ty: 'f32x4' | 'f32') => ({
  add: (a: string, b: string) => `(${ty}.add ${a} ${b})`,
  sub: (a: string, b: string) => `(${ty}.sub ${a} ${b})`,
  neg: (a: string) => `(${ty}.neg ${a})`,
  half: (a: string) =>
    ty === 'f32' ? `(f32.mul ${a} (f32.const 0.5))` : `(f32x4.mul ${a} (v128.const f32x4 0.5 0.5 0.5 0.5))`,
});

/**
 * M' = A dY At from locals $y00 $y01 $y10 $y11 (type ty), stored by store(k, value) for k = 4 i + j.
 * Uses locals $r0j, $r1j (j < 4).
 */
function gyTransform(ty: 'f32x4' | 'f32', store: (k: number, v: string) => string) {
  const o = ops(ty);
  const out: string[] = [];
  for (const a of [0, 1]) {
    const [y0, y1] = [g(`y${a}0`), g(`y${a}1`)];
    out.push(set(`r${a}0`, y0), set(`r${a}1`, o.add(y0, y1)), set(`r${a}2`, o.sub(y0, y1)), set(`r${a}3`, o.neg(y1)));
  }
  for (let j = 0; j < 4; j++) {
    const [r0, r1] = [g(`r0${j}`), g(`r1${j}`)];
    [r0, o.add(r0, r1), o.sub(r0, r1), o.neg(r1)].forEach((v, i) => out.push(store(4 * i + j, v)));
  }
  return out.join('\n            ');
}

/** Gt u G for the 16 locals $u0 .. $u15 (u[4 i + j]), stored by store(3 y + x, value). Uses $h0 .. $h11. */
function gwTransform(ty: 'f32x4' | 'f32', store: (tap: number, v: string) => string) {
  const o = ops(ty);
  // Gt applied to (a0, a1, a2, a3): (a0 + (a1 + a2) / 2, (a1 - a2) / 2, (a1 + a2) / 2 + a3)
  const gt = (a: string[]) => {
    const s = o.half(o.add(a[1], a[2]));
    return [o.add(a[0], s), o.half(o.sub(a[1], a[2])), o.add(s, a[3])];
  };
  const out: string[] = [];
  // h = Gt u (3 x 4), column by column
  for (let j = 0; j < 4; j++)
    gt([0, 1, 2, 3].map((i) => g(`u${4 * i + j}`))).forEach((v, y) => out.push(set(`h${4 * y + j}`, v)));
  // gw = h G (3 x 3), row by row
  for (let y = 0; y < 3; y++)
    gt([0, 1, 2, 3].map((j) => g(`h${4 * y + j}`))).forEach((v, x) => out.push(store(3 * y + x, v)));
  return out.join('\n          ');
}

export const winogradGw: WatFragment = {
  name: 'winograd_gw',
  wat: () => {
    const R = [0, 1].flatMap((a) => [0, 1, 2, 3].map((j) => `r${a}${j}`));
    const Y = ['y00', 'y01', 'y10', 'y11'];
    const kAddr = (k: number) => `(i32.add ${g('q')} (i32.mul ${g('ks')} (i32.const ${k})))`;
    const pxAddr = (dy: number, dx: string) =>
      `(i32.add ${g('plane')} (i32.shl (i32.add (i32.mul (i32.add ${g('oy')} (i32.const ${dy})) ${g('OW')}) ${dx}) (i32.const 2)))`;
    // scalar tile: dY's entries outside OH x OW are 0
    const ld = (dy: number, dx: number) => {
      const load = `(f32.load ${pxAddr(dy, `(i32.add ${g('ox')} (i32.const ${dx}))`)})`;
      const conds = [
        dy ? `(i32.lt_u (i32.add ${g('oy')} (i32.const 1)) ${g('OH')})` : '',
        dx ? `(i32.lt_u (i32.add ${g('ox')} (i32.const 1)) ${g('OW')})` : '',
      ].filter(Boolean);
      if (conds.length === 0) return load;
      const cond = conds.length === 2 ? `(i32.and ${conds[0]} ${conds[1]})` : conds[0];
      return `(if (result f32) ${cond} (then ${load}) (else (f32.const 0)))`;
    };
    const U = [...Array(16).keys()];
    const Hs = [...Array(12).keys()];
    // wino_gw_out's body for four channels (vector) or one (scalar): sum the parts of the 16 dU[k], transform, store
    const gwBody = (ty: 'f32x4' | 'f32') => {
      const load = (a: string) => (ty === 'f32' ? `(f32.load ${a})` : `(v128.load ${a})`);
      const zero = ty === 'f32' ? '(f32.const 0)' : '(v128.const i32x4 0 0 0 0)';
      const o = ops(ty);
      const sfx = ty === 'f32' ? 's' : '';
      const lines = U.map((k) => set(`u${k}${sfx}`, zero));
      lines.push(`${set('p', g('src'))}
          ${set('s', '(i32.const 0)')}
          (block $pd${sfx} (loop $pl${sfx} (br_if $pd${sfx} (i32.ge_u ${g('s')} ${g('parts')}))
            ${U.map((k) => set(`u${k}${sfx}`, o.add(g(`u${k}${sfx}`), load(`(i32.add ${g('p')} (i32.mul ${g('ks')} (i32.const ${k})))`)))).join('\n            ')}
            ${inc('p', g('ps'))} ${inc('s')} (br $pl${sfx})))`);
      const body = gwTransform(ty, (tap, v) => {
        if (ty === 'f32') return `(f32.store offset=${4 * tap} ${g('dst')} ${v})`;
        return [0, 1, 2, 3]
          .map((l) => `(f32.store offset=${4 * (9 * l + tap)} ${g('dst')} (f32x4.extract_lane ${l} ${v}))`)
          .join(' ');
      });
      // gwTransform reads $u / $h: alias the scalar ones by renaming in the text
      const txt = body.replace(/\$([uh])(\d+)/g, `$$$1$2${sfx}`);
      return lines.join('\n          ') + '\n          ' + txt;
    };
    return `  (func (export "wino_gy") (param $gy i32) (param $m i32) (param $O i32) (param $OH i32) (param $OW i32)
      (param $tH i32) (param $tW i32) (param $P i32) (param $t0 i32) (param $t1 i32)
    (local $t i32) (local $n i32) (local $oc i32) (local $plane i32) (local $ks i32) (local $q i32)
    (local $ty i32) (local $tx i32) (local $oy i32) (local $ox i32) (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    ${Y.map((y) => `(local $${y} v128) (local $${y}s f32)`).join(' ')} ${R.map((r) => `(local $${r} v128) (local $${r}s f32)`).join(' ')}
    (local.set $ks (i32.shl (i32.mul ${g('O')} ${g('P')}) (i32.const 2)))
    (local.set $t ${g('t0')})
    (block $done (loop $tasks
      (br_if $done (i32.ge_u ${g('t')} ${g('t1')}))
      ${set('n', `(i32.div_u ${g('t')} ${g('O')})`)}
      ${set('oc', `(i32.rem_u ${g('t')} ${g('O')})`)}
      ${set('plane', `(i32.add ${g('gy')} (i32.shl (i32.mul ${g('t')} (i32.mul ${g('OH')} ${g('OW')})) (i32.const 2)))`)}
      ${set('q', `(i32.add ${g('m')} (i32.shl (i32.add (i32.mul ${g('oc')} ${g('P')}) (i32.mul ${g('n')} (i32.mul ${g('tH')} ${g('tW')}))) (i32.const 2)))`)}
      ${set('ty', '(i32.const 0)')}
      (block $yd (loop $yl
        (br_if $yd (i32.ge_u ${g('ty')} ${g('tH')}))
        ${set('oy', `(i32.shl ${g('ty')} (i32.const 1))`)}
        ${set('tx', '(i32.const 0)')}
        (block $xd (loop $xl
          (br_if $xd (i32.ge_u ${g('tx')} ${g('tW')}))
          ${set('ox', `(i32.shl ${g('tx')} (i32.const 1))`)}
          (if (i32.and (i32.le_u (i32.add ${g('ox')} (i32.const 8)) ${g('OW')}) (i32.lt_u (i32.add ${g('oy')} (i32.const 1)) ${g('OH')}))
            (then ;; four tiles side by side, one per lane: rows oy, oy + 1, columns ox .. ox + 7
            ${set('a', `(v128.load ${pxAddr(0, g('ox'))})`)} ${set('b', `(v128.load offset=16 ${pxAddr(0, g('ox'))})`)}
            ${set('c', `(v128.load ${pxAddr(1, g('ox'))})`)} ${set('d', `(v128.load offset=16 ${pxAddr(1, g('ox'))})`)}
            ${set('y00', shuf(g('a'), g('b'), [0, 2, 4, 6]))} ${set('y01', shuf(g('a'), g('b'), [1, 3, 5, 7]))}
            ${set('y10', shuf(g('c'), g('d'), [0, 2, 4, 6]))} ${set('y11', shuf(g('c'), g('d'), [1, 3, 5, 7]))}
            ${gyTransform('f32x4', (k, v) => `(v128.store ${kAddr(k)} ${v})`)}
            (local.set $q (i32.add ${g('q')} (i32.const 16)))
            ${inc('tx', '(i32.const 4)')})
            (else
            ${Y.map((y) => set(`${y}s`, ld(Number(y[1]), Number(y[2])))).join('\n            ')}
            ${gyTransform('f32', (k, v) => `(f32.store ${kAddr(k)} ${v})`).replace(/\$([ry]\d\d)/g, '$$$1s')}
            (local.set $q (i32.add ${g('q')} (i32.const 4)))
            ${inc('tx')}))
          (br $xl)))
        ${inc('ty')}
        (br $yl)))
      ${inc('t')}
      (br $tasks))))
  (func (export "wino_gw_out") (param $du i32) (param $gw i32) (param $O i32) (param $C i32) (param $parts i32)
      (param $t0 i32) (param $t1 i32)
    (local $t i32) (local $c i32) (local $src i32) (local $dst i32) (local $p i32) (local $s i32) (local $ks i32) (local $ps i32)
    ${U.map((k) => `(local $u${k} v128) (local $u${k}s f32)`).join(' ')} ${Hs.map((k) => `(local $h${k} v128) (local $h${k}s f32)`).join(' ')}
    ;; dU[k] part s at du + ((k parts + s) O C) * 4: ks between k's, ps between parts
    ${set('ps', `(i32.shl (i32.mul ${g('O')} ${g('C')}) (i32.const 2))`)}
    ${set('ks', `(i32.mul ${g('ps')} ${g('parts')})`)}
    (local.set $t ${g('t0')})
    (block $done (loop $tasks
      (br_if $done (i32.ge_u ${g('t')} ${g('t1')}))
      ${set('c', '(i32.const 0)')}
      (block $cd (loop $cl
        (br_if $cd (i32.gt_u (i32.add ${g('c')} (i32.const 4)) ${g('C')}))
        ${set('src', `(i32.add ${g('du')} (i32.shl (i32.add (i32.mul ${g('t')} ${g('C')}) ${g('c')}) (i32.const 2)))`)}
        ${set('dst', `(i32.add ${g('gw')} (i32.mul (i32.add (i32.mul ${g('t')} ${g('C')}) ${g('c')}) (i32.const 36)))`)}
          ${gwBody('f32x4')}
        ${inc('c', '(i32.const 4)')} (br $cl)))
      (block $sd (loop $sl
        (br_if $sd (i32.ge_u ${g('c')} ${g('C')}))
        ${set('src', `(i32.add ${g('du')} (i32.shl (i32.add (i32.mul ${g('t')} ${g('C')}) ${g('c')}) (i32.const 2)))`)}
        ${set('dst', `(i32.add ${g('gw')} (i32.mul (i32.add (i32.mul ${g('t')} ${g('C')}) ${g('c')}) (i32.const 36)))`)}
          ${gwBody('f32')}
        ${inc('c')} (br $sl)))
      ${inc('t')}
      (br $tasks))))
`;
  },
};

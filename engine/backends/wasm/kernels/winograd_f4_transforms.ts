// The arithmetic of Winograd F(4x4, 3x3) on f32x4 for the fused kernel (kernels/winograd_f4.ts):
// the matrices, linearMap (a linear map's rows as adds, subtracts and multiply-adds, generated from
// the matrix), and the generators of the input transform (the rows of four tiles loaded three ways,
// d B, then Bt (.) in place in V) and of the output transform (At (.) in place in M, then per output
// row + bias, SiLU, transposed to one vector per tile and stored). Lane l of every vector is tile l
// of the four being transformed.
import type { WasmFeatures } from '../abi.js';
import { siluInline } from '../gemm_wat.js';

// The interpolation points are 0, 1, -1, 1/2, -2 and infinity rather than Lavin and Gray's
// 0, +-1, +-2: the f32 error per conv is 2-3x smaller (bench/winograd_error.py, C = 64: 3.3e-6
// against 7.9e-6 of the largest output; C = 70 in test/engine/wasm_winograd_f4.test.ts: 2.1e-6
// against 4.8e-6) for ~2 % more time (Bt's rows 1/2 and 3/4 no longer pair up as E +- O).
// Rows i < 5 of Bt are the coefficients of prod_{j != i} (x - p_j), row 5 of prod_j (x - p_j);
// G's row i is (1, p_i, p_i^2) / prod_{j != i} (p_i - p_j); At's column i is (1, p_i, p_i^2, p_i^3).

/** Bt (6x6): V = Bt d B */
export const BT4 = [
  [1, -1.5, -2, 1.5, 1, 0],
  [0, -1, 0.5, 2.5, 1, 0],
  [0, 1, -2.5, 0.5, 1, 0],
  [0, -2, -1, 2, 1, 0],
  [0, 0.5, -1, -0.5, 1, 0],
  [0, 1, -1.5, -2, 1.5, 1],
];
/** G (6x3): U = G g Gt (wino_weights4) */
export const G4 = [
  [1, 0, 0],
  [1 / 3, 1 / 3, 1 / 3],
  [-1 / 3, 1 / 3, -1 / 3],
  [-16 / 15, -8 / 15, -4 / 15],
  [1 / 15, -2 / 15, 4 / 15],
  [0, 0, 1],
];
/** At (4x6): Y = At M A */
export const AT4 = [
  [1, 1, 1, 1, 1, 0],
  [0, 1, -1, 0.5, -2, 0],
  [0, 1, 1, 0.25, 4, 0],
  [0, 1, -1, 0.125, -8, 1],
];

export const g = (n: string) => `(local.get $${n})`;
export const inc = (n: string, by = '(i32.const 1)') => `(local.set $${n} (i32.add ${g(n)} ${by}))`;
const lanes = (idx: number[]) => idx.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]).join(' ');
const shuf = (a: string, b: string, idx: number[]) => `(i8x16.shuffle ${lanes(idx)} ${a} ${b})`;
const splat = (c: number) => `(v128.const f32x4 ${c} ${c} ${c} ${c})`;
export const ZERO = '(v128.const i32x4 0 0 0 0)';

/**
 * Statements computing out_i = sum_c M[i][c] x_c for every row i of M on f32x4 values (xs: WAT
 * expressions, read more than once), handed to sink(i, expr). Zero coefficients are skipped, +-1
 * are adds and subtracts, others a multiply-add. Two columns whose coefficients have equal
 * magnitude in every row are summed and differenced once (At: x1 +- x2, x3 +- x4); two rows whose
 * coefficients agree on some terms and are opposite on the rest share both partial sums (Bt: rows
 * 1, 2 = E +- O). New v128 locals are named from `tmp` and listed in `locals`.
 */
export function linearMap(
  f: WasmFeatures,
  M: number[][],
  xs: string[],
  sink: (i: number, expr: string) => string,
  tmp: string,
): { code: string; locals: string[] } {
  const code: string[] = [],
    locals: string[] = [];
  const local = (name: string, expr: string) => {
    locals.push(`$${tmp}${name}`);
    code.push(`(local.set $${tmp}${name} ${expr})`);
    return `(local.get $${tmp}${name})`;
  };
  // basis: expressions with one coefficient per row
  const basis: { expr: string; coef: number[] }[] = [];
  const paired = new Set<number>();
  const ncol = xs.length;
  for (let a = 0; a < ncol; a++) {
    if (paired.has(a)) continue;
    for (let b = a + 1; b < ncol && !paired.has(a); b++) {
      if (paired.has(b)) continue;
      const same = M.some((r) => r[a] !== 0 && r[b] === r[a]),
        opp = M.some((r) => r[a] !== 0 && r[b] === -r[a]);
      if (!same || !opp || !M.every((r) => Math.abs(r[a]) === Math.abs(r[b]))) continue;
      paired.add(a).add(b);
      basis.push({
        expr: local(`s${a}${b}`, `(f32x4.add ${xs[a]} ${xs[b]})`),
        coef: M.map((r) => (r[b] === r[a] ? r[a] : 0)),
      });
      basis.push({
        expr: local(`d${a}${b}`, `(f32x4.sub ${xs[a]} ${xs[b]})`),
        coef: M.map((r) => (r[b] === -r[a] ? r[a] : 0)),
      });
    }
    if (!paired.has(a)) basis.push({ expr: xs[a], coef: M.map((r) => r[a]) });
  }
  const terms = M.map((_, i) => basis.filter((e) => e.coef[i] !== 0).map((e) => ({ c: e.coef[i], x: e.expr })));
  const lin = (ts: { c: number; x: string }[]) => {
    const order = [...ts].sort((p, q) => rank(p.c) - rank(q.c));
    const [first, ...rest] = order;
    let acc =
      first.c === 1 ? first.x : first.c === -1 ? `(f32x4.neg ${first.x})` : `(f32x4.mul ${first.x} ${splat(first.c)})`;
    for (const t of rest)
      acc =
        t.c === 1
          ? `(f32x4.add ${acc} ${t.x})`
          : t.c === -1
            ? `(f32x4.sub ${acc} ${t.x})`
            : f.relaxed
              ? `(f32x4.relaxed_madd ${t.x} ${splat(t.c)} ${acc})`
              : `(f32x4.add (f32x4.mul ${t.x} ${splat(t.c)}) ${acc})`;
    return acc;
  };
  const done = new Set<number>();
  for (let i = 0; i < M.length; i++) {
    if (done.has(i)) continue;
    const ti = terms[i];
    let partner = -1;
    for (let j = i + 1; j < M.length && partner < 0; j++) {
      const tj = terms[j];
      if (
        done.has(j) ||
        tj.length !== ti.length ||
        !ti.every((t, k) => tj[k].x === t.x && Math.abs(tj[k].c) === Math.abs(t.c))
      )
        continue;
      if (ti.some((t, k) => tj[k].c === t.c) && ti.some((t, k) => tj[k].c === -t.c)) partner = j;
    }
    if (partner < 0) {
      code.push(sink(i, lin(ti)));
      continue;
    }
    done.add(partner);
    const tj = terms[partner];
    const e = local(`e${i}`, lin(ti.filter((t, k) => tj[k].c === t.c)));
    const o = local(`o${i}`, lin(ti.filter((t, k) => tj[k].c === -t.c)));
    code.push(sink(i, `(f32x4.add ${e} ${o})`), sink(partner, `(f32x4.sub ${e} ${o})`));
  }
  return { code: code.join('\n        '), locals };
}
/** adds first, then subtracts, then multiplies (the first term needs no neg or mul when it is +1) */
const rank = (c: number) => (c === 1 ? 0 : c === -1 ? 1 : 2);

/** 4x4 transpose of the vectors a[0..3] (as local names) into locals out[0..3], through h0..h3 */
const transpose = (a: string[], out: string[]) =>
  [
    `(local.set $h0 ${shuf(g(a[0]), g(a[1]), [0, 4, 1, 5])}) (local.set $h1 ${shuf(g(a[0]), g(a[1]), [2, 6, 3, 7])})`,
    `(local.set $h2 ${shuf(g(a[2]), g(a[3]), [0, 4, 1, 5])}) (local.set $h3 ${shuf(g(a[2]), g(a[3]), [2, 6, 3, 7])})`,
    `(local.set $${out[0]} ${shuf(g('h0'), g('h2'), [0, 1, 4, 5])}) (local.set $${out[1]} ${shuf(g('h0'), g('h2'), [2, 3, 6, 7])})`,
    `(local.set $${out[2]} ${shuf(g('h1'), g('h3'), [0, 1, 4, 5])}) (local.set $${out[3]} ${shuf(g('h1'), g('h3'), [2, 3, 6, 7])})`,
  ].join('\n        ');

/** address of row iy, column ix of a plane */
const px = (plane: string, iy: string, ix: string) =>
  `(i32.add ${plane} (i32.shl (i32.add (i32.mul ${iy} ${g('W')}) ${ix}) (i32.const 2)))`;

export const E6 = [0, 1, 2, 3, 4, 5].map((c) => `e${c}`);

/** Row i of four tiles on one tile row: five vectors $v0..$v4 at columns ix .. ix + 19 -> $e0..$e5. */
export function rowSameLine(i: number, edge: boolean) {
  const iy = `(i32.add ${g('iy')} (i32.const ${i}))`;
  const vs = [0, 1, 2, 3, 4];
  let load: string;
  if (!edge)
    load = `(local.set $ea ${px(g('plane'), iy, g('ix'))})
        ${vs.map((k) => `(local.set $v${k} (v128.load offset=${16 * k} ${g('ea')}))`).join(' ')}`;
  else {
    // rows outside the plane are zeros; inside, five loads masked by column ($m0..$m4) unless the
    // 80 bytes could leave the memory: then $wg_row per vector
    const row = (k: number) =>
      `(call $wg_row ${g('plane')} ${iy} (i32.add ${g('ix')} (i32.const ${4 * k})) ${g('H')} ${g('W')})`;
    load = `(if (i32.lt_u ${iy} ${g('H')})
        (then
          (local.set $ea ${px(g('plane'), iy, g('ix'))})
          (if (i32.and (i32.ge_s ${g('ea')} (i32.const 0)) (i32.lt_u (i32.shr_u (i32.add ${g('ea')} (i32.const 79)) (i32.const 16)) (memory.size)))
            (then ${vs.map((k) => `(local.set $v${k} (v128.and (v128.load offset=${16 * k} ${g('ea')}) ${g(`m${k}`)}))`).join(' ')})
            (else ${vs.map((k) => `(local.set $v${k} ${row(k)})`).join(' ')})))
        (else ${vs.map((k) => `(local.set $v${k} ${ZERO})`).join(' ')}))`;
  }
  // lane l is tile l (columns ix + 4 l ..): column c < 4 is lane c of v_l, columns 4, 5 lanes 0, 1 of v_(l+1)
  return `${load}
        ${transpose(['v0', 'v1', 'v2', 'v3'], ['e0', 'e1', 'e2', 'e3'])}
        (local.set $e4 ${shuf(g('e0'), g('v4'), [1, 2, 3, 4])}) (local.set $e5 ${shuf(g('e1'), g('v4'), [1, 2, 3, 5])})`;
}

/** Row i of four tiles anywhere (the table's lanes l: $pl{l}, $gy{l}, $gx{l}): two $wg_row per lane -> $e0..$e5. */
export function rowGather(i: number) {
  const loads = [0, 1, 2, 3]
    .map((l) =>
      [0, 1]
        .map(
          (h) =>
            `(local.set $${h ? 'b' : 'a'}${l} (call $wg_row ${g(`pl${l}`)} (i32.add ${g(`gy${l}`)} (i32.const ${i})) (i32.add ${g(`gx${l}`)} (i32.const ${4 * h})) ${g('H')} ${g('W')}))`,
        )
        .join(' '),
    )
    .join('\n        ');
  return `${loads}
        ${transpose(['a0', 'a1', 'a2', 'a3'], ['e0', 'e1', 'e2', 'e3'])}
        (local.set $h0 ${shuf(g('b0'), g('b1'), [0, 4, 1, 5])}) (local.set $h2 ${shuf(g('b2'), g('b3'), [0, 4, 1, 5])})
        (local.set $e4 ${shuf(g('h0'), g('h2'), [0, 1, 4, 5])}) (local.set $e5 ${shuf(g('h0'), g('h2'), [2, 3, 6, 7])})`;
}

/** Row i of four tiles anywhere, inline: per lane two loads masked by column ($ma{l}, $mb{l}), zeros on rows outside (needs $safe) */
export function rowGatherInline(i: number) {
  const loads = [0, 1, 2, 3]
    .map(
      (l) => `(local.set $ea (i32.add ${g(`gy${l}`)} (i32.const ${i})))
        (if (i32.lt_u ${g('ea')} ${g('H')})
          (then
            (local.set $ea ${px(g(`pl${l}`), g('ea'), g(`gx${l}`))})
            (local.set $a${l} (v128.and (v128.load ${g('ea')}) ${g(`ma${l}`)}))
            (local.set $b${l} (v128.and (v128.load offset=16 ${g('ea')}) ${g(`mb${l}`)})))
          (else (local.set $a${l} ${ZERO}) (local.set $b${l} ${ZERO})))`,
    )
    .join('\n        ');
  return `${loads}
        ${transpose(['a0', 'a1', 'a2', 'a3'], ['e0', 'e1', 'e2', 'e3'])}
        (local.set $h0 ${shuf(g('b0'), g('b1'), [0, 4, 1, 5])}) (local.set $h2 ${shuf(g('b2'), g('b3'), [0, 4, 1, 5])})
        (local.set $e4 ${shuf(g('h0'), g('h2'), [0, 1, 4, 5])}) (local.set $e5 ${shuf(g('h0'), g('h2'), [2, 3, 6, 7])})`;
}

/** local `name` = the lanes of the four columns col .. col + 3 inside [0, W), all ones or zeros */
export const laneMask = (name: string, col: string) => `(local.set $ea ${col})
            (local.set $${name} (v128.and (i32x4.ge_s (i32x4.add (i32x4.splat ${g('ea')}) (v128.const i32x4 0 1 2 3)) ${ZERO})
              (i32x4.lt_s (i32x4.add (i32x4.splat ${g('ea')}) (v128.const i32x4 0 1 2 3)) (i32x4.splat ${g('W')}))))`;

/** V's element k of the current four tiles: $o + k $ks */
const vAt = (k: number) => `(i32.add ${g('o')} (i32.mul ${g('ks')} (i32.const ${k})))`;

/** The input transform of four tiles whose rows `row(i)` produces: d B per row into V, then Bt (.) per column in place. */
export function inputTransform(f: WasmFeatures, row: (i: number) => string) {
  const out: string[] = [];
  const locals = new Set<string>();
  for (let i = 0; i < 6; i++) {
    out.push(row(i));
    // (d B)[i][j] = sum_c Bt[j][c] d[i][c]
    const m = linearMap(f, BT4, E6.map(g), (j, e) => `(v128.store ${vAt(6 * i + j)} ${e})`, 'x');
    m.locals.forEach((l) => locals.add(l));
    out.push(m.code);
  }
  for (let j = 0; j < 6; j++) {
    out.push([0, 1, 2, 3, 4, 5].map((r) => `(local.set $e${r} (v128.load ${vAt(6 * r + j)}))`).join(' '));
    const m = linearMap(f, BT4, E6.map(g), (i, e) => `(v128.store ${vAt(6 * i + j)} ${e})`, 'x');
    m.locals.forEach((l) => locals.add(l));
    out.push(m.code);
  }
  return { code: out.join('\n        '), locals: [...locals] };
}

/** The output transform of four tiles at $q (M[k] at $q + k $ks): At over rows in place, then per output row. */
export function outputTransform(f: WasmFeatures) {
  const out: string[] = [];
  const locals = new Set<string>();
  const mAt = (k: number) => `(i32.add ${g('q')} (i32.mul ${g('ks')} (i32.const ${k})))`;
  for (let j = 0; j < 6; j++) {
    out.push([0, 1, 2, 3, 4, 5].map((i) => `(local.set $e${i} (v128.load ${mAt(6 * i + j)}))`).join(' '));
    const m = linearMap(f, AT4, E6.map(g), (r, e) => `(v128.store ${mAt(6 * r + j)} ${e})`, 'y');
    m.locals.forEach((l) => locals.add(l));
    out.push(m.code);
  }
  for (let r = 0; r < 4; r++) {
    out.push([0, 1, 2, 3, 4, 5].map((j) => `(local.set $e${j} (v128.load ${mAt(6 * r + j)}))`).join(' '));
    const m = linearMap(f, AT4, E6.map(g), (c, e) => `(local.set $y${c} (f32x4.add ${e} ${g('b')}))`, 'y');
    m.locals.forEach((l) => locals.add(l));
    out.push(m.code);
    out.push(`(if ${g('act')} (then
          ${[0, 1, 2, 3].map((c) => siluInline(f, `$y${c}`)).join('\n          ')}))`);
    // lane l of $y{c} is tile l's pixel c of row r: transposed, $w{l} is tile l's row r
    out.push(transpose(['y0', 'y1', 'y2', 'y3'], ['w0', 'w1', 'w2', 'w3']));
    for (let l = 0; l < 4; l++) {
      const dst = g(`dst${l}`);
      const partial = [0, 1, 2]
        .map(
          (c) =>
            `(if (i32.gt_u ${g(`nc${l}`)} (i32.const ${c})) (then (v128.store32_lane offset=${4 * c} ${c} ${dst} ${g(`w${l}`)})))`,
        )
        .join(' ');
      out.push(`(if (i32.gt_u ${g(`nr${l}`)} (i32.const ${r})) (then
          (if (i32.eq ${g(`nc${l}`)} (i32.const 4)) (then (v128.store ${dst} ${g(`w${l}`)})) (else ${partial}))
          (local.set $dst${l} (i32.add ${g(`dst${l}`)} ${g('rowb')}))))`);
    }
  }
  return { code: out.join('\n        '), locals: [...locals] };
}

// The wasm device's conv2d grad-weight kernels (launcher: conv2dGradWeight in ../gemm.ts; design and
// numbers in ../README_gemm.md, "Grad-weight"). Emitted inside the GEMM fragment (gemm_wat.ts), whose
// $gemm_claim / $gemm_release scratch slots they share.
//
//   gw[o][(c, ky, kx)] = sum over (n, oy, ox) of gy[n][o][oy, ox] * x[n][c][oy sh + ky dh - ph, ox sw + kx dw - pw]
//
// is a product of two operands that are both contiguous along the reduction once x is laid out so
// that every tap is a shifted copy of gy's pixel grid:
//   grad_weight_pad_x   x (N, C, H, W) -> xp[n][c][phase (py, px)][qy][qx] = x[n][c][qy sh + py - ph][qx sw + px - pw]
//              (0 outside x), planes of hq x wp with row pitch wp, ps floats apart (zero slack at the end).
//              Tap (ky, kx) then reads phase (ky dh % sh, kx dw % sw) at (oy + ky dh / sh, ox + kx dw / sw):
//              one constant offset per column (coloff) from the flat pixel index oy wp + ox.
//   grad_weight_pad_gy  gy (N, O, OH, OW) -> gyp[n][o][oy wp + ox], zero for ox >= OW and up to len (a multiple of 4),
//              so products that wrap into padding columns are multiplied by 0.
//   grad_weight_dot every (o, column) pair is then one flat dot product over len pixels per image: a 2 x 4 tile
//              of dot products on f32x4 (8 v128 accumulators of lane-partial sums; per 4 pixels 2 gy loads,
//              4 unaligned x loads, 8 FMAs), chunked over the pixels with the tile kept in scratch, summed
//              across lanes once at the end.
//   grad_weight_sum the sum of the per-split partial results when the pixel range was split between tasks.
// A 1x1 stride-1 unpadded conv with OH x OW a multiple of 4 needs neither copy: x's and gy's planes
// are already that layout. The row pitch wp is the launcher's rowPitch (gemm.ts).
import type { WasmFeatures } from '../abi.js';
import { fma } from './common.js';

/** The i32 parameter block of `grad_weight_dot` (pointers are byte offsets, everything else in elements). */
export const GW_DOT_PARAMS = [
  'a', // gy operand: row o of image n at a + (n a_sb + o a_so) * 4
  'b', // x operand: column k of image n at b + (n b_sb + coloff[k]) * 4
  'out', // result (m, k) rows k apart; split s writes out + s m k * 4 (gw itself when splits = 1)
  'coloff', // i32 per column: its element offset in b
  'flags',
  'scratch',
  'nslots',
  'slot_bytes',
  'n',
  'len', // pixels per image (a multiple of 4)
  'a_sb',
  'a_so',
  'b_sb',
  'm',
  'k',
  'mb', // rows per block (even)
  'kb', // columns per block (a multiple of 4)
  'mblocks',
  'kblocks',
  'splits', // the pixel range n * len split into this many parts (tasks)
  'chunk', // pixels per reduction chunk (a multiple of 4)
  // groups of independent products in one launch (winograd_grad_weight.ts: the 16 GEMMs): task t is group
  // t / (splits mblocks kblocks), whose a, b and out start a_sg, b_sg, out_sg elements further per group
  'a_sg',
  'b_sg',
  'out_sg',
] as const;

const get = (n: string) => `(local.get $${n})`;
const set = (n: string, v: string) => `(local.set $${n} ${v})`;
const add = (a: string, b: string) => `(i32.add ${a} ${b})`;
const mul = (a: string, b: string) => `(i32.mul ${a} ${b})`;
const c = (v: number) => `(i32.const ${v})`;
const bytes = (e: string) => `(i32.shl ${e} (i32.const 2))`;
const min = (a: string, b: string) => `(select ${a} ${b} (i32.lt_s ${a} ${b}))`;
const inc = (n: string, by: string) => set(n, add(get(n), by));
/** for (v = from; v < to; v++) body */
const loop = (v: string, from: string, to: string, body: string) => `${set(v, from)}
    (block $e_${v} (loop $l_${v} (br_if $e_${v} (i32.ge_s ${get(v)} ${to}))
      ${body}
      ${inc(v, c(1))} (br $l_${v})))`;

const ACC = [0, 1].flatMap((r) => [0, 1, 2, 3].map((j) => `c${r}${j}`));

/**
 * $gw_micro: tile (8 v128 at `tile`, row r column j at (4 r + j) * 16) += the lane-partial dot products
 * of gy rows a0, a1 with x columns b0..b3 over `span` bytes (a multiple of 16, not 0), for `nimg`
 * images: after each, the gy pointers move on by as and the x pointers by bs bytes (from the span's start).
 * 8 accumulators + 2 gy + 4 x values = 14 xmm registers (V8 keeps xmm15 as scratch), not unrolled:
 * TurboFan would hoist an unrolled body's loads and spill (README_gemm.md).
 */
function micro(f: WasmFeatures) {
  const fmas = ACC.map((a) => set(a, fma(f, get(`g${a[1]}`), get(`x${a[2]}`), get(a)))).join('\n        ');
  const ptrs = ['a0', 'a1', 'b0', 'b1', 'b2', 'b3'];
  return `
  (func $gw_micro (param $a0 i32) (param $a1 i32) (param $b0 i32) (param $b1 i32) (param $b2 i32) (param $b3 i32)
      (param $span i32) (param $tile i32) (param $nimg i32) (param $as i32) (param $bs i32)
    ${ACC.map((a) => `(local $${a} v128)`).join(' ')} (local $g0 v128) (local $g1 v128) ${[0, 1, 2, 3].map((j) => `(local $x${j} v128)`).join(' ')}
    (local $end i32)
    ${ACC.map((a, i) => set(a, `(v128.load offset=${16 * i} ${get('tile')})`)).join('\n    ')}
    ${set('as', `(i32.sub ${get('as')} ${get('span')})`)} ${set('bs', `(i32.sub ${get('bs')} ${get('span')})`)}
    (loop $images
      ${set('end', add(get('a0'), get('span')))}
      (loop $steps
        ${set('g0', `(v128.load ${get('a0')})`)} ${set('g1', `(v128.load ${get('a1')})`)}
        ${[0, 1, 2, 3].map((j) => set(`x${j}`, `(v128.load ${get(`b${j}`)})`)).join(' ')}
        ${fmas}
        ${ptrs.map((p) => inc(p, c(16))).join(' ')}
        (br_if $steps (i32.lt_u ${get('a0')} ${get('end')})))
      ${ptrs.map((p) => inc(p, get(p[0] === 'a' ? 'as' : 'bs'))).join(' ')}
      (br_if $images (local.tee $nimg (i32.sub ${get('nimg')} (i32.const 1)))))
    ${ACC.map((a, i) => `(v128.store offset=${16 * i} ${get('tile')} ${get(a)})`).join('\n    ')})`;
}

const dot = `
  (func (export "grad_weight_dot") (param $params i32) (param $task_begin i32) (param $task_end i32)
    ${GW_DOT_PARAMS.map((n) => `(local $${n} i32)`).join(' ')}
    (local $t i32) (local $s i32) (local $blk i32) (local $m0 i32) (local $mn i32) (local $k0 i32) (local $kn i32)
    (local $np i32) (local $nq i32) (local $tile i32) (local $slot i32) (local $total i32) (local $r i32) (local $r1 i32)
    (local $img i32) (local $p i32) (local $clen i32) (local $ab i32) (local $bb i32) (local $i i32) (local $j i32) (local $q i32)
    (local $a0 i32) (local $col i32) (local $row i32) (local $v v128) (local $dst i32) (local $cnt i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $grp i32) (local $tl i32) (local $ga i32) (local $gb i32) (local $gout i32)
    ${GW_DOT_PARAMS.map((n, i) => set(n, `(i32.load offset=${4 * i} ${get('params')})`)).join('\n    ')}
    ${set('slot', `(call $gemm_claim ${get('flags')} ${get('nslots')})`)}
    ${set('tile', add(get('scratch'), mul(get('slot'), get('slot_bytes'))))}
    ${set('total', mul(get('n'), get('len')))}
    ${set('t', get('task_begin'))}
    (block $end (loop $tasks (br_if $end (i32.ge_u ${get('t')} ${get('task_end')}))
      ${set('grp', `(i32.div_u ${get('t')} ${mul(get('splits'), mul(get('mblocks'), get('kblocks')))})`)}
      ${set('tl', `(i32.rem_u ${get('t')} ${mul(get('splits'), mul(get('mblocks'), get('kblocks')))})`)}
      ${set('ga', add(get('a'), bytes(mul(get('grp'), get('a_sg')))))}
      ${set('gb', add(get('b'), bytes(mul(get('grp'), get('b_sg')))))}
      ${set('gout', add(get('out'), bytes(mul(get('grp'), get('out_sg')))))}
      ${set('s', `(i32.rem_u ${get('tl')} ${get('splits')})`)}
      ${set('blk', `(i32.div_u ${get('tl')} ${get('splits')})`)}
      ${set('k0', mul(`(i32.rem_u ${get('blk')} ${get('kblocks')})`, get('kb')))}
      ${set('m0', mul(`(i32.div_u ${get('blk')} ${get('kblocks')})`, get('mb')))}
      ${set('mn', min(get('mb'), `(i32.sub ${get('m')} ${get('m0')})`))}
      ${set('kn', min(get('kb'), `(i32.sub ${get('k')} ${get('k0')})`))}
      ${set('np', `(i32.shr_u ${add(get('mn'), c(1))} (i32.const 1))`)}
      ${set('nq', `(i32.shr_u ${add(get('kn'), c(3))} (i32.const 2))`)}
      ;; zero the task's tiles (np x nq tiles of 128 bytes)
      ${loop('i', c(0), mul(mul(get('np'), get('nq')), c(8)), `(v128.store ${add(get('tile'), `(i32.shl ${get('i')} (i32.const 4))`)} (v128.const i32x4 0 0 0 0))`)}
      ;; this split's share [r, r1) of the flat pixel range n * len, in multiples of 4
      ${set('r', `(i32.and (i32.wrap_i64 (i64.div_u (i64.mul (i64.extend_i32_u ${get('total')}) (i64.extend_i32_u ${get('s')})) (i64.extend_i32_u ${get('splits')}))) (i32.const -4))`)}
      ${set('r1', `(i32.and (i32.wrap_i64 (i64.div_u (i64.mul (i64.extend_i32_u ${get('total')}) (i64.extend_i32_u ${add(get('s'), c(1))})) (i64.extend_i32_u ${get('splits')}))) (i32.const -4))`)}
      (block $er (loop $lr (br_if $er (i32.ge_s ${get('r')} ${get('r1')}))
        ${set('img', `(i32.div_u ${get('r')} ${get('len')})`)}
        ${set('p', `(i32.rem_u ${get('r')} ${get('len')})`)}
        ;; a chunk: whole images (as many as fit in chunk pixels, at least one) when the share allows, else part of one
        ${set('cnt', `(i32.div_u (i32.sub ${get('r1')} ${get('r')}) ${get('len')})`)}
        (if (i32.and (i32.eqz ${get('p')}) (i32.and (i32.le_s ${get('len')} ${get('chunk')}) (i32.gt_s ${get('cnt')} (i32.const 0))))
          (then
            ${set('clen', get('len'))}
            ${set('cnt', min(get('cnt'), `(select (i32.div_u ${get('chunk')} ${get('len')}) (i32.const 1) (i32.gt_u ${get('chunk')} ${get('len')}))`))})
          (else
            ${set('cnt', c(1))}
            ${set('clen', min(min(get('chunk'), `(i32.sub ${get('len')} ${get('p')})`), `(i32.sub ${get('r1')} ${get('r')})`))}))
        ${set('ab', add(get('ga'), bytes(add(add(mul(get('img'), get('a_sb')), mul(get('m0'), get('a_so'))), get('p')))))}
        ${set('bb', add(get('gb'), bytes(add(mul(get('img'), get('b_sb')), get('p')))))}
        ${loop(
          'j',
          c(0),
          get('nq'),
          `${[0, 1, 2, 3]
            .map((q) =>
              set(
                `p${q}`,
                add(
                  get('bb'),
                  bytes(
                    `(i32.load ${add(get('coloff'), bytes(min(add(get('k0'), add(`(i32.shl ${get('j')} (i32.const 2))`, c(q))), `(i32.sub ${get('k')} (i32.const 1))`)))})`,
                  ),
                ),
              ),
            )
            .join('\n      ')}
      ${loop(
        'i',
        c(0),
        get('np'),
        `${set('a0', add(get('ab'), bytes(mul(`(i32.shl ${get('i')} (i32.const 1))`, get('a_so')))))}
        (call $gw_micro ${get('a0')}
          (select ${add(get('a0'), bytes(get('a_so')))} ${get('a0')} (i32.lt_s ${add(add(get('m0'), `(i32.shl ${get('i')} (i32.const 1))`), c(1))} ${get('m')}))
          ${get('p0')} ${get('p1')} ${get('p2')} ${get('p3')} ${bytes(get('clen'))}
          ${add(get('tile'), `(i32.shl ${add(mul(get('i'), get('nq')), get('j'))} (i32.const 7))`)}
          ${get('cnt')} ${bytes(get('a_sb'))} ${bytes(get('b_sb'))})`,
      )}`,
        )}
        ${inc('r', mul(get('clen'), get('cnt')))} (br $lr)))
      ;; lane sums of the tiles into out (split s: its partial block)
      ${set('dst', add(get('gout'), bytes(mul(get('s'), mul(get('m'), get('k'))))))}
      ${loop(
        'i',
        c(0),
        get('np'),
        loop(
          'j',
          c(0),
          get('nq'),
          loop(
            'q',
            c(0),
            c(8),
            `${set('row', add(add(get('m0'), `(i32.shl ${get('i')} (i32.const 1))`), `(i32.shr_u ${get('q')} (i32.const 2))`))}
          ${set('col', add(add(get('k0'), `(i32.shl ${get('j')} (i32.const 2))`), `(i32.and ${get('q')} (i32.const 3))`))}
          (if (i32.and (i32.lt_s ${get('row')} ${get('m')}) (i32.lt_s ${get('col')} ${get('k')})) (then
            ${set('v', `(v128.load ${add(get('tile'), add(`(i32.shl ${add(mul(get('i'), get('nq')), get('j'))} (i32.const 7))`, `(i32.shl ${get('q')} (i32.const 4))`))})`)}
            (f32.store ${add(get('dst'), bytes(add(mul(get('row'), get('k')), get('col'))))}
              (f32.add (f32.add (f32x4.extract_lane 0 ${get('v')}) (f32x4.extract_lane 1 ${get('v')}))
                       (f32.add (f32x4.extract_lane 2 ${get('v')}) (f32x4.extract_lane 3 ${get('v')}))))))`,
          ),
        ),
      )}
      ${inc('t', c(1))} (br $tasks)))
    (call $gemm_release ${get('flags')} ${get('slot')}))`;

/** grad_weight_sum(out, part, count, splits): out[e] = sum over s of part[s count + e]; tasks = blocks of 1024 elements. */
const sum = `
  (func (export "grad_weight_sum") (param $out i32) (param $part i32) (param $count i32) (param $splits i32)
      (param $task_begin i32) (param $task_end i32)
    (local $e i32) (local $end i32) (local $s i32) (local $v v128) (local $x f32) (local $stride i32)
    ${set('stride', bytes(get('count')))}
    ${set('e', mul(get('task_begin'), c(1024)))}
    ${set('end', min(mul(get('task_end'), c(1024)), get('count')))}
    (block $ev (loop $lv (br_if $ev (i32.gt_s ${add(get('e'), c(4))} ${get('end')}))
      ${set('v', '(v128.const i32x4 0 0 0 0)')}
      ${loop('s', c(0), get('splits'), set('v', `(f32x4.add ${get('v')} (v128.load ${add(add(get('part'), bytes(get('e'))), mul(get('s'), get('stride')))}))`))}
      (v128.store ${add(get('out'), bytes(get('e')))} ${get('v')})
      ${inc('e', c(4))} (br $lv)))
    (block $es (loop $ls (br_if $es (i32.ge_s ${get('e')} ${get('end')}))
      ${set('x', '(f32.const 0)')}
      ${loop('s', c(0), get('splits'), set('x', `(f32.add ${get('x')} (f32.load ${add(add(get('part'), bytes(get('e'))), mul(get('s'), get('stride')))}))`))}
      (f32.store ${add(get('out'), bytes(get('e')))} ${get('x')})
      ${inc('e', c(1))} (br $ls))))`;

/**
 * grad_weight_pad_x(x, xp, h, w, sh, sw, ph, pw, hq, wp, ps): one task per (n, c) plane of x (H x W, contiguous),
 * writing its sh * sw phase planes (hq x wp at pitch wp, ps floats apart, zeros after hq * wp). A row qy
 * of the sw column phases of row phase py is one pass over x's row qy sh + py - ph: a scalar head and
 * tail (the padding), and a body where stride 1 copies 4 floats per v128 and stride 2 splits 8 floats
 * into both column phases with two shuffles (other strides: scalar).
 */
const padX = `
  (func $gw_pad_cols (param $src i32) (param $d i32) (param $pb i32) (param $q i32) (param $qe i32) (param $sw i32)
      (param $pw i32) (param $w i32) (param $valid i32)
    ;; columns [q, qe) of every column phase px (plane px at d + px pb): x[q sw + px - pw] or 0
    (local $px i32) (local $ix i32)
    (block $eq (loop $lq (br_if $eq (i32.ge_s ${get('q')} ${get('qe')}))
      ${loop(
        'px',
        c(0),
        get('sw'),
        `${set('ix', `(i32.sub ${add(mul(get('q'), get('sw')), get('px'))} ${get('pw')})`)}
        (f32.store ${add(add(get('d'), mul(get('px'), get('pb'))), bytes(get('q')))}
          (if (result f32) (i32.and ${get('valid')} (i32.lt_u ${get('ix')} ${get('w')}))
            (then (f32.load ${add(get('src'), bytes(get('ix')))})) (else (f32.const 0))))`,
      )}
      ${inc('q', c(1))} (br $lq))))
  (func (export "grad_weight_pad_x") (param $x i32) (param $xp i32) (param $h i32) (param $w i32) (param $sh i32) (param $sw i32)
      (param $ph i32) (param $pw i32) (param $hq i32) (param $wp i32) (param $ps i32) (param $task_begin i32) (param $task_end i32)
    (local $t i32) (local $src i32) (local $d i32) (local $py i32) (local $qy i32) (local $iy i32) (local $valid i32)
    (local $pb i32) (local $qa i32) (local $qb i32) (local $q i32) (local $s i32) (local $e i32) (local $v0 v128) (local $v1 v128)
    ${set('pb', bytes(get('ps')))}
    ;; the vector body [qa, qb): every x read inside the row (stride 1: q - pw in [0, w - 4]; stride 2: 2q - pw in [0, w - 8])
    ${set('qa', `(i32.div_u ${add(get('pw'), `(i32.sub ${get('sw')} (i32.const 1))`)} ${get('sw')})`)}
    ;; (the body runs while q + 4 <= qb: stride 1 qb = w + pw, stride 2 qb = (w + pw) / 2, else 0)
    ${set('qb', `(select ${add(get('w'), get('pw'))} (i32.const 0) (i32.eq ${get('sw')} (i32.const 1)))`)}
    (if (i32.eq ${get('sw')} (i32.const 2)) (then
      ${set('qb', `(i32.shr_s ${add(get('w'), get('pw'))} (i32.const 1))`)}))
    ${set('qb', min(get('qb'), get('wp')))}
    ${set('qa', min(get('qa'), get('qb')))}
    ${set('qa', `(select ${get('qa')} (i32.const 0) (i32.gt_s ${get('qa')} (i32.const 0)))`)}
    ${set('t', get('task_begin'))}
    (block $et (loop $lt (br_if $et (i32.ge_u ${get('t')} ${get('task_end')}))
      ${loop(
        'py',
        c(0),
        get('sh'),
        `${loop(
          'qy',
          c(0),
          get('hq'),
          `${set('iy', `(i32.sub ${add(mul(get('qy'), get('sh')), get('py'))} ${get('ph')})`)}
          ${set('valid', `(i32.lt_u ${get('iy')} ${get('h')})`)}
          ${set('src', add(get('x'), bytes(add(mul(get('t'), mul(get('h'), get('w'))), mul(get('iy'), get('w'))))))}
          ;; row qy of plane (py, 0); plane (py, px) is px * ps floats further
          ${set('d', add(get('xp'), bytes(add(mul(add(mul(get('t'), mul(get('sh'), get('sw'))), mul(get('py'), get('sw'))), get('ps')), mul(get('qy'), get('wp'))))))}
          (if ${get('valid')}
            (then
              (call $gw_pad_cols ${get('src')} ${get('d')} ${get('pb')} (i32.const 0) ${get('qa')} ${get('sw')} ${get('pw')} ${get('w')} (i32.const 1))
              ${set('q', get('qa'))}
              (if (i32.eq ${get('sw')} (i32.const 1)) (then
                (block $e1 (loop $l1 (br_if $e1 (i32.gt_s ${add(get('q'), c(4))} ${get('qb')}))
                  (v128.store ${add(get('d'), bytes(get('q')))} (v128.load ${add(get('src'), bytes(`(i32.sub ${get('q')} ${get('pw')})`))}))
                  ${inc('q', c(4))} (br $l1)))))
              (if (i32.eq ${get('sw')} (i32.const 2)) (then
                (block $e2 (loop $l2 (br_if $e2 (i32.gt_s ${add(get('q'), c(4))} ${get('qb')}))
                  ${set('s', add(get('src'), bytes(`(i32.sub (i32.shl ${get('q')} (i32.const 1)) ${get('pw')})`)))}
                  ${set('v0', `(v128.load ${get('s')})`)} ${set('v1', `(v128.load offset=16 ${get('s')})`)}
                  (v128.store ${add(get('d'), bytes(get('q')))} (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 ${get('v0')} ${get('v1')}))
                  (v128.store ${add(add(get('d'), get('pb')), bytes(get('q')))} (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 ${get('v0')} ${get('v1')}))
                  ${inc('q', c(4))} (br $l2)))))
              (call $gw_pad_cols ${get('src')} ${get('d')} ${get('pb')} ${get('q')} ${get('wp')} ${get('sw')} ${get('pw')} ${get('w')} (i32.const 1)))
            (else (call $gw_pad_cols ${get('src')} ${get('d')} ${get('pb')} (i32.const 0) ${get('wp')} ${get('sw')} ${get('pw')} ${get('w')} (i32.const 0))))`,
        )}
        ;; zeros after hq x wp in each of the row phase's planes
        ${set('d', add(get('xp'), bytes(add(mul(add(mul(get('t'), mul(get('sh'), get('sw'))), mul(get('py'), get('sw'))), get('ps')), mul(get('hq'), get('wp'))))))}
        (call $gw_pad_cols ${get('src')} ${get('d')} ${get('pb')} (i32.const 0) (i32.sub ${get('ps')} ${mul(get('hq'), get('wp'))}) ${get('sw')} ${get('pw')} ${get('w')} (i32.const 0))`,
      )}
      ${inc('t', c(1))} (br $lt))))`;

/**
 * grad_weight_pad_gy(gy, gyp, oh, ow, wp, len): one task per (n, o) plane of gy (OH x OW, contiguous): its rows at
 * pitch wp in gyp (len floats per plane), zeros in columns >= ow and after oh * wp.
 */
const padGy = `
  (func (export "grad_weight_pad_gy") (param $gy i32) (param $gyp i32) (param $oh i32) (param $ow i32) (param $wp i32) (param $len i32)
      (param $task_begin i32) (param $task_end i32)
    (local $t i32) (local $src i32) (local $d i32) (local $oy i32) (local $e i32) (local $row i32) (local $end i32)
    ${set('t', get('task_begin'))}
    (block $et (loop $lt (br_if $et (i32.ge_u ${get('t')} ${get('task_end')}))
      ${set('src', add(get('gy'), bytes(mul(get('t'), mul(get('oh'), get('ow'))))))}
      ${set('d', add(get('gyp'), bytes(mul(get('t'), get('len')))))}
      ${set('end', add(get('d'), bytes(get('len'))))}
      ${loop(
        'oy',
        c(0),
        get('oh'),
        `${set('e', add(get('d'), bytes(get('ow'))))}
        ${set('row', add(get('d'), bytes(get('wp'))))}
        (block $ev (loop $lv (br_if $ev (i32.gt_u ${add(get('d'), c(16))} ${get('e')}))
          (v128.store ${get('d')} (v128.load ${get('src')})) ${inc('d', c(16))} ${inc('src', c(16))} (br $lv)))
        (block $es (loop $ls (br_if $es (i32.ge_u ${get('d')} ${get('e')}))
          (f32.store ${get('d')} (f32.load ${get('src')})) ${inc('d', c(4))} ${inc('src', c(4))} (br $ls)))
        (block $ez (loop $lz (br_if $ez (i32.ge_u ${get('d')} ${get('row')}))
          (f32.store ${get('d')} (f32.const 0)) ${inc('d', c(4))} (br $lz)))`,
      )}
      (block $ez (loop $lz (br_if $ez (i32.ge_u ${get('d')} ${get('end')}))
        (f32.store ${get('d')} (f32.const 0)) ${inc('d', c(4))} (br $lz)))
      ${inc('t', c(1))} (br $lt))))`;

/** The grad-weight functions, for the GEMM fragment (they use its $gemm_claim / $gemm_release). */
export const gradWeightWat = (f: WasmFeatures) => [micro(f), dot, sum, padX, padGy].join('\n');

// The wasm device's GEMM and convolution kernels, as one WAT fragment (abi.ts): a packed-panel
// SGEMM micro-kernel on f32x4 with a 4x8 register tile, the packing kernels that feed it, and the
// convolution forward driver built on it (grad-input and matmul reuse it with other geometry; see
// gemm.ts), plus the grad-weight kernels of kernels/grad_weight.ts (dot products along the pixels,
// sharing this fragment's scratch slots). README_gemm.md explains the tiling and the tasks.
//
// Layout of one GEMM, C (M x N) = A (M x K) . B (K x N), as the micro-kernel sees it:
//   A packed in panels of MR = 4 rows:    apanel[k][r]  (4 floats per k, r = row in the panel)
//   B packed in panels of NR = 8 columns: bpanel[k][j]  (8 floats per k = 2 v128)
//   accumulators: 8 v128 locals $c{r}{h}, row r = 0..3, half h = 0..1 holding columns 4h..4h+3
//       k step: b0 = bpanel[k][0..3], b1 = bpanel[k][4..7]; s{r} = splat(apanel[k][r]);
//               c{r}0 += s{r} * b0; c{r}1 += s{r} * b1
//   8 accumulators + b0, b1 + 4 splats = 14 xmm registers: V8 allocates 15 on x64 (xmm15 is its
//   scratch), and TurboFan issues a step's loads before its FMAs, so a 6x8 tile (12 accumulators +
//   8 loaded values) spills: measured 6x8 ~21 GFLOP/s vs 4x8 ~30 on the same matmul here.
//   8 independent FMA chains cover the FMA latency (4 cycles) x throughput (2 per cycle).
// For a convolution, rows are output channels (A = the weights) and columns are output pixels
// (B = the im2col of x, packed straight from x per task: no full im2col buffer), so a row of the
// tile is 8 neighbouring pixels of one output plane: stores are two v128 stores into NCHW.
import type { WasmFeatures, WatFragment } from './abi.js';
import { gradWeightWat } from './kernels/grad_weight.js';

/** rows (output channels) and columns (output pixels) of the register tile */
export const MR = 4,
  NR = 8;

/**
 * The i32 parameter block of `gemm_conv2d`, written by the launcher at 4 * index bytes.
 * Pointers are byte offsets; strides (x_*, y_*) are in elements. Geometry is per group
 * (c = input channels per group, og = outputs per group); h, w the input, oh, ow the output.
 * The flags word per scratch slot is claimed with an atomic compare-exchange.
 */
export const CONV_PARAMS = [
  'x',
  'apack',
  'bias',
  'y',
  'flags',
  'scratch',
  'nslots',
  'slot_bytes',
  'n',
  'groups',
  'c',
  'h',
  'w',
  'og',
  'oh',
  'ow',
  'kh',
  'kw',
  'sh',
  'sw',
  'ph',
  'pw',
  'dh',
  'dw',
  'x_sb',
  'x_sc',
  'x_rs',
  'y_sb',
  'y_sc',
  'y_rs',
  'y_cs',
  'act',
  'npb',
  'mpb',
  'pblocks',
  'mblocks',
] as const;

const loadParams = (names: readonly string[]) =>
  names.map((n, i) => `(local.set $${n} (i32.load offset=${4 * i} (local.get $params)))`).join('\n    ');
const declareI32 = (names: readonly string[]) => names.map((n) => `(local $${n} i32)`).join(' ');

/** a * b + c on f32x4: one fused op with relaxed SIMD, else mul then add */
const madd = (f: WasmFeatures, a: string, b: string, c: string) =>
  f.relaxed ? `(f32x4.relaxed_madd ${a} ${b} ${c})` : `(f32x4.add (f32x4.mul ${a} ${b}) ${c})`;

const rows = [...Array(MR).keys()];
const acc = (r: number, h: number) => `$c${r}${h}`;

/**
 * One k step of the micro-kernel: 2 loads of B, 4 splat-loads of A, 8 FMAs. Not unrolled: TurboFan
 * keeps wasm loads in program order but sinks the arithmetic to its uses, so an unrolled body issues
 * every load first and spills accumulators (seen in --print-wasm-code); one step is 8 accumulators +
 * b0, b1 + 4 splats = 14 xmm registers (V8 keeps xmm15 as scratch), no spills.
 */
function microStep(f: WasmFeatures) {
  const lines = [`(local.set $b0 (v128.load (local.get $b)))`, `(local.set $b1 (v128.load offset=16 (local.get $b)))`];
  for (const r of rows) lines.push(`(local.set $s${r} (v128.load32_splat offset=${r * 4} (local.get $a)))`);
  for (const r of rows)
    for (const h of [0, 1])
      lines.push(
        `(local.set ${acc(r, h)} ${madd(f, `(local.get $s${r})`, `(local.get $b${h})`, `(local.get ${acc(r, h)})`)})`,
      );
  return lines.join('\n        ');
}

/** Row r of the epilogue: bias, SiLU, then a full or a lane-by-lane store of the valid columns. */
function microStore(f: WasmFeatures, r: number) {
  const c0 = acc(r, 0),
    c1 = acc(r, 1);
  const lanes = [...Array(NR).keys()].map(
    (j) =>
      `(if (i32.gt_u (local.get $nv) (i32.const ${j})) (then (v128.store32_lane ${j % 4} (i32.add (local.get $row) (i32.mul (local.get $ccs) (i32.const ${j}))) (local.get ${j < 4 ? c0 : c1}))))`,
  );
  return `(if (i32.gt_u (local.get $mv) (i32.const ${r})) (then
      (if (local.get $bias) (then
        (local.set $s (v128.load32_splat offset=${r * 4} (local.get $bias)))
        (local.set ${c0} (f32x4.add (local.get ${c0}) (local.get $s)))
        (local.set ${c1} (f32x4.add (local.get ${c1}) (local.get $s)))))
      (if (local.get $act) (then
        ${siluInline(f, c0)}
        ${siluInline(f, c1)}))
      (local.set $row (i32.add (local.get $cout) (i32.mul (local.get $cms) (i32.const ${r}))))
      (if (i32.and (i32.ge_u (local.get $nv) (i32.const ${NR})) (i32.eq (local.get $ccs) (i32.const 4))) (then
          (v128.store (local.get $row) (local.get ${c0}))
          (v128.store offset=16 (local.get $row) (local.get ${c1})))
        (else
          ${lanes.join('\n          ')}))))`;
}

/**
 * $gemm_micro: C tile (4 x 8) = apanel . bpanel over k steps (the accumulators start at zero, as
 * wasm locals do), then epilogue and store.
 * B row k is at b + k * bs (bytes): 32 for a packed panel, the channel stride when it reads x in place.
 * Stores rows < mv and columns j < nv at cout + r * cms + j * ccs (bytes; ccs = 4: two v128 stores
 * per full row, else lane by lane). bias: 0 or &bias[row 0]; act 1 = SiLU.
 */
function microKernel(f: WasmFeatures) {
  const accs = rows.flatMap((r) => [acc(r, 0), acc(r, 1)]);
  return `
  (func $gemm_micro (param $a i32) (param $b i32) (param $bs i32) (param $k i32) (param $cout i32) (param $cms i32) (param $ccs i32)
      (param $mv i32) (param $nv i32) (param $bias i32) (param $act i32)
    ${accs.map((c) => `(local ${c} v128)`).join(' ')}
    (local $b0 v128) (local $b1 v128) ${rows.map((r) => `(local $s${r} v128)`).join(' ')} (local $s v128) (local $row i32)
    (local $st v128) (local $sz v128) (local $sn v128) (local $sr v128)
    (block $done (loop $steps
        (br_if $done (i32.eqz (local.get $k)))
        ${microStep(f)}
        (local.set $a (i32.add (local.get $a) (i32.const ${MR * 4})))
        (local.set $b (i32.add (local.get $b) (local.get $bs)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $steps)))
    ${rows.map((r) => microStore(f, r)).join('\n    ')})`;
}

/**
 * x / (1 + exp(-x)) on f32x4. exp(t) = 2^n * p(r), n = round(t / ln2), r = t - n ln2 (ln2 split in
 * hi + lo so r is exact), p the degree-6 Taylor polynomial: |r| <= ln2/2 keeps the relative error
 * near 1e-7. t is clamped to [-87, 88] so 2^n stays a normal float (x beyond that: the result is
 * x or 0 to within f32 anyway). The rounding is the add of 1.5 * 2^23, whose float bits are then
 * 0x4b400000 + n: 2^n's exponent field comes from those bits with an integer add and shift
 * (no float-to-int conversion, a long instruction sequence on x64); the clamp is pmin/pmax (one
 * minps/maxps each on x64, NaN kept by the operand order). Emitted inline into the
 * epilogue, on x: a call would spill the live accumulators around it (V8 saves no v128 registers).
 * Needs locals $st $sz $sn $sr (v128). Also the Winograd output transform's (kernels/winograd.ts).
 */
export function siluInline(f: WasmFeatures, x: string) {
  const k = (v: number) => `(f32x4.splat (f32.const ${v}))`;
  const coeffs = [1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5, 1, 1];
  let poly = k(coeffs[0]);
  for (const c of coeffs.slice(1)) poly = madd(f, poly, '(local.get $sr)', k(c));
  return `(local.set $st (f32x4.pmax (f32x4.pmin (f32x4.neg (local.get ${x})) ${k(88)}) ${k(-87)}))
        (local.set $sz (f32x4.add (f32x4.mul (local.get $st) ${k(1.4426950408889634)}) ${k(12582912)}))
        (local.set $sn (f32x4.sub (local.get $sz) ${k(12582912)}))
        (local.set $sr (f32x4.sub (f32x4.sub (local.get $st) (f32x4.mul (local.get $sn) ${k(0.693145751953125)}))
                                  (f32x4.mul (local.get $sn) ${k(1.4286068203094173e-6)})))
        (local.set ${x} (f32x4.div (local.get ${x})
          (f32x4.add ${k(1)}
            (f32x4.mul ${poly}
              (i32x4.shl (i32x4.add (local.get $sz) (i32x4.splat (i32.const ${127 - 0x4b400000}))) (i32.const 23))))))`;
}

/** Scratch slots: a task range claims one of `n` slots (flags[s] 0 -> 1) and frees it when done. */
const slots = `
  (func $gemm_claim (param $flags i32) (param $n i32) (result i32) (local $s i32)
    (loop $retry
      (local.set $s (i32.const 0))
      (block $full (loop $scan
        (br_if $full (i32.ge_u (local.get $s) (local.get $n)))
        (if (i32.eqz (i32.atomic.rmw.cmpxchg (i32.add (local.get $flags) (i32.shl (local.get $s) (i32.const 2))) (i32.const 0) (i32.const 1)))
          (then (return (local.get $s))))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $scan)))
      (br $retry))
    (unreachable))
  (func $gemm_release (param $flags i32) (param $s i32)
    (i32.atomic.store (i32.add (local.get $flags) (i32.shl (local.get $s) (i32.const 2))) (i32.const 0)))`;

/**
 * gemm_pack_a: A panels [task][k][4] for tasks = groups * mpanels (task = g * mpanels + panel).
 * Element (row m, k = (k1 * K2 + k2) * K3 + k3) of group g is src[g*sg + m*sm + k1*s1 + k2*s2 + k3*s3]
 * (element strides, may be negative: grad-input walks the taps backwards); rows >= M are zero.
 * A full panel whose k walks memory contiguously (the forward's weights, matmul's A) is copied
 * row pointer by row pointer; the rest goes element by element.
 */
const rowPtrs = [...Array(MR).keys()].map((r) => `$q${r}`);
const packA = `
  (func (export "gemm_pack_a") (param $src i32) (param $dst i32) (param $m i32) (param $k1 i32) (param $k2 i32) (param $k3 i32)
      (param $sm i32) (param $s1 i32) (param $s2 i32) (param $s3 i32) (param $sg i32) (param $mpan i32)
      (param $task_begin i32) (param $task_end i32)
    (local $t i32) (local $d i32) (local $base i32) (local $a i32) (local $b i32) (local $c i32) (local $r i32) (local $row i32) (local $off i32)
    (local $kk i32) (local $linear i32) ${rowPtrs.map((q) => `(local ${q} i32)`).join(' ')}
    (local.set $kk (i32.mul (i32.mul (local.get $k1) (local.get $k2)) (local.get $k3)))
    (local.set $linear (i32.and (i32.eq (local.get $s3) (i32.const 1))
      (i32.and (i32.eq (local.get $s2) (local.get $k3)) (i32.eq (local.get $s1) (i32.mul (local.get $k2) (local.get $k3))))))
    (local.set $t (local.get $task_begin))
    (block $end (loop $tasks
      (br_if $end (i32.ge_u (local.get $t) (local.get $task_end)))
      (block $panel
      (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $t) (i32.mul (i32.mul (i32.mul (local.get $k1) (local.get $k2)) (local.get $k3)) (i32.const ${MR * 4})))))
      (local.set $base (i32.add (i32.mul (i32.div_u (local.get $t) (local.get $mpan)) (local.get $sg))
                                (i32.mul (i32.mul (i32.rem_u (local.get $t) (local.get $mpan)) (i32.const ${MR})) (local.get $sm))))
      (if (i32.and (local.get $linear) (i32.le_s (i32.mul (i32.add (i32.rem_u (local.get $t) (local.get $mpan)) (i32.const 1)) (i32.const ${MR})) (local.get $m))) (then
        ${rowPtrs.map((q, r) => `(local.set ${q} (i32.add (local.get $src) (i32.shl (i32.add (local.get $base) (i32.mul (local.get $sm) (i32.const ${r}))) (i32.const 2))))`).join('\n        ')}
        (local.set $a (i32.const 0))
        (block $eq (loop $lq (br_if $eq (i32.ge_s (local.get $a) (local.get $kk)))
          ${rowPtrs.map((q, r) => `(f32.store offset=${4 * r} (local.get $d) (f32.load (local.get ${q}))) (local.set ${q} (i32.add (local.get ${q}) (i32.const 4)))`).join('\n          ')}
          (local.set $d (i32.add (local.get $d) (i32.const ${MR * 4})))
          (local.set $a (i32.add (local.get $a) (i32.const 1))) (br $lq)))
        (br $panel)))
      (local.set $a (i32.const 0))
      (block $ea (loop $la (br_if $ea (i32.ge_s (local.get $a) (local.get $k1)))
        (local.set $b (i32.const 0))
        (block $eb (loop $lb (br_if $eb (i32.ge_s (local.get $b) (local.get $k2)))
          (local.set $c (i32.const 0))
          (block $ec (loop $lc (br_if $ec (i32.ge_s (local.get $c) (local.get $k3)))
            (local.set $off (i32.add (local.get $base) (i32.add (i32.mul (local.get $a) (local.get $s1))
                              (i32.add (i32.mul (local.get $b) (local.get $s2)) (i32.mul (local.get $c) (local.get $s3))))))
            (local.set $row (i32.mul (i32.rem_u (local.get $t) (local.get $mpan)) (i32.const ${MR})))
            (local.set $r (i32.const 0))
            (block $er (loop $lr (br_if $er (i32.ge_s (local.get $r) (i32.const ${MR})))
              (f32.store (local.get $d)
                (if (result f32) (i32.lt_s (i32.add (local.get $row) (local.get $r)) (local.get $m))
                  (then (f32.load (i32.add (local.get $src) (i32.shl (i32.add (local.get $off) (i32.mul (local.get $r) (local.get $sm))) (i32.const 2)))))
                  (else (f32.const 0))))
              (local.set $d (i32.add (local.get $d) (i32.const 4)))
              (local.set $r (i32.add (local.get $r) (i32.const 1)))
              (br $lr)))
            (local.set $c (i32.add (local.get $c) (i32.const 1))) (br $lc)))
          (local.set $b (i32.add (local.get $b) (i32.const 1))) (br $lb)))
        (local.set $a (i32.add (local.get $a) (i32.const 1))) (br $la))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $tasks))))`;

/** x[iy, ix] of the current channel, or 0 outside the input (unsigned compares catch negatives) */
const xAt = (
  iy: string,
  ix: string,
) => `(if (result f32) (i32.and (i32.lt_u ${iy} (local.get $h)) (i32.lt_u ${ix} (local.get $w)))
            (then (f32.load (i32.add (local.get $xc) (i32.shl (i32.add (i32.mul ${iy} (local.get $x_rs)) ${ix}) (i32.const 2)))))
            (else (f32.const 0)))`;

/**
 * $gemm_pack_b: implicit im2col straight into B panels. Panel j (pixels p0 + 8j ..) gets, for every
 * k = (c, ky, kx), the 8 input values under that tap: dst[j][k][0..7]. An in-bounds run of 8 pixels
 * on one output row is two v128 loads at stride 1, four loads and two shuffles at stride 2 (the
 * stem and the downsampling convs); the rest (padding borders, rows that wrap) goes lane by lane.
 */
const packB = `
  (func $gemm_pack_b (param $xb i32) (param $dst i32) (param $p0 i32) (param $npn i32) (param $P i32)
      (param $c i32) (param $h i32) (param $w i32) (param $ow i32) (param $kh i32) (param $kw i32)
      (param $sh i32) (param $sw i32) (param $ph i32) (param $pw i32) (param $dh i32) (param $dw i32) (param $x_sc i32) (param $x_rs i32)
    (local $j i32) (local $p i32) (local $nv i32) (local $oy0 i32) (local $ox0 i32) (local $fast i32) (local $ci i32) (local $xc i32)
    (local $ky i32) (local $kx i32) (local $iy i32) (local $ix0 i32) (local $src i32) (local $jj i32) (local $oy i32) (local $ox i32) (local $point i32)
    (local.set $point (i32.and (i32.and (i32.eq (i32.mul (local.get $kh) (local.get $kw)) (i32.const 1)) (i32.eq (i32.mul (local.get $sh) (local.get $sw)) (i32.const 1)))
                               (i32.eqz (i32.or (local.get $ph) (local.get $pw)))))
    (local.set $j (i32.const 0))
    (block $ej (loop $lj (br_if $ej (i32.ge_s (local.get $j) (local.get $npn)))
      (local.set $p (i32.add (local.get $p0) (i32.shl (local.get $j) (i32.const 3))))
      (local.set $nv (i32.sub (local.get $P) (local.get $p)))
      (local.set $oy0 (i32.div_u (local.get $p) (local.get $ow)))
      (local.set $ox0 (i32.rem_u (local.get $p) (local.get $ow)))
      (local.set $fast (i32.and (i32.ge_s (local.get $nv) (i32.const 8)) (i32.le_s (i32.add (local.get $ox0) (i32.const 8)) (local.get $ow))))
      (block $panel
      (if (i32.and (local.get $point) (local.get $fast)) (then ;; 1x1 stride 1: a copy of 8 pixels per channel
        (local.set $src (i32.add (local.get $xb) (i32.shl (i32.add (i32.mul (local.get $oy0) (local.get $x_rs)) (local.get $ox0)) (i32.const 2))))
        (local.set $ci (i32.const 0))
        (block $epc (loop $lpc (br_if $epc (i32.ge_s (local.get $ci) (local.get $c)))
          (v128.store (local.get $dst) (v128.load (local.get $src)))
          (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $src)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
          (local.set $src (i32.add (local.get $src) (i32.shl (local.get $x_sc) (i32.const 2))))
          (local.set $ci (i32.add (local.get $ci) (i32.const 1))) (br $lpc)))
        (br $panel)))
      (local.set $ci (i32.const 0))
      (block $ec (loop $lc (br_if $ec (i32.ge_s (local.get $ci) (local.get $c)))
        (local.set $xc (i32.add (local.get $xb) (i32.shl (i32.mul (local.get $ci) (local.get $x_sc)) (i32.const 2))))
        (local.set $ky (i32.const 0))
        (block $eky (loop $lky (br_if $eky (i32.ge_s (local.get $ky) (local.get $kh)))
          (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy0) (local.get $sh)) (local.get $ph)) (i32.mul (local.get $ky) (local.get $dh))))
          (local.set $kx (i32.const 0))
          (block $ekx (loop $lkx (br_if $ekx (i32.ge_s (local.get $kx) (local.get $kw)))
            (local.set $ix0 (i32.add (i32.sub (i32.mul (local.get $ox0) (local.get $sw)) (local.get $pw)) (i32.mul (local.get $kx) (local.get $dw))))
            (block $packed
              (if (local.get $fast) (then
                (if (i32.ge_u (local.get $iy) (local.get $h)) (then
                  (v128.store (local.get $dst) (v128.const i32x4 0 0 0 0))
                  (v128.store offset=16 (local.get $dst) (v128.const i32x4 0 0 0 0))
                  (br $packed)))
                (if (i32.and (i32.ge_s (local.get $ix0) (i32.const 0))
                             (i32.le_s (i32.add (local.get $ix0) (i32.shl (local.get $sw) (i32.const 3))) (local.get $w))) (then
                  (local.set $src (i32.add (local.get $xc) (i32.shl (i32.add (i32.mul (local.get $iy) (local.get $x_rs)) (local.get $ix0)) (i32.const 2))))
                  (if (i32.eq (local.get $sw) (i32.const 1)) (then
                    (v128.store (local.get $dst) (v128.load (local.get $src)))
                    (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $src)))
                    (br $packed)))
                  (if (i32.eq (local.get $sw) (i32.const 2)) (then
                    (v128.store (local.get $dst) (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27
                      (v128.load (local.get $src)) (v128.load offset=16 (local.get $src))))
                    (v128.store offset=16 (local.get $dst) (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27
                      (v128.load offset=32 (local.get $src)) (v128.load offset=48 (local.get $src))))
                    (br $packed)))))))
              ;; lane by lane: walk the 8 pixels from (oy0, ox0), wrapping at the row end
              (local.set $oy (local.get $oy0)) (local.set $ox (local.get $ox0)) (local.set $jj (i32.const 0))
              (block $ejj (loop $ljj (br_if $ejj (i32.ge_s (local.get $jj) (i32.const 8)))
                (f32.store (i32.add (local.get $dst) (i32.shl (local.get $jj) (i32.const 2)))
                  (if (result f32) (i32.lt_s (local.get $jj) (local.get $nv))
                    (then ${xAt(
                      '(i32.add (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $ph)) (i32.mul (local.get $ky) (local.get $dh)))',
                      '(i32.add (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $pw)) (i32.mul (local.get $kx) (local.get $dw)))',
                    )})
                    (else (f32.const 0))))
                (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
                (if (i32.eq (local.get $ox) (local.get $ow)) (then (local.set $ox (i32.const 0)) (local.set $oy (i32.add (local.get $oy) (i32.const 1)))))
                (local.set $jj (i32.add (local.get $jj) (i32.const 1)))
                (br $ljj))))
            (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
            (local.set $kx (i32.add (local.get $kx) (i32.const 1))) (br $lkx)))
          (local.set $ky (i32.add (local.get $ky) (i32.const 1))) (br $lky)))
        (local.set $ci (i32.add (local.get $ci) (i32.const 1))) (br $lc))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $lj))))`;

/** $gemm_scatter: a 4 x 8 tile at tmp (row stride 32 bytes) to the output pixels p.. (from (oy, ox)) of rows < mv. */
const scatter = `
  (func $gemm_scatter (param $tmp i32) (param $yb i32) (param $mv i32) (param $nv i32) (param $oy0 i32) (param $ox0 i32)
      (param $ow i32) (param $y_sc i32) (param $y_rs i32) (param $y_cs i32)
    (local $r i32) (local $jj i32) (local $oy i32) (local $ox i32)
    (local.set $r (i32.const 0))
    (block $er (loop $lr (br_if $er (i32.ge_s (local.get $r) (local.get $mv)))
      (local.set $oy (local.get $oy0)) (local.set $ox (local.get $ox0)) (local.set $jj (i32.const 0))
      (block $ej (loop $lj (br_if $ej (i32.ge_s (local.get $jj) (local.get $nv)))
        (f32.store (i32.add (local.get $yb) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $y_sc))
                     (i32.add (i32.mul (local.get $oy) (local.get $y_rs)) (i32.mul (local.get $ox) (local.get $y_cs)))) (i32.const 2)))
          (f32.load (i32.add (local.get $tmp) (i32.shl (i32.add (i32.shl (local.get $r) (i32.const 3)) (local.get $jj)) (i32.const 2)))))
        (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
        (if (i32.eq (local.get $ox) (local.get $ow)) (then (local.set $ox (i32.const 0)) (local.set $oy (i32.add (local.get $oy) (i32.const 1)))))
        (local.set $jj (i32.add (local.get $jj) (i32.const 1)))
        (br $lj)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $lr))))`;

const min = (a: string, b: string) => `(select ${a} ${b} (i32.lt_s ${a} ${b}))`;

/**
 * gemm_conv2d(params, task_begin, task_end): y = act(conv(x, w) + bias) with A = packed weights.
 * Task t = ((n * groups + g) * mblocks + mb) * pblocks + pb: image n, group g, a block of mpb
 * weight panels (4 output channels each) and a block of npb pixel panels (8 output pixels each).
 * The task packs its B block (K x 8 npb) into its scratch slot, then runs the 4x8 micro-kernel for
 * every (weight panel, pixel panel) pair, weight panel outermost so it stays in L1.
 */
const convForward = `
  (func (export "gemm_conv2d") (param $params i32) (param $task_begin i32) (param $task_end i32)
    ${declareI32(CONV_PARAMS)}
    (local $t i32) (local $slot i32) (local $bpk i32) (local $tmp i32) (local $K i32) (local $P i32) (local $mpan i32) (local $ppan i32)
    (local $rest i32) (local $pb i32) (local $mb i32) (local $g i32) (local $img i32) (local $pp0 i32) (local $npn i32) (local $mp0 i32) (local $mpn i32)
    (local $i i32) (local $j i32) (local $xb i32) (local $yb i32) (local $ap i32) (local $bp i32) (local $m0 i32) (local $mv i32)
    (local $p i32) (local $nv i32) (local $oy i32) (local $ox i32) (local $bias_r i32) (local $direct i32) (local $bs i32) (local $tail i32)
    ${loadParams(CONV_PARAMS)}
    ;; 1x1, stride 1, no padding, rows contiguous, and enough output channels per task (>= 20 panels)
    ;; to hide the strided reads (measured: 30 panels 35 vs 30 GFLOP/s packed, 12 panels 23 vs 27):
    ;; B row k is channel k of x itself, read in place (only a last partial panel is packed, so no
    ;; load runs past the end of x)
    (local.set $direct (i32.and (i32.and (i32.and (i32.and (i32.and (i32.ge_s (local.get $mpb) (i32.const 20))
      (i32.eq (i32.mul (local.get $kh) (local.get $kw)) (i32.const 1)))
      (i32.eq (i32.mul (local.get $sh) (local.get $sw)) (i32.const 1)))
      (i32.eqz (i32.or (local.get $ph) (local.get $pw))))
      (i32.eq (local.get $x_rs) (local.get $ow)))
      (i32.eq (local.get $w) (local.get $ow))))
    (local.set $K (i32.mul (i32.mul (local.get $c) (local.get $kh)) (local.get $kw)))
    (local.set $P (i32.mul (local.get $oh) (local.get $ow)))
    (local.set $mpan (i32.div_u (i32.add (local.get $og) (i32.const ${MR - 1})) (i32.const ${MR})))
    (local.set $ppan (i32.div_u (i32.add (local.get $P) (i32.const ${NR - 1})) (i32.const ${NR})))
    (local.set $slot (call $gemm_claim (local.get $flags) (local.get $nslots)))
    (local.set $bpk (i32.add (local.get $scratch) (i32.mul (local.get $slot) (local.get $slot_bytes))))
    (local.set $tmp (i32.add (local.get $bpk) (i32.mul (i32.mul (local.get $npb) (local.get $K)) (i32.const ${NR * 4}))))
    (local.set $t (local.get $task_begin))
    (block $end (loop $tasks
      (br_if $end (i32.ge_u (local.get $t) (local.get $task_end)))
      (local.set $pb (i32.rem_u (local.get $t) (local.get $pblocks)))
      (local.set $rest (i32.div_u (local.get $t) (local.get $pblocks)))
      (local.set $mb (i32.rem_u (local.get $rest) (local.get $mblocks)))
      (local.set $rest (i32.div_u (local.get $rest) (local.get $mblocks)))
      (local.set $g (i32.rem_u (local.get $rest) (local.get $groups)))
      (local.set $img (i32.div_u (local.get $rest) (local.get $groups)))
      (local.set $pp0 (i32.mul (local.get $pb) (local.get $npb)))
      (local.set $npn ${min('(local.get $npb)', '(i32.sub (local.get $ppan) (local.get $pp0))')})
      (local.set $mp0 (i32.mul (local.get $mb) (local.get $mpb)))
      (local.set $mpn ${min('(local.get $mpb)', '(i32.sub (local.get $mpan) (local.get $mp0))')})
      (local.set $xb (i32.add (local.get $x) (i32.shl (i32.add (i32.mul (local.get $img) (local.get $x_sb))
                       (i32.mul (i32.mul (local.get $g) (local.get $c)) (local.get $x_sc))) (i32.const 2))))
      (local.set $yb (i32.add (local.get $y) (i32.shl (i32.add (i32.mul (local.get $img) (local.get $y_sb))
                       (i32.mul (i32.mul (local.get $g) (local.get $og)) (local.get $y_sc))) (i32.const 2))))
      (local.set $tail (i32.and (i32.eq (i32.add (local.get $pp0) (local.get $npn)) (local.get $ppan)) (i32.ne (i32.and (local.get $P) (i32.const 7)) (i32.const 0))))
      (if (i32.eqz (local.get $direct))
        (then (call $gemm_pack_b (local.get $xb) (local.get $bpk) (i32.shl (local.get $pp0) (i32.const 3)) (local.get $npn) (local.get $P)
          (local.get $c) (local.get $h) (local.get $w) (local.get $ow) (local.get $kh) (local.get $kw)
          (local.get $sh) (local.get $sw) (local.get $ph) (local.get $pw) (local.get $dh) (local.get $dw) (local.get $x_sc) (local.get $x_rs)))
        (else (if (local.get $tail) (then (call $gemm_pack_b (local.get $xb) (local.get $bpk) (i32.shl (i32.sub (local.get $ppan) (i32.const 1)) (i32.const 3)) (i32.const 1) (local.get $P)
          (local.get $c) (local.get $h) (local.get $w) (local.get $ow) (local.get $kh) (local.get $kw)
          (local.get $sh) (local.get $sw) (local.get $ph) (local.get $pw) (local.get $dh) (local.get $dw) (local.get $x_sc) (local.get $x_rs))))))
      (local.set $i (i32.const 0))
      (block $ei (loop $li (br_if $ei (i32.ge_s (local.get $i) (local.get $mpn)))
        (local.set $m0 (i32.mul (i32.add (local.get $mp0) (local.get $i)) (i32.const ${MR})))
        (local.set $mv ${min(`(i32.const ${MR})`, '(i32.sub (local.get $og) (local.get $m0))')})
        (local.set $ap (i32.add (local.get $apack) (i32.mul (i32.mul (i32.add (i32.mul (local.get $g) (local.get $mpan)) (i32.add (local.get $mp0) (local.get $i))) (local.get $K)) (i32.const ${MR * 4}))))
        (local.set $bias_r (select (i32.add (local.get $bias) (i32.shl (i32.add (i32.mul (local.get $g) (local.get $og)) (local.get $m0)) (i32.const 2))) (i32.const 0) (local.get $bias)))
        (local.set $j (i32.const 0))
        (block $ej (loop $lj (br_if $ej (i32.ge_s (local.get $j) (local.get $npn)))
          (local.set $p (i32.shl (i32.add (local.get $pp0) (local.get $j)) (i32.const 3)))
          (local.set $nv ${min('(i32.const 8)', '(i32.sub (local.get $P) (local.get $p))')})
          (local.set $oy (i32.div_u (local.get $p) (local.get $ow)))
          (local.set $ox (i32.rem_u (local.get $p) (local.get $ow)))
          (local.set $bs (i32.const ${NR * 4}))
          (local.set $bp (i32.add (local.get $bpk) (i32.mul (i32.mul (local.get $j) (local.get $K)) (i32.const ${NR * 4}))))
          (if (local.get $direct) (then
            (local.set $bp (local.get $bpk))
            (if (i32.eq (local.get $nv) (i32.const ${NR})) (then
              (local.set $bp (i32.add (local.get $xb) (i32.shl (local.get $p) (i32.const 2))))
              (local.set $bs (i32.shl (local.get $x_sc) (i32.const 2)))))))
          (if (i32.le_s (i32.add (local.get $ox) (local.get $nv)) (local.get $ow))
            (then ;; the 8 pixels lie on one output row (every y_cs apart): store straight into y
              (call $gemm_micro (local.get $ap) (local.get $bp) (local.get $bs) (local.get $K)
                (i32.add (local.get $yb) (i32.shl (i32.add (i32.mul (local.get $m0) (local.get $y_sc)) (i32.add (i32.mul (local.get $oy) (local.get $y_rs)) (i32.mul (local.get $ox) (local.get $y_cs)))) (i32.const 2)))
                (i32.shl (local.get $y_sc) (i32.const 2)) (i32.shl (local.get $y_cs) (i32.const 2)) (local.get $mv) (local.get $nv) (local.get $bias_r) (local.get $act)))
            (else ;; the pixels wrap a row: via a tile in scratch
              (call $gemm_micro (local.get $ap) (local.get $bp) (local.get $bs) (local.get $K) (local.get $tmp) (i32.const 32) (i32.const 4)
                (local.get $mv) (i32.const 8) (local.get $bias_r) (local.get $act))
              (call $gemm_scatter (local.get $tmp) (i32.add (local.get $yb) (i32.shl (i32.mul (local.get $m0) (local.get $y_sc)) (i32.const 2)))
                (local.get $mv) (local.get $nv) (local.get $oy) (local.get $ox) (local.get $ow) (local.get $y_sc) (local.get $y_rs) (local.get $y_cs))))
          (local.set $j (i32.add (local.get $j) (i32.const 1))) (br $lj)))
        (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $li)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $tasks)))
    (call $gemm_release (local.get $flags) (local.get $slot)))`;

/** The GEMM / convolution kernels (exports gemm_pack_a, gemm_conv2d, and grad_weight_* of kernels/grad_weight.ts). */
export const gemmFragment: WatFragment = {
  name: 'gemm',
  wat: (f) => [microKernel(f), slots, packA, packB, scatter, convForward, gradWeightWat(f)].join('\n'),
};

// A compiled graph's elementwise chain (add -> mul -> sigmoid ...) as ONE pass over memory: a small
// interpreter. The chain is a program of rows of engine/ops/elementwise.ts (the SIMD rows of
// kernels/elementwise.ts, same expressions, same $exp4); each instruction reads the previous row's
// result (`acc`) and/or the chain's outside operands, and writes `acc`. The work is cut into
// blocks of BLK elements: per block, the operands are loaded once from memory (strided ones
// gathered, broadcast ones splat into a scratch block), every instruction runs over the block in
// L1 (a br_table dispatch per instruction per block, amortised over BLK / 4 vectors), and the
// result is stored once into the output view (a concat slice, any strides).
// Why an interpreter, not WAT generated per chain: every worker thread instantiates one compiled
// module over the shared memory; a kernel per chain would need wabt at run time and a new module
// on every worker for every plan. One kernel serves every chain of every plan.
//
//   elementwise_chain(params, t0, t1)     tasks: T equal ranges of the n output elements
// params (i32 words; the launcher is engine/graph/executor_wasm.ts):
//   0 n  1 T  2 d1  3 d2  4 d3  5 nin  6 ninstr  7 scratch (T * SCRATCH_BYTES, 16-aligned)
//   8..12 out: ptr, s0, s1, s2, s3      (element strides over the collapsed (d0, d1, d2, d3) shape)
//   13..27 inputs 0..2: ptr, s0, s1, s2, s3 each
//   28.. instructions, 5 words each: op (CHAIN_OPS index), a, b (0: acc, k: input k - 1), alpha, beta (f32)
import type { WatFragment } from '../abi.js';
import { BINARY_WAT, UNARY_WAT } from './elementwise.js';

/** Elements per block (4 blocks of it per task: acc and 3 operands). */
export const CHAIN_BLK = 256;
export const CHAIN_SCRATCH_BYTES = 4 * CHAIN_BLK * 4;
export const CHAIN_MAX_INPUTS = 3;
export const CHAIN_HEADER_WORDS = 28;
/** Opcode = index in this list; a unary row reads `a`, a binary row `a` and `b`. */
export const CHAIN_OPS: { name: string; binary: boolean }[] = [
  ...Object.keys(UNARY_WAT).map((name) => ({ name, binary: false })),
  ...Object.keys(BINARY_WAT).map((name) => ({ name, binary: true })),
];

const g = (n: string) => `(local.get $${n})`;
const w = (k: number | string) => `(i32.load offset=${typeof k === 'number' ? 4 * k : k} ${g('p')})`;
const add = (...xs: string[]) => xs.reduce((a, b) => `(i32.add ${a} ${b})`);
const mul = (a: string, b: string) => `(i32.mul ${a} ${b})`;
const shl2 = (a: string) => `(i32.shl ${a} (i32.const 2))`;

/** One case of the dispatch: the row over the block's V vectors, from $pa/$pb into $acc. */
function caseBody(name: string, binary: boolean): string {
  const expr = binary ? BINARY_WAT[name] : UNARY_WAT[name];
  return `(local.set $j (i32.const 0))
        (block $d_${name} (loop $l_${name}
          (br_if $d_${name} (i32.ge_u ${g('j')} ${g('vb')}))
          (local.set $x (v128.load ${add(g('pa'), g('j'))}))
          ${binary ? `(local.set $y (v128.load ${add(g('pb'), g('j'))}))` : ''}
          (v128.store ${add(g('acc'), g('j'))} ${expr})
          (local.set $j (i32.add ${g('j')} (i32.const 16)))
          (br $l_${name})))`;
}

/** br_table over CHAIN_OPS: nested blocks, case k's body after block k closes. */
function dispatch(): string {
  const n = CHAIN_OPS.length;
  let s = `(br_table ${CHAIN_OPS.map((_, k) => `$c${k}`).join(' ')} $cend ${g('op')})`;
  for (let k = 0; k < n; k++)
    s = `(block $c${k} ${s})\n        ${caseBody(CHAIN_OPS[k].name, CHAIN_OPS[k].binary)}\n        (br $cend)`;
  return `(block $cend ${s})`;
}

/** operand pointer of code c: 0 acc, 1..3 the operand blocks $q0..$q2 */
const sel = (c: string) =>
  `(select ${g('acc')} (select ${g('q0')} (select ${g('q1')} ${g('q2')} (i32.eq ${c} (i32.const 2))) (i32.eq ${c} (i32.const 1))) (i32.eqz ${c}))`;

/** per operand k: its row base $bK, its block pointer $qK for this block (direct, splat or gathered) */
function operand(k: number): string {
  const base = 13 + 5 * k,
    buf = add(g('scr'), `(i32.const ${(k + 1) * CHAIN_BLK * 4})`);
  return `(if (i32.gt_u ${g('nin')} (i32.const ${k})) (then
          (local.set $s3 ${w(base + 4)})
          (if (i32.eq ${g('s3')} (i32.const 1))
            (then (local.set $q${k} ${add(g(`b${k}`), shl2(g('done')))}))
            (else (if (i32.eqz ${g('s3')})
              (then
                (local.set $q${k} ${buf})
                (if (i32.eqz ${g('done')}) (then
                  (local.set $x (f32x4.splat (f32.load ${g(`b${k}`)})))
                  (local.set $j (i32.const 0))
                  (block $sd${k} (loop $sl${k}
                    (br_if $sd${k} (i32.ge_u ${g('j')} (i32.const ${CHAIN_BLK * 4})))
                    (v128.store ${add(g(`q${k}`), g('j'))} ${g('x')})
                    (local.set $j (i32.add ${g('j')} (i32.const 16)))
                    (br $sl${k}))))))
              (else
                (local.set $q${k} ${buf})
                (local.set $j (i32.const 0))
                (block $gd${k} (loop $gl${k}
                  (br_if $gd${k} (i32.ge_u ${g('j')} ${g('len')}))
                  (f32.store ${add(g(`q${k}`), shl2(g('j')))}
                    (f32.load ${add(g(`b${k}`), shl2(mul(add(g('done'), g('j')), g('s3'))))}))
                  (local.set $j (i32.add ${g('j')} (i32.const 1)))
                  (br $gl${k})))))))))`;
}

/** row index → element offset of operand/output at word `base` (ptr, s0, s1, s2, s3), column $col */
const rowBase = (base: number) =>
  add(
    w(base),
    shl2(
      add(mul(g('i0'), w(base + 1)), mul(g('i1'), w(base + 2)), mul(g('i2'), w(base + 3)), mul(g('col'), w(base + 4))),
    ),
  );

export const chain: WatFragment = {
  name: 'elementwise_chain',
  wat: () => `  (func (export "elementwise_chain") (param $p i32) (param $t0 i32) (param $t1 i32)
    (local $t i32) (local $n i32) (local $chunk i32) (local $e i32) (local $e1 i32) (local $d3 i32)
    (local $row i32) (local $col i32) (local $len i32) (local $i0 i32) (local $i1 i32) (local $i2 i32)
    (local $nin i32) (local $scr i32) (local $acc i32) (local $b0 i32) (local $b1 i32) (local $b2 i32) (local $ob i32)
    (local $q0 i32) (local $q1 i32) (local $q2 i32) (local $done i32) (local $blk i32) (local $vb i32)
    (local $ins i32) (local $ip i32) (local $op i32) (local $pa i32) (local $pb i32) (local $j i32) (local $s3 i32)
    (local $x v128) (local $y v128) (local $s v128) (local $al v128) (local $be v128)
    (local.set $n ${w(0)})
    (local.set $d3 ${w(4)})
    (local.set $nin ${w(5)})
    (local.set $chunk (i32.div_u (i32.add ${g('n')} (i32.sub ${w(1)} (i32.const 1))) ${w(1)}))
    (local.set $t ${g('t0')})
    (block $tdone (loop $tasks
      (br_if $tdone (i32.ge_u ${g('t')} ${g('t1')}))
      (local.set $scr (i32.add ${w(7)} (i32.mul ${g('t')} (i32.const ${CHAIN_SCRATCH_BYTES}))))
      (local.set $acc ${g('scr')})
      (local.set $e (i32.mul ${g('t')} ${g('chunk')}))
      (local.set $e1 (i32.add ${g('e')} ${g('chunk')}))
      (if (i32.gt_u ${g('e1')} ${g('n')}) (then (local.set $e1 ${g('n')})))
      (block $sdone (loop $segs
        (br_if $sdone (i32.ge_u ${g('e')} ${g('e1')}))
        ;; one segment: the rest of a row of d3 elements, or of the task's range
        (local.set $row (i32.div_u ${g('e')} ${g('d3')}))
        (local.set $col (i32.rem_u ${g('e')} ${g('d3')}))
        (local.set $len (i32.sub ${g('d3')} ${g('col')}))
        (if (i32.gt_u ${g('len')} (i32.sub ${g('e1')} ${g('e')})) (then (local.set $len (i32.sub ${g('e1')} ${g('e')}))))
        (local.set $i2 (i32.rem_u ${g('row')} ${w(3)}))
        (local.set $i1 (i32.rem_u (i32.div_u ${g('row')} ${w(3)}) ${w(2)}))
        (local.set $i0 (i32.div_u (i32.div_u ${g('row')} ${w(3)}) ${w(2)}))
        (local.set $ob ${rowBase(8)})
        (local.set $b0 ${rowBase(13)})
        (if (i32.gt_u ${g('nin')} (i32.const 1)) (then (local.set $b1 ${rowBase(18)})))
        (if (i32.gt_u ${g('nin')} (i32.const 2)) (then (local.set $b2 ${rowBase(23)})))
        (local.set $done (i32.const 0))
        (block $bdone (loop $blocks
          (br_if $bdone (i32.ge_u ${g('done')} ${g('len')}))
          (local.set $blk (i32.sub ${g('len')} ${g('done')}))
          (if (i32.gt_u ${g('blk')} (i32.const ${CHAIN_BLK})) (then (local.set $blk (i32.const ${CHAIN_BLK}))))
          ;; bytes of whole vectors covering the block
          (local.set $vb (i32.shl (i32.shr_u (i32.add ${g('blk')} (i32.const 3)) (i32.const 2)) (i32.const 4)))
          ${operand(0)}
          ${operand(1)}
          ${operand(2)}
          (local.set $ins (i32.const 0))
          (local.set $ip (i32.add ${g('p')} (i32.const ${CHAIN_HEADER_WORDS * 4})))
          (block $idone (loop $instrs
            (br_if $idone (i32.ge_u ${g('ins')} ${w(6)}))
            (local.set $op (i32.load ${g('ip')}))
            (local.set $pa ${sel('(i32.load offset=4 (local.get $ip))')})
            (local.set $pb ${sel('(i32.load offset=8 (local.get $ip))')})
            (local.set $al (f32x4.splat (f32.load offset=12 ${g('ip')})))
            (local.set $be (f32x4.splat (f32.load offset=16 ${g('ip')})))
            ${dispatch()}
            (local.set $ip (i32.add ${g('ip')} (i32.const 20)))
            (local.set $ins (i32.add ${g('ins')} (i32.const 1)))
            (br $instrs)))
          ;; acc -> the output view: whole vectors when its row is contiguous, then lane by lane
          (local.set $j (i32.const 0))
          (if (i32.eq ${w(12)} (i32.const 1)) (then
            (block $vd (loop $vl
              (br_if $vd (i32.gt_u (i32.add ${g('j')} (i32.const 4)) ${g('blk')}))
              (v128.store ${add(g('ob'), shl2(add(g('done'), g('j'))))} (v128.load ${add(g('acc'), shl2(g('j')))}))
              (local.set $j (i32.add ${g('j')} (i32.const 4)))
              (br $vl)))))
          (block $od (loop $ol
            (br_if $od (i32.ge_u ${g('j')} ${g('blk')}))
            (f32.store ${add(g('ob'), shl2(mul(add(g('done'), g('j')), w(12))))} (f32.load ${add(g('acc'), shl2(g('j')))}))
            (local.set $j (i32.add ${g('j')} (i32.const 1)))
            (br $ol)))
          (local.set $done (i32.add ${g('done')} ${g('blk')}))
          (br $blocks)))
        (local.set $e (i32.add ${g('e')} ${g('len')}))
        (br $segs)))
      (local.set $t (i32.add ${g('t')} (i32.const 1)))
      (br $tasks))))
`,
};

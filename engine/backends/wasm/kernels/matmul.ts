// A plain SIMD matmul: one row of C per task, four k at a time (C row updated once per 4 k).
// The interim GEMM of the wasm device (conv2d and matmul route through engine/backends/wasm/ops_conv.ts
// and ops_matmul.ts); the packed-panel GEMM (gemm_wat.ts) replaces it where it is wired in.
//   mm(a, b, c, M, N, K, sam, sak, ldb, ldc, acc, t0, t1)
//   C[i, j] (+)= sum_k A[i*sam + k*sak] * B[k*ldb + j]   (element strides; acc=0 overwrites C)
import type { WatFragment } from '../abi.js';
import { fma } from './common.js';

const g = (n: string) => `(local.get $${n})`;
const addr = (base: string, idx: string) => `(i32.add ${g(base)} (i32.shl ${idx} (i32.const 2)))`;
const aval = (k: string) =>
  `(f32x4.splat (f32.load ${addr('a', `(i32.add (i32.mul ${g('i')} ${g('sam')}) (i32.mul ${k} ${g('sak')}))`)}))`;

export const matmul: WatFragment = {
  name: 'matmul',
  wat: (f) => {
    const brow = (r: number) => `(v128.load ${addr(`b${r}`, g('j'))})`;
    const sbrow = (r: number) => `(f32x4.splat (f32.load ${addr(`b${r}`, g('j'))}))`;
    const quad = (ld: (r: number) => string) =>
      fma(
        f,
        g('a3'),
        ld(3),
        fma(f, g('a2'), ld(2), fma(f, g('a1'), ld(1), fma(f, g('a0'), ld(0), '(local.get $acc4)'))),
      );
    return `  (func (export "mm") (param $a i32) (param $b i32) (param $c i32) (param $M i32) (param $N i32) (param $K i32)
      (param $sam i32) (param $sak i32) (param $ldb i32) (param $ldc i32) (param $acc i32) (param $t0 i32) (param $t1 i32)
    (local $i i32) (local $k i32) (local $j i32) (local $cr i32) (local $b0 i32) (local $b1 i32) (local $b2 i32) (local $b3 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $acc4 v128) (local $n4 i32)
    (local.set $n4 (i32.and ${g('N')} (i32.const -4)))
    (local.set $i ${g('t0')})
    (block $done (loop $rows
      (br_if $done (i32.ge_u ${g('i')} ${g('t1')}))
      (local.set $cr (i32.add ${g('c')} (i32.shl (i32.mul ${g('i')} ${g('ldc')}) (i32.const 2))))
      (if (i32.eqz ${g('acc')}) (then (memory.fill ${g('cr')} (i32.const 0) (i32.shl ${g('N')} (i32.const 2)))))
      (local.set $k (i32.const 0))
      (block $kd (loop $kl
        (br_if $kd (i32.gt_u (i32.add ${g('k')} (i32.const 4)) ${g('K')}))
        (local.set $a0 ${aval(g('k'))})
        (local.set $a1 ${aval(`(i32.add ${g('k')} (i32.const 1))`)})
        (local.set $a2 ${aval(`(i32.add ${g('k')} (i32.const 2))`)})
        (local.set $a3 ${aval(`(i32.add ${g('k')} (i32.const 3))`)})
        (local.set $b0 (i32.add ${g('b')} (i32.shl (i32.mul ${g('k')} ${g('ldb')}) (i32.const 2))))
        (local.set $b1 (i32.add ${g('b0')} (i32.shl ${g('ldb')} (i32.const 2))))
        (local.set $b2 (i32.add ${g('b1')} (i32.shl ${g('ldb')} (i32.const 2))))
        (local.set $b3 (i32.add ${g('b2')} (i32.shl ${g('ldb')} (i32.const 2))))
        (local.set $j (i32.const 0))
        (block $jd (loop $jl
          (br_if $jd (i32.ge_u ${g('j')} ${g('n4')}))
          (local.set $acc4 (v128.load ${addr('cr', g('j'))}))
          (v128.store ${addr('cr', g('j'))} ${quad(brow)})
          (local.set $j (i32.add ${g('j')} (i32.const 4)))
          (br $jl)))
        (block $td (loop $tl
          (br_if $td (i32.ge_u ${g('j')} ${g('N')}))
          (local.set $acc4 (f32x4.splat (f32.load ${addr('cr', g('j'))})))
          (f32.store ${addr('cr', g('j'))} (f32x4.extract_lane 0 ${quad(sbrow)}))
          (local.set $j (i32.add ${g('j')} (i32.const 1)))
          (br $tl)))
        (local.set $k (i32.add ${g('k')} (i32.const 4)))
        (br $kl)))
      (block $kd1 (loop $kl1
        (br_if $kd1 (i32.ge_u ${g('k')} ${g('K')}))
        (local.set $a0 ${aval(g('k'))})
        (local.set $b0 (i32.add ${g('b')} (i32.shl (i32.mul ${g('k')} ${g('ldb')}) (i32.const 2))))
        (local.set $j (i32.const 0))
        (block $jd1 (loop $jl1
          (br_if $jd1 (i32.ge_u ${g('j')} ${g('n4')}))
          (v128.store ${addr('cr', g('j'))} ${fma(f, g('a0'), brow(0), `(v128.load ${addr('cr', g('j'))})`)})
          (local.set $j (i32.add ${g('j')} (i32.const 4)))
          (br $jl1)))
        (block $td1 (loop $tl1
          (br_if $td1 (i32.ge_u ${g('j')} ${g('N')}))
          (f32.store ${addr('cr', g('j'))} (f32.add (f32.load ${addr('cr', g('j'))}) (f32.mul (f32x4.extract_lane 0 ${g('a0')}) (f32.load ${addr('b0', g('j'))}))))
          (local.set $j (i32.add ${g('j')} (i32.const 1)))
          (br $tl1)))
        (local.set $k (i32.add ${g('k')} (i32.const 1)))
        (br $kl1)))
      (local.set $i (i32.add ${g('i')} (i32.const 1)))
      (br $rows))))
`;
  },
};

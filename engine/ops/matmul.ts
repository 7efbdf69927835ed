// Matrix product as torch.matmul: (..., M, K) @ (..., K, N) → (..., M, N) with the batch dims
// broadcast; a 1-D first operand is a row (K) → (1, K), a 1-D second a column (K) → (K, 1), and
// the added dim is dropped from the result. On webgpu it is the GEMM core (shaders/matmul.wgsl +
// shaders/gemm_*.wgsl) reading both operands through strides, so transposed views cost no copy.
import { Tensor } from '../tensor.js';
import type { TypedArray } from '../dtype.js';
import { broadcastShapes, fmt, numel, sameShape } from '../shape.js';
import { noGrad, record } from '../autograd.js';
import type { WebGPUDevice } from '../device.js';
import { matmulWasm } from '../backends/wasm/ops_matmul.js';
import { gemmLaunch } from '../backends/kernel_variants.js';
import { contiguous } from './elementwise.js';
import { sumTo } from './reduce.js';
import { expand, reshape, transpose, unsqueeze } from './view.js';
import { metaOp } from '../graph/hook.js';

export function matmul(a: Tensor, b: Tensor): Tensor {
  for (const t of [a, b]) t.assertAlive('matmul');
  if (a.device !== b.device)
    throw new Error(`matmul: operands are on different devices (${a.device.type}, ${b.device.type})`);
  if (a.dtype !== b.dtype || a.dtype === 'i32')
    throw new Error(`matmul: expected two float tensors of one dtype, got ${a.dtype} and ${b.dtype}`);
  if (a.ndim === 0 || b.ndim === 0)
    throw new Error(
      `matmul: both operands need at least one dimension, got shapes ${fmt(a.shape)} and ${fmt(b.shape)}`,
    );
  // 1-D operands, as torch: promote, multiply, then drop the added dim.
  if (a.ndim === 1 || b.ndim === 1) {
    const y = matmul(a.ndim === 1 ? unsqueeze(a, 0) : a, b.ndim === 1 ? unsqueeze(b, 1) : b); // (..., M, N)
    const shape = [...y.shape];
    if (b.ndim === 1) shape.pop(); // the N = 1 column
    if (a.ndim === 1) shape.splice(shape.length - (b.ndim === 1 ? 1 : 2), 1); // the M = 1 row
    return reshape(y, shape);
  }
  const [M, K] = a.shape.slice(-2),
    [K2, N] = b.shape.slice(-2);
  if (K !== K2) throw new Error(`matmul: shapes ${fmt(a.shape)} and ${fmt(b.shape)} do not chain (${K} != ${K2})`);
  const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = Tensor.empty([...batch, M, N], a.dtype, a.device);
  if (a.device.type === 'meta') return metaOp('matmul', [a, b], {}, out);
  if (out.numel > 0) {
    const A = batchView(a, batch),
      B = batchView(b, batch);
    if (a.device.type === 'cpu') matmulCpu(A, B, out.storage.array!, numel(batch), M, N, K);
    else if (a.device.type === 'wasm') {
      // the kernel reads B's rows contiguously: a copy when its columns are strided
      const Bc = B.strides[2] === 1 || N === 1 ? B : noGrad(() => contiguous(B));
      matmulWasm(
        a.device.wasm,
        { ptr: A.storage.ptr + 4 * A.offset, strides: A.strides },
        {
          ptr: Bc.storage.ptr + 4 * Bc.offset,
          strides: [Bc.shape[0] === 1 ? 0 : Bc.strides[0], Bc.strides[1], Bc.strides[2]],
        },
        out.storage.ptr,
        numel(batch),
        M,
        N,
        K,
      );
      if (Bc !== B) Bc.dispose();
    } else matmulGpu(A, B, out, numel(batch), M, N, K);
    for (const [v, t] of [
      [A, a],
      [B, b],
    ])
      if (v !== t) v.dispose();
  }
  return record(out, 'matmul', [a, b], (g) => [
    a.requiresGrad ? sumTo(matmul(g, transpose(b, -1, -2)), a.shape) : null,
    b.requiresGrad ? sumTo(matmul(transpose(a, -1, -2), g), b.shape) : null,
  ]);
}

/**
 * t as (batch, rows, cols) with one batch stride: itself when its batch dims are absent or already
 * (broadcast-)flat, else a contiguous copy expanded to the full batch shape.
 */
function batchView(t: Tensor, batch: number[]): Tensor {
  const lead = t.shape.slice(0, -2),
    inner = t.shape.slice(-2);
  if (lead.every((d) => d === 1)) return new Tensor(t.storage, [1, ...inner], [0, ...t.strides.slice(-2)], t.offset);
  if (sameShape(lead, batch)) {
    // Flat when the batch dims step by one stride each, in row-major order.
    let ok = true;
    for (let i = 0; i < lead.length - 1; i++)
      if (lead[i + 1] !== 1 && t.strides[i] !== t.strides[i + 1] * lead[i + 1]) ok = false;
    const sb = t.strides[lead.length - 1];
    if (ok) return new Tensor(t.storage, [numel(lead), ...inner], [sb, ...t.strides.slice(-2)], t.offset);
  }
  return noGrad(() => reshape(contiguous(expand(t, [...batch, ...inner])), [numel(batch), ...inner]));
}

/** Reads (batch, rows, cols) views with stride 0 on a broadcast batch. */
function matmulCpu(A: Tensor, B: Tensor, out: TypedArray, batches: number, M: number, N: number, K: number) {
  const a = A.storage.array!,
    b = B.storage.array!;
  const [asb, asm, ask] = A.strides,
    [bsb, bsk, bsn] = B.strides;
  const aBatch = A.shape[0] === 1 ? 0 : asb,
    bBatch = B.shape[0] === 1 ? 0 : bsb;
  const row = new Float64Array(N);
  for (let z = 0; z < batches; z++)
    for (let m = 0; m < M; m++) {
      row.fill(0);
      const ab = A.offset + z * aBatch + m * asm;
      for (let k = 0; k < K; k++) {
        const av = a[ab + k * ask];
        if (av === 0) continue;
        const bb = B.offset + z * bBatch + k * bsk;
        for (let n = 0; n < N; n++) row[n] += av * b[bb + n * bsn];
      }
      out.set(row, (z * M + m) * N);
    }
}

function matmulGpu(A: Tensor, B: Tensor, out: Tensor, batches: number, M: number, N: number, K: number) {
  const gpu = (out.device as WebGPUDevice).gpu;
  const [asb, asm, ask] = A.strides,
    [bsb, bsk, bsn] = B.strides;
  const aBatch = A.shape[0] === 1 ? 0 : asb,
    bBatch = B.shape[0] === 1 ? 0 : bsb;
  // vec4 paths: 4 consecutive k of an A row, 4 consecutive columns of a B row or of an output row
  const aVec4 = ask === 1 && [asm, aBatch, A.offset].every((v) => v % 4 === 0);
  const bVec4 = bsn === 1 && [bsk, bBatch, B.offset].every((v) => v % 4 === 0);
  const { file, constants, grid } = gemmLaunch(gpu, 'matmul', M, N, batches);
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (grid.some((d) => d > max))
    throw new Error(
      `matmul: shapes (${batches}, ${M}, ${K}) @ (${K}, ${N}) need a grid of [${grid}] workgroups, over this adapter's ${max} per dimension`,
    );
  gpu.dispatch(
    { file, constants: { ...constants, A_VEC4: aVec4 ? 1 : 0, B_VEC4: bVec4 ? 1 : 0, C_VEC4: N % 4 === 0 ? 1 : 0 } },
    {
      a: A.storage.buffer!,
      a4: A.storage.buffer!,
      b: B.storage.buffer!,
      b4: B.storage.buffer!,
      out: out.storage.buffer!,
    },
    {
      M,
      N,
      seg_y: 1,
      seg_x: 1,
      seg_len: K,
      ksplit: 1,
      a_off: A.offset,
      a_sb: aBatch,
      a_sm: asm,
      a_sk: ask,
      b_off: B.offset,
      b_sb: bBatch,
      b_sk: bsk,
      b_sn: bsn,
    },
    grid,
  );
}

import t from 'tap';
import { fileURLToPath } from 'node:url';
import * as E from '../../engine/index.js';
import { readSafetensors } from '../../engine/io/safetensors.js';
import { setGemmVariant, supportsSubgroupGemm, type GemmVariant } from '../../engine/backends/kernel_variants.js';
import { assertClose, checkDevices, gradcheck, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });
const gpu = devices.find((d) => d.type === 'webgpu') as E.WebGPUDevice | undefined;
const variants: GemmVariant[] = gpu ? (supportsSubgroupGemm(gpu.gpu) ? ['cpu-like', 'gpu'] : ['gpu']) : [];
t.teardown(() => setGemmVariant(null));
const golden = readSafetensors(fileURLToPath(new URL('../fixtures/torch/conv2d.safetensors', import.meta.url)));
const tol = { rtol: 1e-4, atol: 1e-4 };

t.test('webgpu (each GEMM core) matches cpu, forward and backward', async (t) => {
  const cases: [string, (a: E.Tensor, b: E.Tensor) => E.Tensor, number[], number[]][] = [
    ['2-D, odd sizes', E.matmul, [5, 7], [7, 9]],
    ['K a multiple of 4 (vec4 rows)', E.matmul, [6, 8], [8, 3]],
    ['several tiles each way', E.matmul, [70, 36], [36, 90]],
    ['batched @ 2-D', E.matmul, [3, 5, 7], [7, 4]],
    ['broadcast batch dims', E.matmul, [2, 1, 4, 6], [3, 6, 5]],
    ['vector @ matrix', E.matmul, [6], [6, 4]],
    ['matrix @ vector', E.matmul, [3, 6], [6]],
    ['vector @ vector', E.matmul, [5], [5]],
    [
      'transposed views (read through strides)',
      (a, b) => E.matmul(E.transpose(a, 0, 1), E.transpose(b, 0, 1)),
      [7, 5],
      [9, 7],
    ],
    ['narrowed batch (offset view)', (a, b) => E.matmul(E.narrow(a, 0, 1, 2), b), [3, 4, 8], [8, 5]],
  ];
  for (const v of variants) {
    setGemmVariant(v);
    for (const [name, f, as, bs] of cases)
      await checkDevices(t, devices, `${v}: ${name}`, f, [{ shape: as }, { shape: bs }], tol);
  }
  setGemmVariant(null);
});

t.test('gradients match float64 central differences (cpu)', async (t) => {
  await gradcheck(t, 'batched broadcast', E.matmul, [{ shape: [2, 1, 3, 4] }, { shape: [2, 4, 3] }]);
  await gradcheck(t, 'vector @ matrix', E.matmul, [{ shape: [4] }, { shape: [4, 3] }]);
});

t.test('PyTorch goldens', async (t) => {
  const meta = JSON.parse(golden.metadata.matmul) as Record<string, { transpose_b: boolean }>;
  const runs: [E.Device, GemmVariant | null][] = [
    [E.cpu, null],
    ...variants.map((v) => [gpu!, v] as [E.Device, GemmVariant]),
  ];
  for (const [device, v] of runs) {
    setGemmVariant(v);
    for (const [name, m] of Object.entries(meta)) {
      const get = (k: string) => golden.tensors.get(`matmul.${name}.${k}`)!;
      const mk = (k: string) => E.tensor(get(k).data as Float32Array, get(k).shape, { device, requiresGrad: true });
      const a = mk('a'),
        b = mk('b');
      const y = E.matmul(a, m.transpose_b ? E.transpose(b, 0, 1) : b);
      E.sum(E.mul(y, E.tensor(get('gy').data as Float32Array, get('gy').shape, { device }))).backward();
      const on = `${name} (${device.type}${v ? ' ' + v : ''})`;
      assertClose(t, await y.data(), get('y').data as Float32Array, `${on} y`, 1e-4, 1e-5);
      assertClose(t, await a.grad!.data(), get('ga').data as Float32Array, `${on} grad a`, 1e-4, 1e-5);
      assertClose(t, await b.grad!.data(), get('gb').data as Float32Array, `${on} grad b`, 1e-4, 1e-5);
    }
  }
  setGemmVariant(null);
});

t.test('bad input throws naming the op and the shapes', async (t) => {
  t.throws(() => E.matmul(E.zeros([2, 3]), E.zeros([4, 5])), /matmul: shapes \[2, 3\] and \[4, 5\] do not chain/);
  t.throws(
    () => E.matmul(E.zeros([2, 2, 3]), E.zeros([3, 3, 5])),
    /matmul: shapes \[2\] and \[3\] cannot be broadcast/,
  );
  t.throws(() => E.matmul(E.zeros([]), E.zeros([3])), /matmul: both operands need at least one dimension/);
  t.throws(
    () => E.matmul(E.zeros([2, 3], { dtype: 'i32' }), E.zeros([3, 2], { dtype: 'i32' })),
    /matmul: expected two float tensors/,
  );
});

import t from 'tap';
import { fileURLToPath } from 'node:url';
import * as E from '../../engine/index.js';
import { readSafetensors } from '../../engine/io/safetensors.js';
import { setGemmVariant, supportsSubgroupGemm, type GemmVariant } from '../../engine/backends/kernel_variants.js';
import { assertClose, checkDevices, gradcheck, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });
const gpu = devices.find((d) => d.type === 'webgpu') as E.WebGPUDevice | undefined;
// Both GEMM cores run on whatever adapter is here (the subgroup one when the adapter has subgroups).
const variants: GemmVariant[] = gpu ? (supportsSubgroupGemm(gpu.gpu) ? ['cpu-like', 'gpu'] : ['gpu']) : [];
t.teardown(() => setGemmVariant(null));
const golden = readSafetensors(fileURLToPath(new URL('../fixtures/torch/conv2d.safetensors', import.meta.url)));
const tol = { rtol: 1e-4, atol: 1e-4 };

type Case = [string, number[], number[], boolean, E.Conv2dOptions];
// name, x shape, w shape, bias, options: odd sizes, several tiles, every option
const CASES: Case[] = [
  ['3->5 k3 stride 2 pad 1 (stem-like), bias', [2, 3, 9, 7], [5, 3, 3, 3], true, { stride: 2, padding: 1 }],
  ['4->6 k3 pad 0, no bias', [2, 4, 6, 5], [6, 4, 3, 3], false, {}],
  ['4->8 pad 2 dilation 2', [1, 4, 7, 8], [8, 4, 3, 3], true, { padding: 2, dilation: 2 }],
  ['groups 2', [2, 6, 5, 6], [4, 3, 3, 3], true, { padding: 1, groups: 2 }],
  ['depthwise stride 2', [2, 5, 7, 6], [5, 1, 3, 3], false, { stride: 2, padding: 1, groups: 5 }],
  ['act silu', [2, 8, 6, 5], [12, 8, 3, 3], true, { padding: 1, act: 'silu' }],
  ['1x1, 70 outputs: more than one tile each way', [2, 40, 5, 9], [70, 40, 1, 1], true, {}],
  ['3x2 kernel, stride [1, 2], padding [0, 1]', [2, 3, 6, 7], [4, 3, 3, 2], true, { stride: [1, 2], padding: [0, 1] }],
  ['stride 2 dilation 2 pad 2', [1, 3, 9, 8], [4, 3, 3, 3], false, { stride: 2, padding: 2, dilation: 2 }],
  ['stride 3, kernel 2: input rows no tap reaches', [1, 2, 8, 7], [3, 2, 2, 2], true, { stride: 3 }],
];

t.test('forward and both gradients: webgpu (each GEMM core) matches cpu', async (t) => {
  for (const v of variants) {
    setGemmVariant(v);
    for (const [name, xs, ws, bias, opts] of CASES) {
      const specs = [{ shape: xs }, { shape: ws }, ...(bias ? [{ shape: [ws[0]] }] : [])];
      await checkDevices(t, devices, `${v}: ${name}`, (x, w, b) => E.conv2d(x, w, b, opts), specs, tol);
    }
    await checkDevices(
      t,
      devices,
      `${v}: strided (transposed) input`,
      (x, w) => E.conv2d(E.transpose(x, 2, 3), w, null, { padding: 1 }),
      [{ shape: [2, 3, 7, 6] }, { shape: [4, 3, 3, 3] }],
      tol,
    );
    await checkDevices(
      t,
      devices,
      `${v}: fused bias + SiLU without autograd`,
      (x, w, b) => E.noGrad(() => E.conv2d(x, w, b, { stride: 2, padding: 1, act: 'silu' })),
      [
        { shape: [2, 8, 9, 8], grad: false },
        { shape: [16, 8, 3, 3], grad: false },
        { shape: [16], grad: false },
      ],
      tol,
    );
  }
  setGemmVariant(null);
});

t.test('gradients match float64 central differences (cpu)', async (t) => {
  const cases: Case[] = [
    ['stride 2 pad 1 bias', [2, 3, 5, 4], [4, 3, 3, 3], true, { stride: 2, padding: 1 }],
    ['groups 2, dilation 2, pad 2', [1, 4, 5, 5], [4, 2, 3, 3], true, { padding: 2, dilation: 2, groups: 2 }],
    ['silu', [1, 2, 4, 4], [3, 2, 3, 3], true, { padding: 1, act: 'silu' }],
  ];
  for (const [name, xs, ws, bias, opts] of cases) {
    const specs = [{ shape: xs }, { shape: ws }, ...(bias ? [{ shape: [ws[0]] }] : [])];
    await gradcheck(t, name, (x, w, b) => E.conv2d(x, w, b, opts), specs, { maxElems: 40 });
  }
});

t.test('PyTorch goldens: forward, grad-input, grad-weight, grad-bias', async (t) => {
  const meta = JSON.parse(golden.metadata.conv) as Record<
    string,
    { stride: number; padding: number; dilation: number; groups: number; act: 'silu' | null; bias: boolean }
  >;
  const runs: [E.Device, GemmVariant | null][] = [
    [E.cpu, null],
    ...variants.map((v) => [gpu!, v] as [E.Device, GemmVariant]),
  ];
  for (const [device, v] of runs) {
    setGemmVariant(v);
    for (const [name, m] of Object.entries(meta)) {
      const get = (k: string) => golden.tensors.get(`conv.${name}.${k}`)!;
      const mk = (k: string) => E.tensor(get(k).data as Float32Array, get(k).shape, { device, requiresGrad: true });
      const x = mk('x'),
        w = mk('w'),
        b = m.bias ? mk('b') : null;
      const y = E.conv2d(x, w, b, {
        stride: m.stride,
        padding: m.padding,
        dilation: m.dilation,
        groups: m.groups,
        act: m.act,
      });
      const gy = E.tensor(get('gy').data as Float32Array, get('gy').shape, { device });
      E.sum(E.mul(y, gy)).backward();
      const on = `${name} (${device.type}${v ? ' ' + v : ''})`;
      assertClose(t, await y.data(), get('y').data as Float32Array, `${on} y`, 1e-4, 1e-5);
      assertClose(t, await x.grad!.data(), get('gx').data as Float32Array, `${on} grad x`, 1e-4, 1e-5);
      assertClose(t, await w.grad!.data(), get('gw').data as Float32Array, `${on} grad w`, 1e-4, 1e-4);
      if (b) assertClose(t, await b.grad!.data(), get('gb').data as Float32Array, `${on} grad b`, 1e-4, 1e-4);
    }
  }
  setGemmVariant(null);
});

t.test('grad functions are exposed and agree with autograd', async (t) => {
  for (const d of devices) {
    const x = E.randn([2, 4, 7, 6], { device: d }),
      w = E.randn([6, 2, 3, 3], { device: d }),
      gy = E.randn([2, 6, 4, 3], { device: d });
    const opts = { stride: 2, padding: 1, groups: 2 };
    const xr = E.tensor(await x.data(), x.shape, { device: d, requiresGrad: true }),
      wr = E.tensor(await w.data(), w.shape, { device: d, requiresGrad: true });
    E.sum(E.mul(E.conv2d(xr, wr, null, opts), gy)).backward();
    assertClose(
      t,
      await E.conv2dGradInput(gy, w, x.shape, opts).data(),
      await xr.grad!.data(),
      `conv2dGradInput (${d.type})`,
    );
    assertClose(
      t,
      await E.conv2dGradWeight(x, gy, w.shape, opts).data(),
      await wr.grad!.data(),
      `conv2dGradWeight (${d.type})`,
    );
  }
});

t.test('bad input throws naming the op and the shapes', async (t) => {
  const x = E.zeros([1, 4, 5, 5]);
  t.throws(
    () => E.conv2d(x, E.zeros([2, 3, 3, 3])),
    /conv2d: x has 4 channels .* shapes x \[1, 4, 5, 5\], w \[2, 3, 3, 3\]/,
  );
  t.throws(() => E.conv2d(x, E.zeros([3, 2, 3, 3]), null, { groups: 2 }), /conv2d: .*must divide evenly/);
  t.throws(() => E.conv2d(E.zeros([4, 5, 5]), E.zeros([2, 4, 3, 3])), /conv2d: expected x \(N, C, H, W\)/);
  t.throws(() => E.conv2d(x, E.zeros([2, 4, 7, 7])), /conv2d: the kernel does not fit/);
  t.throws(
    () => E.conv2d(x, E.zeros([2, 4, 3, 3]), E.zeros([3])),
    /conv2d: bias of shape \[3\] does not match 2 output channels/,
  );
  t.throws(() => E.conv2d(x, E.zeros([2, 4, 3, 3]), null, { stride: 0 }), /conv2d: stride\/dilation must be positive/);
  t.throws(
    () => E.conv2dGradInput(E.zeros([1, 2, 4, 4]), E.zeros([2, 4, 3, 3]), [1, 4, 5, 5]),
    /conv2dGradInput: grad of shape \[1, 2, 4, 4\] does not match the output \[1, 2, 3, 3\]/,
  );
});

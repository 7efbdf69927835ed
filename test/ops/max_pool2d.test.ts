import t from 'tap';
import { fileURLToPath } from 'node:url';
import * as E from '../../engine/index.js';
import { readSafetensors } from '../../engine/io/safetensors.js';
import { assertClose, checkDevices, gradcheck, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });
const golden = readSafetensors(
  fileURLToPath(new URL('../fixtures/torch/max_pool2d.safetensors', import.meta.url)),
).tensors;
const g = (name: string) => golden.get(name)!;
// distinct values, so central differences never cross a tie
const distinct = { gen: (i: number) => ((i * 7919) % 211) / 37 - 2.8 };

t.test('forward and backward: webgpu matches cpu, gradients match central differences', async (t) => {
  const cases: [string, E.MaxPool2dOptions][] = [
    ['5x5 stride 1 pad 2 (SPPF)', { kernelSize: 5, stride: 1, padding: 2 }],
    ['3x3 stride 2 pad 1', { kernelSize: 3, stride: 2, padding: 1 }],
    ['2x2 default stride', { kernelSize: 2 }],
    ['3x2 kernel, stride [1, 2], pad [1, 0]', { kernelSize: [3, 2], stride: [1, 2], padding: [1, 0] }],
    ['3x3 dilation 2 pad 1', { kernelSize: 3, stride: 1, padding: 1, dilation: 2 }],
  ];
  for (const [name, opts] of cases) {
    await checkDevices(t, devices, name, (x) => E.maxPool2d(x, opts), [{ shape: [2, 3, 9, 8], ...distinct }]);
    await gradcheck(t, name, (x) => E.maxPool2d(x, opts), [{ shape: [1, 2, 6, 5], ...distinct }], { eps: 1e-4 });
  }
  await checkDevices(
    t,
    devices,
    'strided input',
    (x) => E.maxPool2d(E.transpose(x, 2, 3), { kernelSize: 3, stride: 2 }),
    [{ shape: [2, 2, 7, 9], ...distinct }],
  );
  // integer inputs tie constantly: the first maximum in row-major window order wins on every device
  await checkDevices(t, devices, 'ties', (x) => E.maxPool2d(x, { kernelSize: 3, stride: 1, padding: 1 }), [
    { shape: [2, 2, 6, 7], gen: (i) => (i * 13) % 3 },
  ]);
});

// Without gradients the wasm device runs its inference kernel (no indices): four outputs per f32x4
// (rows first then shifts for kernels up to 5 wide, else tap by tap), the row edges gathered column
// by column with -inf for the padding. Widths that leave edge groups on both sides, a tail of
// W % 4 outputs, dilation, a row stride, and a plane of 20 x 20 (SPPF at 640).
t.test('inference forward (no indices) matches cpu exactly, edges and tails included', async (t) => {
  const cases: [string, number[], E.MaxPool2dOptions][] = [
    ['SPPF 5x5 pad 2, 20x20', [1, 3, 20, 20], { kernelSize: 5, stride: 1, padding: 2 }],
    ['5x5 pad 2, 7x13', [2, 2, 7, 13], { kernelSize: 5, stride: 1, padding: 2 }],
    ['3x3 pad 1, 5x6', [1, 2, 5, 6], { kernelSize: 3, stride: 1, padding: 1 }],
    ['3x3 dilation 2 pad 1, 9x11', [1, 2, 9, 11], { kernelSize: 3, stride: 1, padding: 1, dilation: 2 }],
    ['7x7 pad 3 wider than the row, 4x5', [1, 1, 4, 5], { kernelSize: 7, stride: 1, padding: 3 }],
    ['3x3 stride [2, 1] pad 1, 9x10', [1, 2, 9, 10], { kernelSize: 3, stride: [2, 1], padding: 1 }],
  ];
  for (const [name, shape, opts] of cases)
    await checkDevices(t, devices, name, (x) => E.maxPool2d(x, opts), [{ shape, grad: false, ...distinct }], {
      rtol: 0,
      atol: 0,
    });
});

t.test('PyTorch goldens: values, indices and input gradients', async (t) => {
  const cases: [string, E.MaxPool2dOptions][] = [
    ['k5s1p2', { kernelSize: 5, stride: 1, padding: 2 }],
    ['k3s2p1', { kernelSize: 3, stride: 2, padding: 1 }], // integer-valued input: many ties
    ['k2s2p0', { kernelSize: 2, stride: 2 }],
  ];
  for (const d of devices)
    for (const [name, opts] of cases) {
      const x = E.tensor(g(`${name}_x`).data as Float32Array, g(`${name}_x`).shape, { device: d, requiresGrad: true });
      const { values, indices } = E.maxPool2dWithIndices(x, opts);
      t.same(
        [...(await indices!.data())],
        [...(g(`${name}_idx`).data as Int32Array)],
        `${name} indices match torch (${d.type})`,
      );
      assertClose(t, await values.data(), g(`${name}_y`).data as Float32Array, `${name} values (${d.type})`, 0, 0);
      const gy = E.tensor(g(`${name}_gy`).data as Float32Array, g(`${name}_gy`).shape, { device: d });
      E.sum(E.mul(values, gy)).backward();
      assertClose(
        t,
        await x.grad!.data(),
        g(`${name}_gx`).data as Float32Array,
        `${name} grad x (${d.type})`,
        1e-6,
        1e-6,
      );
    }
});

t.test('padding counts as -inf; inference writes no indices', async (t) => {
  for (const d of devices) {
    const x = E.tensor([-5, -6, -7, -8], [1, 1, 2, 2], { device: d });
    const y = E.maxPool2d(x, { kernelSize: 3, stride: 1, padding: 1 });
    t.same([...(await y.data())], [-5, -5, -5, -5], `negative inputs beat the padding (${d.type})`);
    const r = E.noGrad(() => E.maxPool2dWithIndices(x, { kernelSize: 2 }, false));
    t.equal(r.indices, null, 'no indices under noGrad when not asked for');
    t.same([...(await r.values.data())], [-5], `values still computed (${d.type})`);
  }
});

t.test('bad input throws naming the op and the shapes', async (t) => {
  const x = E.zeros([1, 2, 4, 4]);
  t.throws(() => E.maxPool2d(x, { kernelSize: 0 }), /maxPool2d: kernelSize must be positive integers, got 0/);
  t.throws(() => E.maxPool2d(x, { kernelSize: [2, 1.5] }), /maxPool2d: kernelSize must be positive integers/);
  t.throws(() => E.maxPool2d(x, { kernelSize: 2, stride: 0 }), /maxPool2d: stride must be positive integers/);
  t.throws(
    () => E.maxPool2d(x, { kernelSize: 3, padding: 2 }),
    /maxPool2d: padding 2 must be non-negative integers at most half the kernel size \[3, 3\]/,
  );
  t.throws(
    () => E.maxPool2d(x, { kernelSize: 5 }),
    /maxPool2d: input of shape \[1, 2, 4, 4\] is too small for kernel \[5, 5\]/,
  );
  t.throws(
    () => E.maxPool2d(E.zeros([2, 4, 4]), { kernelSize: 2 }),
    /maxPool2d: expected a \(N, C, H, W\) tensor, got shape \[2, 4, 4\]/,
  );
});

import t from 'tap';
import { fileURLToPath } from 'node:url';
import * as E from '../../engine/index.js';
import { readSafetensors } from '../../engine/io/safetensors.js';
import { randomNormal } from '../../engine/random.js';
import { assertClose, checkDevices, gradcheck, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });
const golden = readSafetensors(
  fileURLToPath(new URL('../fixtures/torch/batch_norm2d.safetensors', import.meta.url)),
).tensors;
const g = (name: string) => golden.get(name)!;
const ult = { momentum: 0.03, eps: 1e-3 }; // Ultralytics' BatchNorm2d settings

/** Fresh running buffers like torch's defaults shifted, so the update is visible. */
function running(x: E.Tensor) {
  const c = x.shape[1],
    o = { dtype: x.dtype, device: x.device };
  return [
    E.tensor(
      Array.from({ length: c }, (_, i) => 0.1 * i - 0.2),
      [c],
      o,
    ),
    E.tensor(
      Array.from({ length: c }, (_, i) => 0.5 + 0.25 * i),
      [c],
      o,
    ),
  ];
}
const train = (x: E.Tensor, w: E.Tensor | null, b: E.Tensor | null) =>
  E.batchNorm2d(x, ...(running(x) as [E.Tensor, E.Tensor]), w, b, { training: true, ...ult });
const evalBn = (x: E.Tensor, w: E.Tensor | null, b: E.Tensor | null) =>
  E.batchNorm2d(x, ...(running(x) as [E.Tensor, E.Tensor]), w, b, { training: false, ...ult });
const pos = { gen: (i: number) => 0.6 + ((i * 7919) % 13) / 10 };

t.test('forward and backward: webgpu matches cpu, gradients match central differences', async (t) => {
  await checkDevices(t, devices, 'train', train, [{ shape: [3, 4, 5, 6] }, { shape: [4], ...pos }, { shape: [4] }]);
  await checkDevices(t, devices, 'train, no affine', (x) => train(x, null, null), [{ shape: [2, 3, 4, 5] }]);
  await checkDevices(t, devices, 'eval', evalBn, [{ shape: [2, 4, 3, 5] }, { shape: [4], ...pos }, { shape: [4] }]);
  // 2 * 75 * 80 = 12000 values per channel: several workgroups per channel, merged partials.
  // The channel means sit far from 0, as after a conv: d(grad weight)/d(mean) = -sum(gy), so one
  // f32 ulp of the mean moves the weight gradient by ~1e-3 relative (torch has the same conditioning).
  await checkDevices(
    t,
    devices,
    'train, split reductions, offset data',
    train,
    [{ shape: [2, 3, 75, 80], gen: () => 20 + 3 * randomNormal() }, { shape: [3], ...pos }, { shape: [3] }],
    { rtol: 1e-3, atol: 1e-4 },
  );
  await checkDevices(
    t,
    devices,
    'train, strided input (permuted)',
    (x, w, b) => train(E.permute(x, [0, 3, 1, 2]), w, b),
    [{ shape: [2, 3, 4, 5] }, { shape: [5], ...pos }, { shape: [5] }],
  );
  await gradcheck(t, 'train', train, [{ shape: [2, 3, 3, 2] }, { shape: [3], ...pos }, { shape: [3] }]);
  await gradcheck(t, 'train, no affine', (x) => train(x, null, null), [{ shape: [3, 2, 2, 2] }]);
  await gradcheck(t, 'eval', evalBn, [{ shape: [2, 3, 2, 2] }, { shape: [3], ...pos }, { shape: [3] }]);
});

// act: 'silu' (the Conv block's BN -> SiLU): one fused kernel each way on wasm, the two ops elsewhere.
// Plane sizes 30 and 35 leave 2 and 3 elements after the four-at-a-time loop.
t.test("act 'silu': every device matches cpu's batch norm then silu, the wasm fused kernels bit for bit", async (t) => {
  const fused =
    (training: boolean) =>
    (x: E.Tensor, w: E.Tensor | null = null, b: E.Tensor | null = null) =>
      E.batchNorm2d(x, ...(running(x) as [E.Tensor, E.Tensor]), w, b, { training, ...ult, act: 'silu' });
  const cases: [string, number[], boolean][] = [
    ['train', [3, 4, 5, 6], true],
    ['train, odd planes', [2, 3, 7, 5], true],
    ['eval', [2, 4, 3, 5], false],
  ];
  for (const [name, shape, training] of cases) {
    const c = shape[1];
    const specs = [{ shape }, { shape: [c], ...pos }, { shape: [c] }];
    await checkDevices(t, devices, `silu, ${name}`, fused(training), specs);
    await checkDevices(t, devices, `silu, ${name}, no affine`, (x) => fused(training)(x), [{ shape }]);
    // x without a gradient: the backward computes only the weight and bias gradients (no gx to park gz in)
    await checkDevices(t, devices, `silu, ${name}, weight and bias gradients only`, fused(training), [
      { shape, grad: false },
      ...specs.slice(1),
    ]);
    const wasm = devices.find((d) => d.type === 'wasm');
    if (!wasm) continue;
    // the same inputs through the fused op and through batchNorm2d then silu, on wasm
    const run = async (fuse: boolean) => {
      E.manualSeed(3);
      const [x, w, b] = specs.map((sp, k) =>
        E.tensor(
          k === 0 ? E.randn(sp.shape).dataSync() : Array.from({ length: c }, (_, i) => 0.6 + 0.3 * i - 0.1 * k),
          sp.shape,
          { device: wasm, requiresGrad: true },
        ),
      );
      const [rm, rv] = running(x);
      const y = fuse
        ? E.batchNorm2d(x, rm, rv, w, b, { training, ...ult, act: 'silu' })
        : E.silu(E.batchNorm2d(x, rm, rv, w, b, { training, ...ult }));
      const gy = E.tensor(
        Array.from({ length: y.numel }, (_, i) => Math.sin(i * 0.7) + 0.5),
        y.shape,
        { device: wasm },
      );
      E.sum(E.mul(y, gy)).backward();
      return Promise.all([y, x.grad!, w.grad!, b.grad!, rm, rv].map(async (v) => [...(await v.data())]));
    };
    const [a, u] = [await run(true), await run(false)];
    ['y', 'grad x', 'grad weight', 'grad bias', 'running mean', 'running var'].forEach((what, k) =>
      t.same(a[k], u[k], `silu, ${name}: wasm fused ${what} = batch norm then silu on wasm, bit for bit`),
    );
  }
});

t.test('running statistics update in place with the unbiased variance', async (t) => {
  for (const d of devices) {
    const x = E.tensor([1, 2, 3, 4, 10, 20, 30, 40], [2, 2, 1, 2], { device: d }); // channel 0: 1,2,10,20; channel 1: 3,4,30,40
    // running buffers as views into one arena, to check offsets and that neighbours are untouched
    const arena = E.tensor([9, 0, 0, 9, 1, 1, 9], [7], { device: d });
    const rm = E.narrow(arena, 0, 1, 2),
      rv = E.narrow(arena, 0, 4, 2);
    E.batchNorm2d(x, rm, rv, null, null, { training: true, momentum: 0.5 });
    const m0 = (1 + 2 + 10 + 20) / 4,
      v0 = [1, 2, 10, 20].reduce((s, v) => s + (v - m0) ** 2, 0) / 3;
    const m1 = (3 + 4 + 30 + 40) / 4,
      v1 = [3, 4, 30, 40].reduce((s, v) => s + (v - m1) ** 2, 0) / 3;
    assertClose(
      t,
      await arena.data(),
      [9, m0 / 2, m1 / 2, 9, (1 + v0) / 2, (1 + v1) / 2, 9],
      `running mean/var (${d.type})`,
      1e-6,
      1e-6,
    );
  }
});

t.test('PyTorch goldens: BatchNorm2d(eps=1e-3, momentum=0.03) train step and eval', async (t) => {
  for (const d of devices) {
    const T = (name: string, requiresGrad = false) =>
      E.tensor(g(name).data as Float32Array, g(name).shape, { device: d, requiresGrad });
    const w = T('weight', true),
      b = T('bias', true);
    const rm = T('running_mean_before'),
      rv = T('running_var_before');
    const x = T('train_x', true);
    const y = E.batchNorm2d(x, rm, rv, w, b, { training: true, ...ult });
    E.sum(E.mul(y, T('train_gy'))).backward();
    const tol = [1e-5, 2e-6] as const;
    assertClose(t, await y.data(), g('train_y').data as Float32Array, `train y (${d.type})`, ...tol);
    assertClose(
      t,
      await rm.data(),
      g('running_mean_after').data as Float32Array,
      `running_mean after one step (${d.type})`,
      1e-5,
      1e-6,
    );
    assertClose(
      t,
      await rv.data(),
      g('running_var_after').data as Float32Array,
      `running_var after one step (${d.type})`,
      1e-5,
      1e-6,
    );
    assertClose(t, await x.grad!.data(), g('train_gx').data as Float32Array, `train grad x (${d.type})`, ...tol);
    assertClose(
      t,
      await w.grad!.data(),
      g('train_gw').data as Float32Array,
      `train grad weight (${d.type})`,
      1e-5,
      1e-5,
    );
    assertClose(t, await b.grad!.data(), g('train_gb').data as Float32Array, `train grad bias (${d.type})`, 1e-5, 1e-5);

    w.grad = b.grad = null;
    const xe = T('eval_x', true);
    const ye = E.batchNorm2d(xe, rm, rv, w, b, { training: false, ...ult });
    E.sum(E.mul(ye, T('eval_gy'))).backward();
    assertClose(t, await ye.data(), g('eval_y').data as Float32Array, `eval y (${d.type})`, ...tol);
    assertClose(t, await xe.grad!.data(), g('eval_gx').data as Float32Array, `eval grad x (${d.type})`, ...tol);
    assertClose(t, await w.grad!.data(), g('eval_gw').data as Float32Array, `eval grad weight (${d.type})`, 1e-5, 1e-5);
    assertClose(t, await b.grad!.data(), g('eval_gb').data as Float32Array, `eval grad bias (${d.type})`, 1e-5, 1e-5);
  }
});

t.test('the saved statistics survive a tidy() around the forward', async (t) => {
  for (const d of devices) {
    const x = E.randn([2, 3, 2, 2], { device: d, requiresGrad: true });
    const w = E.ones([3], { device: d, requiresGrad: true });
    const y = E.tidy(() => E.batchNorm2d(x, null, null, w, null, { training: true }));
    E.sum(E.mul(y, x)).backward();
    t.equal(x.grad!.shape.join(), '2,3,2,2', `grad of x computed (${d.type})`);
    t.equal(w.grad!.shape.join(), '3', `grad of weight computed (${d.type})`);
  }
});

t.test('bad input throws naming the op and the shapes', async (t) => {
  const x = E.zeros([2, 3, 4, 4]);
  const c3 = () => E.zeros([3]);
  t.throws(
    () => E.batchNorm2d(x, c3(), c3(), E.ones([4]), null, { training: true }),
    /batchNorm2d: weight of shape \[4\] does not match x of shape \[2, 3, 4, 4\] \(3 channels\)/,
  );
  t.throws(
    () => E.batchNorm2d(x, E.zeros([5]), c3(), null, null, { training: true }),
    /batchNorm2d: runningMean of shape \[5\] does not match/,
  );
  t.throws(
    () => E.batchNorm2d(E.zeros([2, 3, 4]), null, null, null, null, { training: true }),
    /batchNorm2d: expected x of shape \(N, C, H, W\), got \[2, 3, 4\]/,
  );
  t.throws(
    () => E.batchNorm2d(x, null, null, null, null, { training: false }),
    /batchNorm2d: eval mode needs runningMean and runningVar/,
  );
  t.throws(
    () => E.batchNorm2d(E.zeros([1, 3, 1, 1]), null, null, null, null, { training: true }),
    /expected more than 1 value per channel when training/,
  );
});

import t from 'tap';
import * as E from '../../engine/index.js';
import { readSafetensors } from '../../engine/io/safetensors.js';
import { assertClose, checkDevices, gradcheck, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });
const golden = readSafetensors(new URL('../fixtures/torch/dfl.safetensors', import.meta.url).pathname).tensors;

/** The input formula of test/fixtures/torch/gen_dfl.py (float64, rounded to float32). */
function formula(shape: number[]) {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, (_, i) => 4 * Math.sin(i * 0.37) + 3 * Math.cos(i * 0.0173));
}

/** The unfused definition: softmax over the bins, then the expectation Σ p_i * i. */
function dflUnfused(x: E.Tensor, regMax: number) {
  const [b, , a] = x.shape;
  const p = E.softmax(E.reshape(x, [b, 4, regMax, a]), 2);
  const bins = E.reshape(E.arange(regMax, undefined, 1, { dtype: x.dtype, device: x.device }), [1, 1, regMax, 1]);
  return E.sum(E.mul(p, bins), 2);
}

t.test('dfl: webgpu matches cpu, equals softmax-then-expectation, gradients match central differences', async (t) => {
  await checkDevices(t, devices, 'dfl (2, 64, 50)', (x) => E.dfl(x), [{ shape: [2, 64, 50] }]);
  await checkDevices(t, devices, 'dfl regMax 4 (1, 16, 7)', (x) => E.dfl(x, 4), [{ shape: [1, 16, 7] }]);
  // the head hands over a channel slice of (B, 64 + nc, A): a strided view, read without a copy
  await checkDevices(t, devices, 'dfl of a channel slice', (x) => E.dfl(E.narrow(x, 1, 0, 64)), [
    { shape: [2, 65, 30] },
  ]);
  await checkDevices(
    t,
    devices,
    'fused vs unfused',
    (x) => E.sub(E.dfl(x), dflUnfused(x, 16)),
    [{ shape: [2, 64, 20], grad: false }],
    { atol: 1e-5 },
  );
  // without a gradient to come wasm runs its f32 kernel (exp4, f32 sums): within f32 rounding of the
  // f64 reference; 50 and 37 anchors leave a tail after the groups of 4, the permuted view gathers
  const f32 = { rtol: 2e-6, atol: 1e-6 };
  await checkDevices(t, devices, 'no grad', (x) => E.dfl(x), [{ shape: [2, 64, 50], grad: false }], f32);
  await checkDevices(
    t,
    devices,
    'no grad, anchors strided',
    (x) => E.dfl(E.permute(x, [0, 2, 1])),
    [{ shape: [2, 37, 64], grad: false }],
    f32,
  );
  await gradcheck(t, 'dfl', (x) => E.dfl(x, 4), [{ shape: [2, 16, 3] }]);
  await gradcheck(t, 'dfl of a channel slice', (x) => E.dfl(E.narrow(x, 1, 1, 16), 4), [{ shape: [2, 18, 3] }]);
});

t.test('dfl matches torch softmax(...).matmul(arange(16)) on (2, 64, 2100)', async (t) => {
  const big = formula([2, 64, 2100]);
  const small = formula([1, 64, 50]);
  for (const d of devices) {
    const y = E.dfl(E.tensor(big, [2, 64, 2100], { device: d }));
    t.same(y.shape, [2, 4, 2100], 'output shape (B, 4, A)');
    assertClose(
      t,
      await y.data(),
      golden.get('big_y')!.data as Float32Array,
      `dfl (2, 64, 2100) vs torch (${d.type})`,
      1e-5,
      1e-5,
    );
    const x = E.tensor(small, [1, 64, 50], { device: d, requiresGrad: true });
    const ys = E.dfl(x);
    const w = E.tensor(
      Array.from({ length: ys.numel }, (_, i) => Math.sin(i * 0.7) + 0.5),
      ys.shape,
      { device: d },
    );
    E.sum(E.mul(ys, w)).backward();
    assertClose(
      t,
      await ys.data(),
      golden.get('small_y')!.data as Float32Array,
      `dfl (1, 64, 50) vs torch (${d.type})`,
      1e-5,
      1e-5,
    );
    assertClose(
      t,
      await x.grad!.data(),
      golden.get('small_grad')!.data as Float32Array,
      `dfl grad vs torch autograd (${d.type})`,
      1e-4,
      1e-6,
    );
  }
});

t.test('bad input throws naming the op and shape', async (t) => {
  t.throws(() => E.dfl(E.zeros([2, 60, 5])), /dfl: expects x of shape \(B, 4\*regMax = 64, A\), got \[2, 60, 5\]/);
  t.throws(() => E.dfl(E.zeros([64, 5])), /dfl: expects x of shape \(B, 4\*regMax = 64, A\), got \[64, 5\]/);
  t.throws(() => E.dfl(E.zeros([1, 64, 5]), 0), /dfl: regMax must be a positive integer, got 0/);
  t.throws(() => E.dfl(E.zeros([1, 64, 5], { dtype: 'i32' })), /dfl: expects a floating-point tensor/);
});

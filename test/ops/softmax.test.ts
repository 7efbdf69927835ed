import t from 'tap';
import * as E from '../../engine/index.js';
import { readSafetensors } from '../../engine/io/safetensors.js';
import { assertClose, checkDevices, gradcheck, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });
const golden = readSafetensors(new URL('../fixtures/torch/softmax.safetensors', import.meta.url).pathname).tensors;
const fns = { softmax: E.softmax, log_softmax: E.logSoftmax } as const;

t.test('softmax / logSoftmax on every axis: webgpu matches cpu, gradients match central differences', async (t) => {
  for (const [name, f] of Object.entries(fns)) {
    for (const axis of [0, 1, -1]) {
      await checkDevices(t, devices, `${name} axis ${axis}`, (x) => f(x, axis), [{ shape: [3, 4, 5] }]);
      await gradcheck(t, `${name} axis ${axis}`, (x) => f(x, axis), [{ shape: [2, 3, 4] }]);
    }
    // long rows take the workgroup-per-row kernel, along the last axis and along a strided one
    await checkDevices(t, devices, `${name} long rows`, (x) => f(x, -1), [{ shape: [3, 3000] }]);
    await checkDevices(t, devices, `${name} long strided rows`, (x) => f(x, 1), [{ shape: [2, 700, 3] }]);
    await checkDevices(t, devices, `${name} of a transposed view`, (x) => f(E.transpose(x, 0, 1), 0), [
      { shape: [4, 6] },
    ]);
  }
});

t.test('matches torch on every axis, values and gradients', async (t) => {
  const x = golden.get('x')!;
  for (const d of devices) {
    for (const [name, f] of Object.entries(fns)) {
      for (const axis of [0, 1, 2]) {
        const xt = E.tensor(x.data as Float32Array, x.shape, { device: d, requiresGrad: true });
        const y = f(xt, axis);
        const w = E.tensor(
          Array.from({ length: y.numel }, (_, i) => Math.sin(i * 0.7) + 0.5),
          y.shape,
          { device: d },
        );
        E.sum(E.mul(y, w)).backward();
        assertClose(
          t,
          await y.data(),
          golden.get(`${name}_${axis}`)!.data as Float32Array,
          `${name} axis ${axis} vs torch (${d.type})`,
          1e-5,
          1e-6,
        );
        assertClose(
          t,
          await xt.grad!.data(),
          golden.get(`${name}_${axis}_grad`)!.data as Float32Array,
          `${name} axis ${axis} grad vs torch (${d.type})`,
          1e-5,
          1e-6,
        );
      }
    }
  }
});

t.test('stable for huge logits, rows sum to one', async (t) => {
  for (const d of devices) {
    for (const n of [5, 1000]) {
      const x = E.tensor(
        Array.from({ length: 2 * n }, (_, i) => (i % 2 ? 1e4 : -1e4) + i),
        [2, n],
        { device: d },
      );
      const y = await E.softmax(x).data();
      const l = await E.logSoftmax(x).data();
      t.ok(
        [...y].every(Number.isFinite) && [...l].every(Number.isFinite),
        `no inf/NaN for |x| ~ 1e4, rows of ${n} (${d.type})`,
      );
      const rowSum = y.slice(0, n).reduce((a, b) => a + b, 0);
      t.ok(Math.abs(rowSum - 1) < 1e-5, `row sums to 1 (${rowSum}) (${d.type})`);
    }
  }
});

t.test('bad input throws naming the op and shape', async (t) => {
  t.throws(() => E.softmax(E.zeros([2, 3]), 2), /softmax: axis 2 is out of range for a tensor of rank 2/);
  t.throws(
    () => E.logSoftmax(E.zeros([2, 3], { dtype: 'i32' })),
    /logSoftmax: expects a floating-point tensor, got i32 of shape \[2, 3\]/,
  );
});

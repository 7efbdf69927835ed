import t from 'tap';
import { fileURLToPath } from 'node:url';
import * as E from '../../engine/index.js';
import { readSafetensors } from '../../engine/io/safetensors.js';
import { assertClose, checkDevices, gradcheck, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });
const golden = readSafetensors(
  fileURLToPath(new URL('../fixtures/torch/upsample_nearest2d.safetensors', import.meta.url)),
).tensors;
const g = (name: string) => golden.get(name)!;

t.test('forward and backward: webgpu matches cpu, gradients match central differences', async (t) => {
  for (const scale of [2, 3, [2, 3], [1, 2]] as (number | [number, number])[]) {
    const name = `scale ${JSON.stringify(scale)}`;
    await checkDevices(t, devices, name, (x) => E.upsampleNearest2d(x, scale), [{ shape: [2, 3, 5, 4] }]);
    await gradcheck(t, name, (x) => E.upsampleNearest2d(x, scale), [{ shape: [1, 2, 3, 2] }]);
  }
  await checkDevices(t, devices, 'strided input', (x) => E.upsampleNearest2d(E.permute(x, [0, 3, 1, 2]), 2), [
    { shape: [2, 3, 4, 5] },
  ]);
  // double backward: the gradient of the block sum is the upsampling again
  await gradcheck(t, 'backward of backward', (g) => E.upsampleNearest2dBackward(g, 2), [{ shape: [1, 2, 4, 6] }]);
});

t.test('PyTorch goldens: nn.Upsample(scale_factor, mode="nearest")', async (t) => {
  for (const d of devices)
    for (const name of ['x2', 'x3', 'x2x3']) {
      const scale: number | [number, number] = name === 'x2' ? 2 : name === 'x3' ? 3 : [2, 3];
      const x = E.tensor(g(`${name}_x`).data as Float32Array, g(`${name}_x`).shape, { device: d, requiresGrad: true });
      const y = E.upsampleNearest2d(x, scale);
      t.same(y.shape, g(`${name}_y`).shape, `${name} shape`);
      assertClose(t, await y.data(), g(`${name}_y`).data as Float32Array, `${name} values (${d.type})`, 0, 0);
      E.sum(E.mul(y, E.tensor(g(`${name}_gy`).data as Float32Array, g(`${name}_gy`).shape, { device: d }))).backward();
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

t.test('bad input throws naming the op and the shapes', async (t) => {
  t.throws(
    () => E.upsampleNearest2d(E.zeros([1, 2, 3, 3]), 1.5),
    /upsampleNearest2d: scale must be a positive integer or a pair of them, got 1.5/,
  );
  t.throws(() => E.upsampleNearest2d(E.zeros([1, 2, 3, 3]), 0), /upsampleNearest2d: scale must be a positive integer/);
  t.throws(
    () => E.upsampleNearest2d(E.zeros([2, 3, 3]), 2),
    /upsampleNearest2d: expected a \(N, C, H, W\) tensor, got shape \[2, 3, 3\]/,
  );
  t.throws(
    () => E.upsampleNearest2dBackward(E.zeros([1, 1, 5, 4]), 2),
    /upsampleNearest2dBackward: shape \[1, 1, 5, 4\] is not a multiple of the scale \[2, 2\]/,
  );
});

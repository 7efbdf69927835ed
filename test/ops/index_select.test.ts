import t from 'tap';
import * as E from '../../engine/index.js';
import { readSafetensors, type STEntry } from '../../engine/io/safetensors.js';
import { assertClose, checkDevices, gradcheck, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });
const golden = readSafetensors(new URL('../fixtures/torch/index_select.safetensors', import.meta.url).pathname).tensors;
const upload = (e: STEntry, device: E.Device, requiresGrad = false) =>
  E.tensor(e.data as Float32Array | Int32Array, e.shape, { device, requiresGrad });

t.test('indexSelect: webgpu matches cpu, gradients match central differences', async (t) => {
  const idx = { dtype: 'i32' as const, gen: (i: number) => [2, 0, 2, 3, 3, 1][i % 6] };
  for (const axis of [0, 1, -1]) {
    await checkDevices(t, devices, `indexSelect axis ${axis}`, (x, i) => E.indexSelect(x, axis, i), [
      { shape: [4, 5, 4] },
      { shape: [6], ...idx },
    ]);
    await gradcheck(t, `indexSelect axis ${axis}`, (x, i) => E.indexSelect(x, axis, i), [
      { shape: [4, 4, 4] },
      { shape: [6], ...idx },
    ]);
  }
  await checkDevices(
    t,
    devices,
    'indexSelect of a permuted view',
    (x, i) => E.indexSelect(E.permute(x, [2, 0, 1]), 1, i),
    [{ shape: [4, 5, 3] }, { shape: [6], ...idx }],
  );
  await checkDevices(t, devices, 'indexSelect empty index', (x, i) => E.indexSelect(x, 0, i), [
    { shape: [4, 3] },
    { shape: [0], dtype: 'i32' },
  ]);
});

t.test('indexSelect matches torch', async (t) => {
  for (const d of devices) {
    for (const [name, axis] of [
      ['axis1', 1],
      ['axis2', 2],
    ] as const) {
      const x = upload(golden.get('x')!, d, true);
      const y = E.indexSelect(x, axis, upload(golden.get(`${name}_index`)!, d));
      const w = E.tensor(
        Array.from({ length: y.numel }, (_, i) => Math.sin(i * 0.7) + 0.5),
        y.shape,
        { device: d },
      );
      E.sum(E.mul(y, w)).backward();
      t.same(y.shape, golden.get(`${name}_y`)!.shape, `indexSelect ${name} shape`);
      assertClose(
        t,
        await y.data(),
        golden.get(`${name}_y`)!.data as Float32Array,
        `indexSelect ${name} vs torch (${d.type})`,
        0,
        0,
      );
      assertClose(
        t,
        await x.grad!.data(),
        golden.get(`${name}_grad`)!.data as Float32Array,
        `indexSelect ${name} grad vs torch (${d.type})`,
        1e-5,
        1e-6,
      );
    }
  }
});

t.test('bad input throws naming the op and shapes', async (t) => {
  const x = E.zeros([3, 4]);
  t.throws(
    () => E.indexSelect(x, 0, E.zeros([2])),
    /indexSelect: index must be i32, got f32 \(x \[3, 4\], index \[2\]\)/,
  );
  t.throws(
    () => E.indexSelect(x, 0, E.zeros([2, 1], { dtype: 'i32' })),
    /indexSelect: index must be 1-D \(x \[3, 4\], index \[2, 1\]\)/,
  );
  t.throws(
    () => E.indexSelect(x, -3, E.zeros([2], { dtype: 'i32' })),
    /indexSelect: axis -3 is out of range for a tensor of rank 2/,
  );
  t.throws(
    () => E.indexSelect(x, 0, E.tensor([1, 3], [2], { dtype: 'i32' })),
    /indexSelect: index 3 is out of range for axis 0 of size 3 \(x \[3, 4\], index \[2\]\)/,
  );
});

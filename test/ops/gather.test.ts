import t from 'tap';
import * as E from '../../engine/index.js';
import { readSafetensors, type STEntry } from '../../engine/io/safetensors.js';
import { assertClose, checkDevices, gradcheck, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });
const golden = readSafetensors(new URL('../fixtures/torch/gather.safetensors', import.meta.url).pathname).tensors;
const upload = (e: STEntry, device: E.Device, requiresGrad = false) =>
  E.tensor(e.data as Float32Array | Int32Array, e.shape, { device, requiresGrad });
const below = (n: number) => ({ dtype: 'i32' as const, gen: (i: number) => (i * 7 + 3) % n });

t.test('gather: webgpu matches cpu, gradients match central differences', async (t) => {
  const cases: [string, number, number[], number][] = [
    ['axis 1, repeated indices', 1, [3, 6, 5], 4],
    ['axis 0, index smaller than x', 0, [2, 3, 4], 3],
    ['axis -1', -1, [3, 4, 2], 5],
  ];
  for (const [name, axis, ishape, n] of cases) {
    await checkDevices(t, devices, `gather ${name}`, (x, i) => E.gather(x, axis, i), [
      { shape: [3, 4, 5] },
      { shape: ishape, ...below(n) },
    ]);
    await gradcheck(t, `gather ${name}`, (x, i) => E.gather(x, axis, i), [
      { shape: [3, 4, 5] },
      { shape: ishape, ...below(n) },
    ]);
  }
  await checkDevices(t, devices, 'gather from a transposed view', (x, i) => E.gather(E.transpose(x, 0, 1), 1, i), [
    { shape: [6, 4] },
    { shape: [4, 9], ...below(6) },
  ]);
  await checkDevices(t, devices, 'gather 300k elements', (x, i) => E.gather(x, 1, i), [
    { shape: [3000, 40] },
    { shape: [3000, 100], ...below(40) },
  ]);
});

t.test('gather matches torch', async (t) => {
  for (const d of devices) {
    for (const [name, axis] of [
      ['axis1', 1],
      ['axis0', 0],
    ] as const) {
      const x = upload(golden.get('x')!, d, true);
      const y = E.gather(x, axis, upload(golden.get(`${name}_index`)!, d));
      const w = E.tensor(
        Array.from({ length: y.numel }, (_, i) => Math.sin(i * 0.7) + 0.5),
        y.shape,
        { device: d },
      );
      E.sum(E.mul(y, w)).backward();
      assertClose(
        t,
        await y.data(),
        golden.get(`${name}_y`)!.data as Float32Array,
        `gather ${name} vs torch (${d.type})`,
        0,
        0,
      );
      assertClose(
        t,
        await x.grad!.data(),
        golden.get(`${name}_grad`)!.data as Float32Array,
        `gather ${name} grad vs torch (${d.type})`,
        1e-5,
        1e-6,
      );
    }
  }
});

t.test('gather moves i32 values too', async (t) => {
  for (const d of devices) {
    const x = E.tensor([10, 11, 12, 20, 21, 22], [2, 3], { dtype: 'i32', device: d });
    const i = E.tensor([2, 2, 0, 1], [2, 2], { dtype: 'i32', device: d });
    t.same(
      await E.gather(x, 1, i).tolist(),
      [
        [12, 12],
        [20, 21],
      ],
      `i32 gather (${d.type})`,
    );
  }
});

t.test('bad input throws naming the op and shapes; out-of-range indices', async (t) => {
  const x = E.zeros([3, 4]);
  t.throws(() => E.gather(x, 1, E.zeros([3, 2])), /gather: index must be i32, got f32 \(x \[3, 4\], index \[3, 2\]\)/);
  t.throws(
    () => E.gather(x, 1, E.zeros([6], { dtype: 'i32' })),
    /gather: index must have the same rank as x \(x \[3, 4\], index \[6\]\)/,
  );
  t.throws(() => E.gather(x, 1, E.zeros([5, 2], { dtype: 'i32' })), /gather: index is larger than x at axis 0/);
  t.throws(
    () => E.gather(x, 2, E.zeros([3, 2], { dtype: 'i32' })),
    /gather: axis 2 is out of range for a tensor of rank 2/,
  );
  t.throws(
    () => E.gather(x, 1, E.tensor([0, 4], [1, 2], { dtype: 'i32' })),
    /gather: index 4 is out of range for axis 1 of size 4 \(x \[3, 4\], index \[1, 2\]\)/,
  );
  t.throws(() => E.gather(x, 1, E.tensor([-1], [1, 1], { dtype: 'i32' })), /gather: index -1 is out of range/);
  const gpu = devices.find((d) => d.type === 'webgpu');
  if (gpu) {
    // documented: on webgpu an out-of-range index reads 0 instead of touching memory outside x
    const xg = E.tensor([1, 2, 3, 4], [1, 4], { device: gpu });
    const got = await E.gather(xg, 1, E.tensor([3, 4, -1, 100000, 0], [1, 5], { dtype: 'i32', device: gpu })).data();
    t.same([...got], [4, 0, 0, 0, 1], 'webgpu: out-of-range indices read 0');
  }
});

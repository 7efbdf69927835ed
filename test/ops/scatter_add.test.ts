import t from 'tap';
import * as E from '../../engine/index.js';
import { readSafetensors, type STEntry } from '../../engine/io/safetensors.js';
import { assertClose, checkDevices, gradcheck, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });
const golden = readSafetensors(new URL('../fixtures/torch/scatter_add.safetensors', import.meta.url).pathname).tensors;
const upload = (e: STEntry, device: E.Device, requiresGrad = false) =>
  E.tensor(e.data as Float32Array | Int32Array, e.shape, { device, requiresGrad });
const below = (n: number) => ({ dtype: 'i32' as const, gen: (i: number) => (i * 7 + 3) % n });

t.test('scatterAdd: webgpu matches cpu, gradients for x and src match central differences', async (t) => {
  const cases: [string, number, number[], number[], number[], number][] = [
    // name, axis, x shape, index shape, src shape, index bound
    ['axis 0, colliding', 0, [4, 5], [6, 5], [6, 5], 4],
    ['axis 1, src larger than index', 1, [3, 4, 2], [2, 7, 2], [3, 9, 2], 4],
    ['axis -1', -1, [3, 5], [3, 8], [3, 8], 5],
  ];
  for (const [name, axis, xs, is, ss, n] of cases) {
    const f = (x: E.Tensor, i: E.Tensor, s: E.Tensor) => E.scatterAdd(x, axis, i, s);
    // atomic f32 adds may sum in any order on webgpu: compare with a tolerance
    await checkDevices(
      t,
      devices,
      `scatterAdd ${name}`,
      f,
      [{ shape: xs }, { shape: is, ...below(n) }, { shape: ss }],
      { rtol: 1e-5, atol: 1e-5 },
    );
    await gradcheck(t, `scatterAdd ${name}`, f, [{ shape: xs }, { shape: is, ...below(n) }, { shape: ss }]);
  }
  // heavy collisions: 20000 values into 3 slots exercise the compare-exchange retry loop
  await checkDevices(
    t,
    devices,
    'scatterAdd 20000 values into 3 slots',
    (x, i, s) => E.scatterAdd(x, 0, i, s),
    [{ shape: [3] }, { shape: [20000], ...below(3) }, { shape: [20000] }],
    { rtol: 1e-4, atol: 1e-3 },
  );
});

t.test('scatterAdd matches torch', async (t) => {
  for (const d of devices) {
    for (const [name, axis] of [
      ['axis0', 0],
      ['axis1', 1],
    ] as const) {
      const srcGrad = golden.has(`${name}_grad_src`);
      const x = upload(golden.get(`${name}_x`)!, d, true);
      const src = upload(golden.get(`${name}_src`)!, d, srcGrad);
      const y = E.scatterAdd(x, axis, upload(golden.get(`${name}_index`)!, d), src);
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
        `scatterAdd ${name} vs torch (${d.type})`,
        1e-6,
        1e-6,
      );
      assertClose(
        t,
        await x.grad!.data(),
        golden.get(`${name}_grad_x`)!.data as Float32Array,
        `scatterAdd ${name} grad x vs torch (${d.type})`,
        1e-5,
        1e-6,
      );
      if (srcGrad)
        assertClose(
          t,
          await src.grad!.data(),
          golden.get(`${name}_grad_src`)!.data as Float32Array,
          `scatterAdd ${name} grad src vs torch (${d.type})`,
          1e-5,
          1e-6,
        );
    }
  }
});

t.test('scatterAdd of i32 values (counts)', async (t) => {
  for (const d of devices) {
    const counts = E.scatterAdd(
      E.zeros([2, 4], { dtype: 'i32', device: d }),
      1,
      E.tensor([0, 3, 3, 3, 1, 1], [2, 3], { dtype: 'i32', device: d }),
      E.ones([2, 3], { dtype: 'i32', device: d }),
    );
    t.same(
      await counts.tolist(),
      [
        [1, 0, 0, 2],
        [0, 2, 0, 1],
      ],
      `i32 counts (${d.type})`,
    );
  }
});

t.test('bad input throws naming the op and shapes; out-of-range indices', async (t) => {
  const x = E.zeros([3, 4]),
    i = E.zeros([3, 2], { dtype: 'i32' }),
    s = E.ones([3, 2]);
  t.throws(
    () => E.scatterAdd(x, 1, E.zeros([3, 2]), s),
    /scatterAdd: index must be i32, got f32 \(x \[3, 4\], index \[3, 2\], src \[3, 2\]\)/,
  );
  t.throws(
    () => E.scatterAdd(x, 1, i, E.ones([3, 2], { dtype: 'i32' })),
    /scatterAdd: src dtype i32 differs from x dtype f32/,
  );
  t.throws(
    () => E.scatterAdd(x, 1, i, E.ones([3, 1])),
    /scatterAdd: index is larger than src at axis 1 \(x \[3, 4\], index \[3, 2\], src \[3, 1\]\)/,
  );
  t.throws(() => E.scatterAdd(x, 1, i, E.ones([6])), /scatterAdd: src must have the same rank as x/);
  t.throws(
    () => E.scatterAdd(x, 1, E.zeros([4, 2], { dtype: 'i32' }), E.ones([4, 2])),
    /scatterAdd: index is larger than x at axis 0/,
  );
  t.throws(
    () => E.scatterAdd(x, 0, E.tensor([3], [1, 1], { dtype: 'i32' }), E.ones([1, 1])),
    /scatterAdd: index 3 is out of range for axis 0 of size 3/,
  );
  const gpu = devices.find((d) => d.type === 'webgpu');
  if (gpu) {
    // documented: on webgpu an out-of-range index is skipped instead of writing outside the output
    const out = E.scatterAdd(
      E.zeros([4], { device: gpu }),
      0,
      E.tensor([1, 4, -1, 99999, 1], [5], { dtype: 'i32', device: gpu }),
      E.ones([5], { device: gpu }),
    );
    t.same([...(await out.data())], [0, 2, 0, 0], 'webgpu: out-of-range indices are skipped');
  }
});

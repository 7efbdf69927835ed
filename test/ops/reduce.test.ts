import t from 'tap';
import * as E from '../../engine/index.js';
import { checkDevices, gradcheck, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });

t.test('sum and mean over axes, blocks and scattered axes, keepdim', async (t) => {
  for (const [axes, keep] of [
    [undefined, false],
    [1, false],
    [[0, 2], true],
    [[1, 2], false],
    [-1, true],
  ] as const) {
    const ax = axes as number | number[] | undefined;
    await checkDevices(t, devices, `sum axes=${JSON.stringify(axes)}`, (x) => E.sum(x, ax, keep), [
      { shape: [3, 4, 5] },
    ]);
    await checkDevices(t, devices, `mean axes=${JSON.stringify(axes)}`, (x) => E.mean(x, ax, keep), [
      { shape: [3, 4, 5] },
    ]);
    await gradcheck(t, `sum axes=${JSON.stringify(axes)}`, (x) => E.sum(x, ax, keep), [{ shape: [2, 3, 4] }]);
    await gradcheck(t, `mean axes=${JSON.stringify(axes)}`, (x) => E.mean(x, ax, keep), [{ shape: [2, 3, 4] }]);
  }
  // long rows take the workgroup-per-output kernel
  await checkDevices(t, devices, 'sum of long rows', (x) => E.sum(x, 1), [{ shape: [3, 5000] }], {
    rtol: 1e-4,
    atol: 1e-3,
  });
  await checkDevices(t, devices, 'sum of everything (100k)', (x) => E.sum(x), [{ shape: [100000], grad: false }], {
    rtol: 1e-4,
    atol: 1e-2,
  });
});

t.test('max, min, argmax, argmin', async (t) => {
  const distinct = { gen: (i: number) => (Math.sin(i * 12.9898) * 43758.5453) % 1 };
  await checkDevices(t, devices, 'max axis 1', (x) => E.max(x, 1), [{ shape: [4, 7, 3], ...distinct }]);
  await checkDevices(t, devices, 'min axis 0 keepdim', (x) => E.min(x, 0, true), [{ shape: [4, 7, 3], ...distinct }]);
  await checkDevices(t, devices, 'max of long rows', (x) => E.max(x, 1), [{ shape: [2, 3000], ...distinct }]);
  await checkDevices(t, devices, 'global max', (x) => E.max(x), [{ shape: [5, 6], ...distinct }]);
  await gradcheck(t, 'max axis 1', (x) => E.max(x, 1), [{ shape: [3, 4, 2], ...distinct }]);
  await gradcheck(t, 'min axis 2', (x) => E.min(x, 2), [{ shape: [3, 4, 2], ...distinct }]);
  for (const d of devices) {
    const x = E.tensor([1, 5, 5, 2, 9, 0, 3, 9, -1], [3, 3], { device: d });
    t.same([...(await E.argmax(x, 1).data())], [1, 1, 1], `argmax picks the first of ties (${d.type})`);
    t.same([...(await E.argmin(x, 0).data())], [0, 0, 2], `argmin (${d.type})`);
    t.same([...(await E.argmax(x).data())], [4], `argmax of all (${d.type})`);
    const long = E.arange(0, 3000, 1, { device: d, dtype: 'f32' });
    t.equal(await E.argmax(long).item(), 2999, `argmax over a long row (${d.type})`);
  }
  t.throws(() => E.sum(E.zeros([2, 3]), 2), /sum: axis 2 is out of range for a tensor of rank 2/);
});

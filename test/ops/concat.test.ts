import t from 'tap';
import * as E from '../../engine/index.js';
import { checkDevices, gradcheck, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });

t.test('concat: webgpu matches cpu, gradients are narrows of the output gradient', async (t) => {
  const cat1 = (a: E.Tensor, b: E.Tensor, c: E.Tensor) => E.concat([a, b, c], 1);
  await checkDevices(t, devices, 'concat axis 1 (C2f, detect head)', cat1, [
    { shape: [2, 3, 4, 5] },
    { shape: [2, 1, 4, 5] },
    { shape: [2, 4, 4, 5] },
  ]);
  await gradcheck(t, 'concat axis 1', cat1, [{ shape: [2, 2, 3] }, { shape: [2, 1, 3] }, { shape: [2, 3, 3] }]);
  await checkDevices(t, devices, 'concat last axis, strided input', (a, b) => E.concat([E.transpose(a, 0, 1), b], -1), [
    { shape: [4, 3] },
    { shape: [3, 2] },
  ]);
  await gradcheck(t, 'concat axis 0', (a, b) => E.concat([a, b], 0), [{ shape: [1, 3] }, { shape: [2, 3] }]);
  await checkDevices(
    t,
    devices,
    'concat with a grad-free and an empty input',
    (a, b) => E.concat([a, E.zeros([2, 0], { device: a.device }), b], 1),
    [{ shape: [2, 3] }, { shape: [2, 2], grad: false }],
  );
  for (const d of devices) {
    const a = E.arange(6, undefined, 1, { device: d }).reshape(2, 3),
      b = E.tensor([9, 8], [2, 1], { device: d });
    t.same(
      await E.concat([a, b], 1).tolist(),
      [
        [0, 1, 2, 9],
        [3, 4, 5, 8],
      ],
      `values like torch.cat (${d.type})`,
    );
    const c = E.concat([a, E.tensor([0.5, 1, 2], [1, 3], { device: d })], 0);
    t.same([c.dtype, [...(await c.data())]], ['f32', [0, 1, 2, 3, 4, 5, 0.5, 1, 2]], `i32 + f32 promotes (${d.type})`);
  }
});

t.test('split and chunk return views with torch sizes', async (t) => {
  const x = E.arange(14).reshape(2, 7);
  t.same(
    E.split(x, 3, 1).map((p) => p.shape[1]),
    [3, 3, 1],
    'split by size: the last piece is smaller',
  );
  t.same(
    E.split(x, [2, 5], 1).map((p) => p.shape[1]),
    [2, 5],
    'split by sizes',
  );
  t.same(
    E.chunk(x, 3, 1).map((p) => p.shape[1]),
    [3, 3, 1],
    'chunk 7 into 3: ceil(7/3) = 3 each',
  );
  t.same(
    E.chunk(x, 4, 1).map((p) => p.shape[1]),
    [2, 2, 2, 1],
    'chunk 7 into 4',
  );
  t.same(
    E.chunk(E.zeros([6, 2]), 4, 0).map((p) => p.shape[0]),
    [2, 2, 2],
    'chunk 6 into 4 gives 3 pieces, like torch',
  );
  t.equal(E.split(x, [2, 5], 1)[1].storage, x.storage, 'pieces share storage with x');
  t.same(
    await E.split(x, [2, 5], 1)[1].tolist(),
    [
      [2, 3, 4, 5, 6],
      [9, 10, 11, 12, 13],
    ],
    'second piece',
  );
  const pieces = (x: E.Tensor) => E.chunk(x, 2, 1);
  // C2f: chunk(2, 1), use both halves, and concat them back with more
  const c2f = (x: E.Tensor) => {
    const [a, b] = pieces(x);
    return E.concat([a, b, E.mul(b, 2)], 1);
  };
  await checkDevices(t, devices, 'chunk + concat (C2f)', c2f, [{ shape: [2, 4, 3, 3] }]);
  await gradcheck(t, 'chunk + concat (C2f)', c2f, [{ shape: [1, 4, 2, 2] }]);
  await gradcheck(t, 'split, one piece unused', (x) => E.split(x, [1, 2], 0)[1], [{ shape: [3, 2] }]);
});

t.test('bad input throws naming the op and the shapes', async (t) => {
  t.throws(
    () => E.concat([E.zeros([2, 3]), E.zeros([3, 3])], 1),
    /concat: shapes \[2, 3\], \[3, 3\] must match except along axis 1/,
  );
  t.throws(
    () => E.concat([E.zeros([2, 3]), E.zeros([2, 3, 1])], 0),
    /concat: shapes \[2, 3\], \[2, 3, 1\] must match except along axis 0/,
  );
  t.throws(() => E.concat([], 0), /concat: expected at least one tensor/);
  t.throws(() => E.concat([E.zeros([2])], 1), /concat: axis 1 is out of range for a tensor of rank 1/);
  t.throws(
    () => E.split(E.zeros([2, 5]), [2, 2], 1),
    /split: sizes \[2, 2\] must be non-negative integers adding up to 5 \(axis 1 of shape \[2, 5\]\)/,
  );
  t.throws(() => E.split(E.zeros([2, 5]), 0, 1), /split: piece size must be a positive integer, got 0/);
  t.throws(() => E.chunk(E.zeros([2, 5]), 0, 1), /chunk: chunks must be a positive integer, got 0/);
});

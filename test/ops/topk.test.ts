import t from 'tap';
import type { Test } from 'tap';
import * as E from '../../engine/index.js';
import { readSafetensors } from '../../engine/io/safetensors.js';
import { assertClose, checkDevices, gradcheck, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });
const golden = readSafetensors(new URL('../fixtures/torch/topk.safetensors', import.meta.url).pathname).tensors;
const distinct = { gen: (i: number) => ((Math.sin(i * 12.9898) * 43758.5453) % 1) * 4 };
const ties = { gen: (i: number) => (i * 7919) % 5 };

/** values and indices of topk on every device, checked equal to the cpu reference. */
async function sameOnDevices(
  t: Test,
  name: string,
  shape: number[],
  gen: (i: number) => number,
  k: number,
  axis = -1,
  largest = true,
) {
  const data = Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => gen(i));
  const res = [];
  for (const d of devices) {
    const { values, indices } = E.topk(E.tensor(data, shape, { device: d }), k, axis, largest);
    res.push({ values: await values.data(), indices: await indices.data() });
  }
  for (let j = 1; j < res.length; j++) {
    assertClose(t, res[j].values, res[0].values, `${name} values ${devices[j].type} vs cpu`, 0, 0);
    t.same([...res[j].indices], [...res[0].indices], `${name} indices ${devices[j].type} vs cpu`);
  }
  return res[0];
}

t.test('topk: webgpu matches cpu (values and indices), gradients match central differences', async (t) => {
  for (const largest of [true, false]) {
    const tag = largest ? 'largest' : 'smallest';
    await sameOnDevices(t, `${tag} k=10 of rows of 300`, [4, 300], distinct.gen, 10, -1, largest);
    await sameOnDevices(t, `${tag} k=5 of short rows`, [7, 9], distinct.gen, 5, 1, largest);
    await sameOnDevices(t, `${tag} k=3 along axis 0`, [20, 3, 4], distinct.gen, 3, 0, largest);
    await sameOnDevices(t, `${tag} k=12 with ties`, [5, 50], ties.gen, 12, -1, largest);
    await checkDevices(t, devices, `${tag} values`, (x) => E.topk(x, 4, 1, largest).values, [
      { shape: [3, 10, 2], ...distinct },
    ]);
    await gradcheck(t, `${tag} values`, (x) => E.topk(x, 4, 1, largest).values, [{ shape: [3, 10, 2], ...distinct }]);
  }
  // the assigner's shape: rows of 8400 anchors, here with the largest k we support well
  await sameOnDevices(t, 'k=64 of rows of 8400', [3, 8400], distinct.gen, 64);
  await sameOnDevices(t, 'k=10 of rows of 8400 with ties', [2, 8400], ties.gen, 10);
  await sameOnDevices(t, 'k = row length (full sort)', [2, 37], distinct.gen, 37);
});

t.test('topk matches torch; ties go to the lower index', async (t) => {
  for (const d of devices) {
    for (const tag of ['distinct_largest', 'distinct_smallest', 'ties_largest', 'ties_smallest']) {
      const [name, which] = tag.split('_');
      const x0 = golden.get(`${name}_x`)!;
      const x = E.tensor(x0.data as Float32Array, x0.shape, { device: d, requiresGrad: true });
      const want = golden.get(`${tag}_values`)!;
      const { values, indices } = E.topk(x, want.shape[1], -1, which === 'largest');
      assertClose(t, await values.data(), want.data as Float32Array, `${tag} values vs torch (${d.type})`, 0, 0);
      // torch orders ties arbitrarily; a stable sort gives our rule (lower index first)
      t.same(
        [...(await indices.data())],
        [...(golden.get(`${tag}_stable_indices`)!.data as Int32Array)],
        `${tag} indices = stable sort order (${d.type})`,
      );
      if (name === 'distinct') {
        t.same(
          [...(await indices.data())],
          [...(golden.get(`${tag}_indices`)!.data as Int32Array)],
          `${tag} indices vs torch (${d.type})`,
        );
        const w = E.tensor(
          Array.from({ length: values.numel }, (_, i) => Math.sin(i * 0.7) + 0.5),
          values.shape,
          { device: d },
        );
        E.sum(E.mul(values, w)).backward();
        assertClose(
          t,
          await x.grad!.data(),
          golden.get(`${tag}_grad`)!.data as Float32Array,
          `${tag} grad vs torch (${d.type})`,
          1e-5,
          1e-6,
        );
      }
    }
    const x0 = golden.get('axis0_x')!;
    const { values, indices } = E.topk(E.tensor(x0.data as Float32Array, x0.shape, { device: d }), 5, 0, false);
    assertClose(
      t,
      await values.data(),
      golden.get('axis0_values')!.data as Float32Array,
      `axis 0 smallest values vs torch (${d.type})`,
      0,
      0,
    );
    t.same(
      [...(await indices.data())],
      [...(golden.get('axis0_indices')!.data as Int32Array)],
      `axis 0 smallest indices vs torch (${d.type})`,
    );
  }
});

t.test('NaN counts as the largest value, like torch', async (t) => {
  for (const d of devices) {
    const x = E.tensor([1, NaN, 3, -Infinity, Infinity, NaN], [1, 6], { device: d });
    const top = E.topk(x, 3);
    t.same([...(await top.indices.data())], [1, 5, 4], `largest: NaNs first, then +inf (${d.type})`);
    const low = E.topk(x, 3, -1, false);
    t.same([...(await low.indices.data())], [3, 0, 2], `smallest: -inf first, NaNs last (${d.type})`);
  }
});

t.test('k = 0 and bad input', async (t) => {
  for (const d of devices) {
    const { values, indices } = E.topk(E.ones([3, 4], { device: d }), 0);
    t.same(
      [values.shape, indices.shape],
      [
        [3, 0],
        [3, 0],
      ],
      `k = 0 gives empty results (${d.type})`,
    );
  }
  t.throws(() => E.topk(E.zeros([3, 4]), 5), /topk: k = 5 is out of range for axis -1 of size 4 \(x shape \[3, 4\]\)/);
  t.throws(() => E.topk(E.zeros([3, 4]), 2, 2), /topk: axis 2 is out of range for a tensor of rank 2/);
  t.throws(
    () => E.topk(E.zeros([3, 4], { dtype: 'i32' }), 2),
    /topk: expects a floating-point tensor, got i32 of shape \[3, 4\]/,
  );
  t.throws(() => E.topk(E.zeros([]), 1), /topk: x must have at least one dimension/);
});

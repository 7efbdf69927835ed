// The wasm kernels for the ops a training step used to run as cpu loops over the wasm memory
// (issue 11): elementwise rows over strided views, max_pool2d with indices and its backward,
// upsample_nearest2d's backward, gather / index_select / scatter_add, max/min/argmax, topk.
// Each case runs forward and backward on the cpu reference and on wasm with 1 and 2 threads, on
// odd sizes (vector bodies plus scalar tails) big enough to be split across the threads, with ties.
// Pure data movement, max/min and sums in the reference's order must be bit-identical to cpu;
// the rows using the vector exp (silu, sigmoid) match within 1e-6 and are bit-identical across
// thread counts.
import t from 'tap';
import * as E from '../../engine/index.js';

type Case = {
  name: string;
  /** input shapes and generators */
  inputs: { shape: number[]; gen: (i: number) => number; dtype?: 'f32' | 'i32' }[];
  build: (...x: E.Tensor[]) => E.Tensor | E.Tensor[];
  /** tolerance against cpu (0: bit-identical) */
  tol?: number;
};

/** outputs (flattened, in order) and the gradients of every f32 input, on one device */
async function run(c: Case, device: E.Device): Promise<number[][]> {
  const xs = c.inputs.map((s) =>
    E.tensor(
      Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, (_, i) => s.gen(i)),
      s.shape,
      {
        device,
        dtype: s.dtype ?? 'f32',
        requiresGrad: (s.dtype ?? 'f32') === 'f32',
      },
    ),
  );
  const outs = [c.build(...xs)].flat();
  const res: number[][] = [];
  for (const o of outs) res.push([...(await o.data())]);
  const diff = outs.filter((o) => o.requiresGrad);
  if (diff.length) {
    let loss: E.Tensor | null = null;
    for (const o of diff) {
      const up = E.tensor(
        Array.from({ length: o.numel }, (_, i) => Math.sin(i * 0.37) + 0.25),
        o.shape,
        { device },
      );
      const term = E.sum(E.mul(o, up));
      loss = loss ? E.add(loss, term) : term;
    }
    E.backward(loss!);
    for (const x of xs) if (x.grad) res.push([...(await x.grad.data())]);
  }
  return res;
}

function same(t: Test, got: number[][], want: number[][], msg: string, tol = 0) {
  t.equal(got.length, want.length, `${msg}: as many outputs and gradients`);
  want.forEach((w, k) => {
    const g = got[k] ?? [];
    let bad = -1;
    for (let i = 0; i < w.length && bad < 0; i++) {
      const ok =
        tol === 0
          ? Object.is(g[i], w[i])
          : Object.is(g[i], w[i]) || Math.abs(g[i] - w[i]) <= tol * (1 + Math.abs(w[i]));
      if (!ok) bad = i;
    }
    t.ok(
      g.length === w.length && bad < 0,
      `${msg} [${k}]${bad >= 0 ? `: first difference at ${bad}: ${g[bad]} vs ${w[bad]}` : ''}`,
    );
  });
}
type Test = Parameters<Parameters<typeof t.test>[1]>[0];

export async function checkCases(t: Test, cases: Case[]) {
  const refs = [];
  for (const c of cases) refs.push(await run(c, E.cpu));
  const byThreads: number[][][][] = [];
  for (const threads of [1, 2]) {
    const d = await E.getDevice('wasm', { threads });
    const outs = [];
    for (const c of cases) outs.push(await run(c, d));
    byThreads.push(outs);
  }
  cases.forEach((c, k) => {
    same(t, byThreads[1][k], refs[k], `${c.name}: wasm vs cpu`, c.tol ?? 0);
    same(t, byThreads[0][k], byThreads[1][k], `${c.name}: threads 1 vs 2`, 0);
  });
}

const normal = (seed: number) => (i: number) =>
  Math.sin(i * 12.9898 + seed) * 43758.5453 - Math.floor(Math.sin(i * 12.9898 + seed) * 43758.5453) - 0.5;
/** small integers: ties everywhere */
const ints = (m: number) => (i: number) => ((i * 7) % m) - 2;

t.teardown(E.releaseDevices);

t.test('elementwise rows over strided views', async (t) => {
  await checkCases(t, [
    {
      name: 'add of two channel slices (the split halves of a C2f), odd planes',
      inputs: [{ shape: [16, 5, 29, 31], gen: normal(1) }],
      build: (x) => E.add(E.narrow(x, 1, 1, 3), E.narrow(x, 1, 2, 3)),
    },
    {
      name: 'mul of a transposed view by a contiguous tensor (inner stride != 1)',
      inputs: [
        { shape: [4, 5, 41, 43], gen: normal(2) },
        { shape: [4, 5, 43, 41], gen: normal(3) },
      ],
      build: (x, y) => E.mul(E.transpose(x, 2, 3), y),
    },
    {
      name: 'sub with a broadcast over two axes and a strided operand',
      inputs: [
        { shape: [3, 7, 13, 21], gen: normal(4) },
        { shape: [3, 1, 13, 1], gen: normal(5) },
      ],
      build: (x, y) => E.sub(E.narrow(x, 3, 2, 17), y),
    },
    {
      name: 'maximum / minimum with ties, strided',
      inputs: [{ shape: [6, 8, 11, 9], gen: ints(4) }],
      build: (x) => [E.maximum(E.narrow(x, 1, 0, 4), E.narrow(x, 1, 4, 4)), E.minimum(E.narrow(x, 2, 1, 5), 0.5)],
    },
    {
      name: 'div and compare masks on slices',
      inputs: [{ shape: [5, 6, 17, 19], gen: normal(6) }],
      build: (x) => [
        E.div(E.narrow(x, 1, 0, 3), E.add(E.abs(E.narrow(x, 1, 3, 3)), 0.5)),
        E.gt(E.narrow(x, 3, 1, 13), 0),
      ],
    },
    {
      name: 'scalar forms on a stepped slice (inner stride 2) and a rank-5 permute (the cpu loop)',
      inputs: [{ shape: [3, 4, 5, 6, 7], gen: normal(19) }],
      build: (x) => [
        E.mul(E.slice(x, 4, 1, undefined, 2), 3),
        E.add(E.permute(x, [4, 2, 0, 3, 1]), E.permute(x, [4, 2, 0, 3, 1])),
      ],
    },
    {
      name: 'silu / sigmoid of slices (vector exp: within 1e-6)',
      inputs: [{ shape: [16, 6, 23, 25], gen: normal(7) }],
      build: (x) => [E.silu(E.narrow(x, 1, 1, 4)), E.sigmoid(E.narrow(x, 1, 0, 3))],
      tol: 1e-6,
    },
  ]);
});

t.test('max_pool2d with indices (training) and its backward', async (t) => {
  const pools: [string, E.MaxPool2dOptions][] = [
    ['5x5 s1 p2 (SPPF)', { kernelSize: 5, stride: 1, padding: 2 }],
    ['3x3 s2 p1', { kernelSize: 3, stride: 2, padding: 1 }],
    ['2x2', { kernelSize: 2 }],
    ['3x2 s[1,2] p[1,0]', { kernelSize: [3, 2], stride: [1, 2], padding: [1, 0] }],
    ['3x3 s1 p1 dilation 2', { kernelSize: 3, stride: 1, padding: 1, dilation: 2 }],
  ];
  const cases: Case[] = [];
  for (const [name, opts] of pools) {
    const build = (x: E.Tensor) => {
      const { values, indices } = E.maxPool2dWithIndices(x, opts);
      return [values, indices!];
    };
    cases.push({ name: `${name}, distinct values`, inputs: [{ shape: [2, 5, 17, 19], gen: normal(8) }], build });
    cases.push({ name: `${name}, integer ties`, inputs: [{ shape: [2, 5, 13, 23], gen: ints(3) }], build });
  }
  // NaN wins (the last one in window order), -inf never beats the first tap's position
  const special = (i: number) => (i % 17 === 3 ? NaN : i % 5 === 1 ? -Infinity : ((i * 11) % 7) - 3);
  cases.push({
    name: '5x5 s1 p2 with NaN and -inf',
    inputs: [{ shape: [1, 3, 11, 14], gen: special }],
    build: (x) => {
      const { values, indices } = E.maxPool2dWithIndices(x, { kernelSize: 5, stride: 1, padding: 2 });
      return [values, indices!];
    },
  });
  // big enough that the backward (a task per input plane) is split across the threads too
  cases.push({
    name: '5x5 s1 p2 on 64 planes',
    inputs: [{ shape: [4, 16, 23, 29], gen: ints(4) }],
    build: (x) => E.maxPool2d(x, { kernelSize: 5, stride: 1, padding: 2 }),
  });
  cases.push({
    name: 'all -inf planes',
    inputs: [{ shape: [1, 2, 6, 9], gen: () => -Infinity }],
    build: (x) => {
      const { values, indices } = E.maxPool2dWithIndices(x, { kernelSize: 3, stride: 1, padding: 1 });
      return [values, indices!];
    },
  });
  await checkCases(t, cases);
});

t.test('upsample_nearest2d backward (block sums)', async (t) => {
  const cases: Case[] = [];
  for (const scale of [2, [2, 3], [3, 2], 1] as (number | [number, number])[])
    cases.push({
      name: `scale ${JSON.stringify(scale)}`,
      inputs: [{ shape: [4, 16, 9, 11], gen: normal(9) }],
      build: (x) => E.upsampleNearest2d(x, scale),
    });
  // -0 blocks: the reference starts each sum at +0
  cases.push({
    name: 'negative zeros',
    inputs: [{ shape: [1, 2, 4, 9], gen: (i) => (i % 3 ? -0 : 1) }],
    build: (x) => E.upsampleNearest2dBackward(E.upsampleNearest2d(x, 2), 2),
  });
  await checkCases(t, cases);
});

/** i32 index values in [0, m), repeating (collisions for the scatters) */
const picks =
  (m: number, seed = 5) =>
  (i: number) =>
    (i * 7 + seed + Math.floor(i / 3) * 11) % m;

t.test('gather, index_select, scatter_add (forward and backward)', async (t) => {
  await checkCases(t, [
    {
      name: 'gather axis 1, backward scatters with collisions',
      inputs: [
        { shape: [6, 37, 130], gen: normal(10) },
        { shape: [6, 23, 129], gen: picks(37), dtype: 'i32' },
      ],
      build: (x, i) => E.gather(x, 1, i),
    },
    {
      name: 'gather last axis of a transposed view',
      inputs: [
        { shape: [5, 41, 9], gen: normal(11) },
        { shape: [5, 9, 13], gen: picks(41), dtype: 'i32' },
      ],
      build: (x, i) => E.gather(E.transpose(x, 1, 2), 2, i),
    },
    {
      name: 'gather of i32 values, axis 0',
      inputs: [
        { shape: [17, 7, 3], gen: (i) => (i * 2654435761) | 0, dtype: 'i32' },
        { shape: [9, 7, 3], gen: picks(17), dtype: 'i32' },
      ],
      build: (x, i) => E.gather(x, 0, i),
    },
    {
      name: 'index_select axes 0 and 2 with repeated indices',
      inputs: [
        { shape: [29, 13, 47], gen: normal(12) },
        { shape: [31], gen: picks(29), dtype: 'i32' },
        { shape: [19], gen: picks(47, 3), dtype: 'i32' },
      ],
      build: (x, i, j) => [E.indexSelect(x, 0, i), E.indexSelect(x, 2, j)],
    },
    {
      name: 'scatter_add with collisions, src larger than the index',
      inputs: [
        { shape: [7, 11, 201], gen: normal(13) },
        { shape: [7, 25, 199], gen: picks(11), dtype: 'i32' },
        { shape: [7, 26, 201], gen: normal(14) },
      ],
      build: (x, i, s) => E.scatterAdd(x, 1, i, s),
    },
    {
      name: 'scatter_add of i32 along the last axis',
      inputs: [
        { shape: [5, 3, 10], gen: (i) => i - 40, dtype: 'i32' },
        { shape: [5, 3, 33], gen: picks(10), dtype: 'i32' },
        { shape: [5, 3, 33], gen: (i) => (i % 13) - 6, dtype: 'i32' },
      ],
      build: (x, i, s) => E.scatterAdd(x, 2, i, s),
    },
  ]);
});

/** small integers with NaN and signed zeros sprinkled in */
const spiky = (i: number) => (i % 29 === 5 ? NaN : i % 31 === 7 ? -0 : i % 37 === 3 ? 0 : ((i * 13) % 9) - 4);

t.test('max / min / argmax (values, first-winner positions, gradients)', async (t) => {
  const both = (op: 'max' | 'min', axis: number) => (x: E.Tensor) => {
    const r = op === 'max' ? E.maxWithIndices(x, axis) : E.minWithIndices(x, axis);
    return [r.values, r.indices!];
  };
  await checkCases(t, [
    { name: 'max over a middle axis, ties', inputs: [{ shape: [120, 31, 13], gen: ints(5) }], build: both('max', 1) },
    {
      name: 'min over a middle axis, distinct',
      inputs: [{ shape: [120, 31, 13], gen: normal(15) }],
      build: both('min', 1),
    },
    { name: 'max over the last axis, ties', inputs: [{ shape: [300, 97], gen: ints(6) }], build: both('max', -1) },
    { name: 'min over the first axis', inputs: [{ shape: [9, 5, 7], gen: normal(16) }], build: both('min', 0) },
    {
      name: 'NaN and signed zeros',
      inputs: [{ shape: [11, 23, 6], gen: spiky }],
      build: (x) => [...both('max', 1)(x), ...both('min', 2)(x), E.argmax(x, 0)],
    },
    {
      name: 'max and argmin of everything',
      inputs: [{ shape: [7, 5, 9], gen: normal(17) }],
      build: (x) => [E.max(x), E.argmin(x)],
    },
  ]);
});

t.test('topk (largest and smallest, ties in position order, NaN first)', async (t) => {
  const tk =
    (k: number, axis: number, largest = true) =>
    (x: E.Tensor) => {
      const r = E.topk(x, k, axis, largest);
      return [r.values, r.indices];
    };
  await checkCases(t, [
    { name: 'k 10 of 41 along the last axis, ties', inputs: [{ shape: [900, 41], gen: ints(7) }], build: tk(10, -1) },
    {
      name: 'k 5 smallest along a middle axis',
      inputs: [{ shape: [160, 50, 7], gen: normal(18) }],
      build: tk(5, 1, false),
    },
    {
      name: 'k 1 and k = r',
      inputs: [{ shape: [13, 9], gen: ints(4) }],
      build: (x) => [...tk(1, 1)(x), ...tk(9, 1, false)(x)],
    },
    {
      name: 'NaN and signed zeros, both orders',
      inputs: [{ shape: [6, 57, 5], gen: spiky }],
      build: (x) => [...tk(12, 1)(x), ...tk(12, 1, false)(x)],
    },
    {
      name: 'k beyond the kernel list (the sort on wasm)',
      inputs: [{ shape: [3, 300], gen: ints(9) }],
      build: tk(280, 1),
    },
  ]);
});

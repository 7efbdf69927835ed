// Ops whose wasm outputs are allocated without zeroing (Tensor.uninitialized: elementwise rows on
// every path, conv2d forward, grad-input and grad-weight) must write every element. Each case first
// frees NaN-filled blocks of the output's size class, so the output reuses one of them (checked),
// then compares with the cpu reference: an element the op skips stays NaN and fails the test.
import t, { type Test } from 'tap';
import * as E from '../../engine/index.js';
import { sizeClass } from '../../engine/backends/wasm/runtime.js';
import { compare } from '../helpers.js';

const wasm = await E.getDevice('wasm');
t.teardown(E.releaseDevices);

/** Frees `count` NaN-filled blocks of the size class of `elements` f32s; returns their offsets. */
function poison(elements: number, count = 12): Set<number> {
  const ts = Array.from({ length: count }, () => E.Tensor.empty([elements], 'f32', wasm));
  for (const x of ts) x.storage.array!.fill(NaN);
  const ptrs = new Set(ts.map((x) => x.storage.ptr));
  for (const x of ts) x.dispose();
  return ptrs;
}

const data = (shape: number[], seed: number) =>
  Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37 + seed) * 1.5);

/** Runs `op` on cpu and on wasm (its output landing on a poisoned block) and compares. */
function check(t: Test, name: string, shapes: number[][], op: (...xs: E.Tensor[]) => E.Tensor, rtol = 1e-5) {
  const on = (device: E.Device) => shapes.map((s, k) => E.tensor(data(s, k), s, { device }));
  const want = op(...on(E.cpu));
  const inputs = on(wasm);
  const ptrs = poison(want.numel);
  const got = op(...inputs);
  t.ok(
    ptrs.has(got.storage.ptr),
    `${name}: the output reuses a NaN-filled block (size class ${sizeClass(4 * want.numel)})`,
  );
  const r = compare(got.dataSync(), want.dataSync(), rtol, 1e-5);
  t.ok(r.ok, `${name}: matches the cpu reference, every element written (max |diff| ${r.maxAbs})`);
  for (const x of [...inputs, got]) x.dispose();
}

t.test('elementwise outputs', async (t) => {
  check(t, 'add, contiguous', [[3, 37]], (a) => E.add(a, a));
  check(
    t,
    'mul, per-channel broadcast',
    [
      [2, 5, 7, 3],
      [1, 5, 1, 1],
    ],
    (a, b) => E.mul(a, b),
  );
  check(t, 'silu', [[4, 33]], (a) => E.silu(a));
  check(t, 'add over a transposed view (strided kernel)', [[6, 9, 5]], (a) => E.add(E.transpose(a, 0, 2), 1));
  check(t, 'log (the cpu loop over the memory views)', [[5, 19]], (a) => E.log(E.add(E.mul(a, a), 0.5)));
});

t.test('conv2d forward, grad-input and grad-weight', async (t) => {
  const conv = (stride: number) => (x: E.Tensor, w: E.Tensor, b: E.Tensor) => E.conv2d(x, w, b, { stride, padding: 1 });
  check(t, 'conv2d 3x3 stride 1', [[2, 5, 9, 11], [7, 5, 3, 3], [7]], conv(1), 1e-4);
  check(t, 'conv2d 3x3 stride 2', [[2, 5, 9, 11], [6, 5, 3, 3], [6]], conv(2), 1e-4);
  for (const [k, s, p] of [
    [3, 1, 1],
    [3, 2, 1],
    [1, 2, 0], // stride 2, 1x1: three of the four phases get no tap and must be written as zeros
  ]) {
    const xs = [2, 6, 10, 9];
    check(
      t,
      `conv2dGradInput ${k}x${k} stride ${s}`,
      [
        [2, 4, Math.floor((10 + 2 * p - k) / s) + 1, Math.floor((9 + 2 * p - k) / s) + 1],
        [4, 6, k, k],
      ],
      (gy, w) => E.conv2dGradInput(gy, w, xs, { stride: s, padding: p }),
      1e-4,
    );
    check(
      t,
      `conv2dGradWeight ${k}x${k} stride ${s}`,
      [xs, [2, 4, Math.floor((10 + 2 * p - k) / s) + 1, Math.floor((9 + 2 * p - k) / s) + 1]],
      (x, gy) => E.conv2dGradWeight(x, gy, [4, 6, k, k], { stride: s, padding: p }),
      1e-4,
    );
  }
});

t.test('batch_norm2d forward and grad-input, tensor(), concat', async (t) => {
  const x = [2, 5, 7, 9];
  check(t, 'batchNorm2d train', [x, [5], [5]], (v, w, b) => E.batchNorm2d(v, null, null, w, b, { training: true }));
  check(t, 'batchNorm2d eval', [x, [5], [5], [5], [5]], (v, rm, rv, w, b) =>
    E.batchNorm2d(v, rm, E.add(E.mul(rv, rv), 0.5), w, b, { training: false }),
  );
  // x.grad is the backward's gx itself (no accumulation); the forward and loss temporaries take
  // some of the poisoned blocks first
  check(t, 'batchNorm2d grad-input', [x, x, [5], [5]], (v, gy, w, b) => {
    const xx = v.detach();
    xx.requiresGrad = true;
    E.backward(E.sum(E.mul(E.batchNorm2d(xx, null, null, w, b, { training: true }), gy)));
    return xx.grad!;
  });
  check(t, 'tensor()', [[3, 41]], (a) => E.tensor(Array.from(a.dataSync()), a.shape, { device: a.device }));
  check(
    t,
    'concat of a contiguous and a transposed part',
    [
      [2, 3, 5],
      [2, 5, 4],
    ],
    (a, b) => E.concat([a, E.transpose(b, 1, 2)], 1),
  );
  check(
    t,
    'concat along the last axis',
    [
      [2, 3, 5],
      [2, 3, 2],
    ],
    (a, b) => E.concat([a, b], 2),
  );
});

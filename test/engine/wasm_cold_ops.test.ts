// The wasm SIMD kernels of batch_norm2d, softmax/logSoftmax, dfl and the optimizer steps against
// the cpu reference (test/ops and test/nn cover them through testDevices too; here: odd sizes,
// the arithmetic that must be bit-identical, and threads=1/2/3 giving identical bits).
import t, { type Test } from 'tap';
import * as E from '../../engine/index.js';
import { assertClose } from '../helpers.js';
import { profiler } from '../../engine/profile.js';

t.teardown(E.releaseDevices);

/** deterministic values in [lo, lo + span) */
function values(n: number, seed: number, lo = -2, span = 4): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (s / 2 ** 32) * span;
  });
}
const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

type Run = (d: E.Device) => Promise<Float32Array[]>;

/**
 * Runs every case on cpu and on wasm with 1, 2 and 3 threads (one device opening per count),
 * asserts the thread counts agree bit for bit, then hands each case's cpu and wasm outputs to check.
 */
async function onAll(
  t: Test,
  cases: { name: string; run: Run; check: (cpu: Float32Array[], wasm: Float32Array[]) => void }[],
) {
  const cpu = await Promise.all(cases.map((c) => c.run(E.cpu)));
  const outs: Float32Array[][][] = [];
  for (const threads of [1, 2, 3]) {
    const d = await E.getDevice('wasm', { threads });
    const o: Float32Array[][] = [];
    for (const c of cases) o.push(await c.run(d));
    outs.push(o);
  }
  cases.forEach((c, j) => {
    for (let k = 1; k < outs.length; k++)
      t.ok(
        outs[k][j].every((a, i) => Buffer.compare(bytes(a), bytes(outs[0][j][i])) === 0),
        `${c.name}: threads=${k + 1} gives the same bits as threads=1`,
      );
    c.check(cpu[j], outs[0][j]);
  });
}
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function same(t: Test, got: Float32Array, want: Float32Array, msg: string) {
  let bad = -1;
  for (let i = 0; i < want.length && bad < 0; i++) if (!Object.is(got[i], want[i])) bad = i;
  t.ok(
    bad < 0 && got.length === want.length,
    `${msg}${bad >= 0 ? ` (index ${bad}: ${got[bad]} vs ${want[bad]})` : ''}`,
  );
}

t.test('batch_norm2d: train and eval, odd sizes, forward and backward', async (t) => {
  const cases: Parameters<typeof onAll>[1] = [];
  // hw not a multiple of 4 (and odd), channel planes starting unaligned; C=24 over 2-3 threads
  for (const shape of [
    [3, 5, 7, 3],
    [2, 24, 33, 31],
    [1, 3, 1, 1],
  ]) {
    for (const training of [true, false]) {
      for (const affine of [true, false]) {
        if (training && shape[0] * shape[2] * shape[3] <= 1) continue;
        const c = shape[1],
          n = numel(shape);
        const name = `${shape.join('x')} ${training ? 'train' : 'eval'}${affine ? '' : ', no affine'}`;
        const run: Run = async (d) => {
          const o = { device: d };
          const x = E.tensor(values(n, 1, 3, 5), shape, { ...o, requiresGrad: true }); // mean far from 0, as after a conv
          const w = affine ? E.tensor(values(c, 2, 0.5, 1), [c], { ...o, requiresGrad: true }) : null;
          const b = affine ? E.tensor(values(c, 3), [c], { ...o, requiresGrad: true }) : null;
          const rm = E.tensor(values(c, 4), [c], o),
            rv = E.tensor(values(c, 5, 0.5, 2), [c], o);
          const y = E.batchNorm2d(x, rm, rv, w, b, { training, momentum: 0.03, eps: 1e-3 });
          y.backward(E.tensor(values(n, 6), shape, o));
          return Promise.all([y, rm, rv, x.grad!, ...(affine ? [w!.grad!, b!.grad!] : [])].map((v) => v.data()));
        };
        const names = ['y', 'running_mean', 'running_var', 'grad x', 'grad weight', 'grad bias'];
        const check = (cpu: Float32Array[], wasm: Float32Array[]) =>
          cpu.forEach((want, k) => {
            // eval has no sums: the same f64 arithmetic on the same f32 values, bit for bit
            if (!training && k < 4) same(t, wasm[k], want, `${name}: ${names[k]} bit-identical to cpu`);
            else assertClose(t, wasm[k], want, `${name}: ${names[k]} wasm vs cpu`, 1e-6, 1e-6);
          });
        cases.push({ name, run, check });
      }
    }
  }
  await onAll(t, cases);
});

t.test('optimizer steps: bit-identical to the cpu reference, odd sizes across chunks', async (t) => {
  const n = 5003; // 5 chunks of 1024 and an odd tail
  const shape = [n];
  const mk = (d: E.Device, seed: number, lo = -1, span = 2) =>
    E.tensor(values(n, seed, lo, span), shape, { device: d });
  const cases: [string, Run][] = [];
  for (const [label, momentum, nesterov] of [
    ['SGD', 0, false],
    ['SGD momentum', 0.937, false],
    ['SGD nesterov', 0.937, true],
  ] as const)
    cases.push([
      `${label}, weight decay, grad scale`,
      async (d) => {
        const p = mk(d, 1),
          g = mk(d, 2),
          buf = mk(d, 3);
        for (let s = 0; s < 2; s++)
          E.sgdStep(p, g, buf, { lr: 0.01, momentum, nesterov, weightDecay: 5e-4, gradScale: 0.7 });
        return [await p.data(), await buf.data()];
      },
    ]);
  cases.push([
    'AdamW, three steps',
    async (d) => {
      const p = mk(d, 1),
        g = mk(d, 2),
        m = mk(d, 3, -0.1, 0.2),
        v = mk(d, 4, 0, 0.01);
      for (let step = 1; step <= 3; step++)
        E.adamwStep(p, g, m, v, {
          lr: 0.002,
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-8,
          weightDecay: 0.01,
          step,
          gradScale: 0.5,
        });
      return [await p.data(), await m.data(), await v.data()];
    },
  ]);
  cases.push([
    'EMA update',
    async (d) => {
      const e = mk(d, 1),
        x = mk(d, 2);
      E.emaUpdate(e, x, 0.9999 * (1 - Math.exp(-3 / 2000)));
      return [await e.data()];
    },
  ]);
  await onAll(
    t,
    cases.map(([name, run]) => ({
      name,
      run,
      check: (cpu, wasm) =>
        cpu.forEach((want, k) => same(t, wasm[k], want, `${name}: output ${k} bit-identical to cpu`)),
    })),
  );
});

t.test('softmax / logSoftmax: rows and columns, odd lengths, forward and backward', async (t) => {
  const cases: Parameters<typeof onAll>[1] = [];
  // [shape, axis]: rows (the last axis) of 1, 3, 7 and 33 values, columns with 5 (a tail of 1)
  // and 700 (blocks of 64 and a tail) columns, a 0-d tensor
  const layouts: [number[], number][] = [
    [[5, 1], 1],
    [[4, 3], 1],
    [[3, 7], -1],
    [[1000, 33], 1],
    [[2, 9, 5], 1],
    [[3, 17, 700], 1],
    [[6, 4, 5], 0],
    [[], 0],
  ];
  for (const [shape, axis] of layouts)
    for (const log of [false, true]) {
      const name = `${log ? 'logSoftmax' : 'softmax'} of ${shape.join('x') || '0-d'} along ${axis}`;
      const n = numel(shape);
      cases.push({
        name,
        run: async (d) => {
          const x = E.tensor(values(n, 7, -6, 12), shape, { device: d, requiresGrad: true });
          const y = (log ? E.logSoftmax : E.softmax)(x, axis);
          y.backward(E.tensor(values(n, 8), shape, { device: d }));
          return [await y.data(), await x.grad!.data()];
        },
        // exp and log in f64 like the reference; the sums may add in another order
        check: (cpu, wasm) => {
          assertClose(t, wasm[0], cpu[0], `${name}: forward wasm vs cpu`, 1e-6, 1e-7);
          assertClose(t, wasm[1], cpu[1], `${name}: backward wasm vs cpu`, 1e-6, 1e-7);
        },
      });
    }
  await onAll(t, cases);
});

t.test('dfl: contiguous, channel-sliced and transposed inputs, forward and backward', async (t) => {
  const views: [string, number[], (x: E.Tensor) => E.Tensor][] = [
    ['(2, 64, 1003)', [2, 64, 1003], (x) => x],
    ['a channel slice of (2, 65, 301)', [2, 65, 301], (x) => E.narrow(x, 1, 1, 64)],
    // the loss's layout: (1, 4R, n) read from (n, 4R), anchors 64 apart
    ['transposed (1, 64, 37)', [37, 64], (x) => E.transpose(E.reshape(x, [1, 37, 64]), 1, 2)],
  ];
  await onAll(
    t,
    views.map(([name, shape, view]) => ({
      name: `dfl ${name}`,
      run: async (d) => {
        const x = E.tensor(values(numel(shape), 9, -7, 14), shape, { device: d, requiresGrad: true });
        const y = E.dfl(view(x));
        y.backward(E.tensor(values(y.numel, 10), y.shape, { device: d }));
        return [await y.data(), await x.grad!.data()];
      },
      check: (cpu, wasm) => {
        // f64 exp and f64 sums in the reference's order: equal but for rare rounding ties
        assertClose(t, wasm[0], cpu[0], `dfl ${name}: forward wasm vs cpu`, 1e-6, 1e-7);
        assertClose(t, wasm[1], cpu[1], `dfl ${name}: backward wasm vs cpu`, 1e-6, 1e-7);
      },
    })),
  );
});

t.test('elementwise ops on channel slices (rows at a stride) run as SIMD kernels over strided views', async (t) => {
  const shape = [2, 6, 9, 31]; // rows of 3 * 9 * 31 contiguous values, 6 * 9 * 31 apart
  const n = numel(shape);
  await onAll(t, [
    {
      name: 'add of two channel halves, silu and its backward on a slice',
      run: async (d) => {
        const x = E.tensor(values(n, 11), shape, { device: d, requiresGrad: true });
        const s = E.add(E.narrow(x, 1, 0, 3), E.narrow(x, 1, 3, 3));
        const y = E.silu(E.narrow(x, 1, 1, 3));
        E.sum(E.mul(E.add(s, y), E.tensor(values(n / 2, 12), s.shape, { device: d }))).backward();
        return [await s.data(), await y.data(), await x.grad!.data()];
      },
      check: (cpu, wasm) => {
        same(t, wasm[0], cpu[0], 'add of strided halves bit-identical to cpu');
        // silu's exp is the SIMD $exp4 (~2 ulp of Math.exp), as in the contiguous kernels
        assertClose(t, wasm[1], cpu[1], 'silu of a slice wasm vs cpu', 1e-6, 1e-7);
        assertClose(t, wasm[2], cpu[2], 'gradient through the slices wasm vs cpu', 1e-5, 1e-6);
      },
    },
  ]);
  // one strided-view kernel call (ops_strided.ts), not the cpu loop
  const d = await E.getDevice('wasm', { threads: 2 });
  const x = E.tensor(values(n, 11), shape, { device: d });
  profiler.enable();
  E.add(E.narrow(x, 1, 0, 3), E.narrow(x, 1, 3, 3));
  const calls = profiler.totals.get('elementwise over strided views')?.count;
  profiler.enable(false);
  t.equal(calls, 1, 'the strided add ran as one SIMD kernel call');
});

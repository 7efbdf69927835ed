// The one harness every op test uses: forward and backward on webgpu against the cpu reference,
// and central-difference gradient checks in float64 on cpu.
import type { Test } from 'tap';
import {
  cpu,
  getDevice,
  openWebGPU,
  releaseDevices,
  tensor,
  mul,
  sum,
  noGrad,
  type Device,
  type Tensor,
  type DType,
} from '../engine/index.js';
import { random, randomNormal } from '../engine/random.js';

/**
 * The devices to test: cpu and webgpu, plus wasm when `wasm: true` (the op and nn tests ask for it;
 * the model-sized tests keep to one fast device). Without an adapter the webgpu half is skipped
 * with a note, except under CI (CI=true), where a missing adapter fails the suite.
 */
export async function testDevices(t: Test, opts: { wasm?: boolean } = {}): Promise<Device[]> {
  const gpu = await openWebGPU();
  t.teardown(releaseDevices);
  const wasm = opts.wasm ? [await getDevice('wasm')] : [];
  if (!gpu) {
    if (process.env.CI)
      throw new Error(
        'no WebGPU adapter under CI: .ci/run must install lavapipe (mesa-vulkan-drivers from bookworm-backports)',
      );
    t.comment('no WebGPU adapter: testing the cpu device only');
    return [cpu, ...wasm];
  }
  return [cpu, await getDevice('webgpu'), ...wasm];
}

export interface InputSpec {
  shape: number[];
  dtype?: DType;
  /** default: standard normal; or a generator of one value */
  gen?: (i: number) => number;
  grad?: boolean; // default true for float inputs
}

export function makeData(spec: InputSpec): number[] {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, i) => (spec.gen ? spec.gen(i) : randomNormal()));
}

/** max |got - ref| over max |ref|: one relative error for a whole tensor. */
export function relDiff(got: ArrayLike<number>, ref: ArrayLike<number>) {
  let d = 0,
    mx = 0;
  for (let i = 0; i < ref.length; i++) {
    d = Math.max(d, Math.abs(got[i] - ref[i]));
    mx = Math.max(mx, Math.abs(ref[i]));
  }
  return d / mx;
}

/** Max |a - b| and whether every element is within atol + rtol * |b| (NaNs must match). */
export function compare(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number) {
  let maxAbs = 0,
    worst = -1,
    ok = a.length === b.length;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i],
      y = b[i];
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) !== Number.isNaN(y)) ((ok = false), (worst = i));
      continue;
    }
    if (x === y) continue; // also equal infinities
    const d = Math.abs(x - y);
    if (!(d <= atol + rtol * Math.abs(y))) ((ok = false), (worst = i));
    if (d > maxAbs) maxAbs = d;
  }
  return { ok, maxAbs, worst };
}

export function assertClose(
  t: Test,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  msg: string,
  rtol = 1e-5,
  atol = 1e-5,
) {
  const r = compare(actual, expected, rtol, atol);
  const at = r.worst >= 0 ? ` (first bad index ${r.worst}: ${actual[r.worst]} vs ${expected[r.worst]})` : '';
  t.ok(
    r.ok,
    `${msg}: max |Δ| ${r.maxAbs.toExponential(2)}${r.ok ? '' : at}${actual.length !== expected.length ? ` length ${actual.length} vs ${expected.length}` : ''}`,
  );
}

type Build = (...inputs: Tensor[]) => Tensor;

/**
 * Runs `build` on the cpu reference and on every other device with the same inputs; compares
 * the outputs, then backpropagates the same random upstream gradient and compares input grads.
 */
export async function checkDevices(
  t: Test,
  devices: Device[],
  name: string,
  build: Build,
  specs: InputSpec[],
  tol: { rtol?: number; atol?: number } = {},
) {
  const rtol = tol.rtol ?? 1e-4,
    atol = tol.atol ?? 1e-5;
  const datas = specs.map(makeData);
  const run = async (device: Device) => {
    const inputs = specs.map((s, k) =>
      tensor(datas[k], s.shape, {
        dtype: s.dtype ?? 'f32',
        device,
        requiresGrad: (s.grad ?? true) && (s.dtype ?? 'f32') !== 'i32',
      }),
    );
    const out = build(...inputs);
    const values = await out.data();
    let grads: (ArrayLike<number> | null)[] = [];
    if (out.requiresGrad) {
      const upstream = tensor(
        Array.from({ length: out.numel }, (_, i) => Math.sin(i * 0.7) + 0.5),
        out.shape,
        { device },
      );
      sum(mul(out, upstream)).backward();
      grads = await Promise.all(inputs.map((x) => (x.grad ? x.grad.data() : null)));
    }
    return { values, grads };
  };
  const ref = await run(cpu);
  for (const d of devices) {
    if (d === cpu) continue;
    const got = await run(d);
    assertClose(t, got.values, ref.values, `${name} forward ${d.type} vs cpu`, rtol, atol);
    ref.grads.forEach((g, k) => {
      if (!g) return;
      if (!got.grads[k]) return void t.fail(`${name} input ${k}: no gradient on ${d.type}`);
      assertClose(t, got.grads[k]!, g, `${name} grad of input ${k} ${d.type} vs cpu`, rtol, atol);
    });
  }
  return ref;
}

/**
 * Central-difference gradient check in float64 on cpu: d(sum(out * w))/dx by perturbing each
 * input element by ±eps, against the analytic gradient from backward().
 */
export async function gradcheck(
  t: Test,
  name: string,
  build: Build,
  specs: InputSpec[],
  opts: { eps?: number; rtol?: number; atol?: number; maxElems?: number } = {},
) {
  const eps = opts.eps ?? 1e-6,
    rtol = opts.rtol ?? 1e-5,
    atol = opts.atol ?? 1e-7;
  const datas = specs.map(makeData);
  const mk = (k: number, d = datas[k], req = false) =>
    tensor(d, specs[k].shape, { dtype: specs[k].dtype === 'i32' ? 'i32' : 'f64', device: cpu, requiresGrad: req });
  const inputs = specs.map((s, k) => mk(k, datas[k], (s.grad ?? true) && s.dtype !== 'i32'));
  const out = build(...inputs);
  const w = Array.from({ length: out.numel }, (_, i) => Math.cos(i * 1.3) + 0.2);
  const wt = tensor(w, out.shape, { dtype: 'f64' });
  sum(mul(out, wt)).backward();
  const objective = (vals: number[][]) =>
    noGrad(() => {
      const o = build(...specs.map((_, k) => mk(k, vals[k]))).dataSync();
      let s = 0;
      for (let i = 0; i < o.length; i++) s += o[i] * w[i];
      return s;
    });
  for (let k = 0; k < specs.length; k++) {
    if (!inputs[k].requiresGrad) continue;
    const analytic = inputs[k].grad?.dataSync();
    if (!analytic) {
      t.fail(`${name}: no gradient for input ${k}`);
      continue;
    }
    const n = datas[k].length,
      limit = opts.maxElems ?? 64;
    const picks = n <= limit ? [...Array(n).keys()] : Array.from({ length: limit }, () => Math.floor(random() * n));
    const numeric: number[] = [],
      an: number[] = [];
    for (const i of picks) {
      const plus = datas.map((d) => [...d]),
        minus = datas.map((d) => [...d]);
      plus[k][i] += eps;
      minus[k][i] -= eps;
      numeric.push((objective(plus) - objective(minus)) / (2 * eps));
      an.push(analytic[i]);
    }
    assertClose(t, an, numeric, `${name} gradcheck input ${k} (${picks.length} elements)`, rtol, atol);
  }
}

/** fn() with process.env[name] = value, the variable restored (or removed again) afterwards, also when fn throws */
export function withEnv<T>(name: string, value: string, fn: () => T): T {
  const before = process.env[name];
  process.env[name] = value;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

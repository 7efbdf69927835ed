import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as E from '../../engine/index.js';
import { bucketSize } from '../../engine/backends/webgpu.js';
import { parseParams, packParams } from '../../engine/backends/wgsl.js';
import { testDevices } from '../helpers.js';

const devices = await testDevices(t);
const gpuDev = devices.find((d) => d.type === 'webgpu') as E.WebGPUDevice | undefined;

t.test('device selection', async (t) => {
  t.equal(await E.getDevice('cpu'), E.cpu);
  await t.rejects(E.getDevice('tpu'), /device=tpu: unknown device \(expected webgpu, wasm or cpu\)/);
  if (gpuDev) {
    t.equal((await E.getDevice('webgpu')).type, 'webgpu');
    const d = await E.getDevice();
    if (gpuDev.cpuAdapter) {
      t.equal(d.type, 'wasm', `default is wasm when the only adapter (${gpuDev.name}) is a CPU one`);
      t.match(
        E.describeDevice(d),
        new RegExp(`chosen because the only WebGPU adapter \\(.*\\) runs on the CPU`),
        'with the reason on the device line',
      );
    } else t.equal(d.type, 'webgpu', 'default is webgpu on a real GPU');
    t.match(gpuDev.name, /\S/, 'adapter name reported');
  }
});

t.test('Params are packed by field name with uniform alignment', async (t) => {
  const layout = parseParams(
    'struct Params {\n n: u32, // count\n scale: f32,\n dims: vec4<u32>,\n st: array<vec4<i32>, 2>,\n}',
    'test',
  )!;
  t.same(
    layout.fields.map((f) => [f.name, f.offset]),
    [
      ['n', 0],
      ['scale', 4],
      ['dims', 16],
      ['st', 32],
    ],
  );
  t.equal(layout.size, 64);
  const buf = packParams(layout, { n: 7, scale: 0.5, dims: [1, 2, 3, 4], st: [-1, 2] }, 'k');
  t.same([...new Uint32Array(buf, 0, 1)], [7]);
  t.same([...new Float32Array(buf, 4, 1)], [0.5]);
  t.same([...new Int32Array(buf, 32, 2)], [-1, 2]);
  t.throws(
    () => packParams(layout, { n: 1, scale: 1, dims: [] }, 'my_kernel'),
    /kernel my_kernel: params.st was not given/,
  );
  t.throws(
    () => packParams(layout, { n: 1, scale: 1, dims: [], st: [], bogus: 1 }, 'my_kernel'),
    /Params has no field 'bogus'/,
  );
});

t.test('buffer pool buckets and reuse', async (t) => {
  t.equal(bucketSize(1), 256);
  t.equal(bucketSize(4097), 4608, 'eighth-of-a-power-of-two steps above 4 KiB');
  t.ok(bucketSize(1e6) >= 1e6 && bucketSize(1e6) < 1.13e6);
  if (!gpuDev) return;
  const gpu = gpuDev.gpu;
  const a = E.zeros([1000], { device: gpuDev });
  await a.data();
  const before = gpu.allocatedBytes;
  a.dispose();
  const b = E.ones([1000], { device: gpuDev });
  t.same((await b.data()).slice(0, 3), new Float32Array([1, 1, 1]), 'a recycled buffer holds the new values');
  t.equal(gpu.allocatedBytes, before, 'the freed buffer was reused, nothing new allocated');
});

t.test('a shader compile error surfaces as an exception naming the kernel', async (t) => {
  if (!gpuDev) return t.skip('no adapter');
  const gpu = gpuDev.gpu;
  const x = E.ones([4], { device: gpuDev });
  const out = E.Tensor.empty([4], 'f32', gpuDev);
  gpu.dispatch(
    { file: 'elementwise.wgsl', slots: { TA: 'f32', TB: 'f32', TC: 'f32', TOUT: 'f32', EXPR: 'x +* y' } },
    { a: x.storage.buffer!, out: out.storage.buffer! },
    {
      n: 4,
      rank: 1,
      fast: 1,
      off_out: 0,
      off_a: 0,
      off_b: 0,
      off_c: 0,
      alpha: 0,
      beta: 0,
      from_out: 0,
      shape: [4],
      st_out: [1],
      st_a: [1],
      st_b: [],
      st_c: [],
    },
    [1],
  );
  await t.rejects(out.data(), /kernel elementwise\.wgsl .*x \+\* y.* failed to compile/s);
  // the runtime recovers: later work still runs
  t.same([...(await E.add(x, 1).data())], [2, 2, 2, 2]);
});

t.test('the CLI demo runs and the process exits by itself (Dawn released)', async (t) => {
  const r = spawnSync(process.execPath, ['--import=tsx', 'tasks/cli.ts', 'demo'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  t.equal(r.status, 0, `exit code 0 (signal ${r.signal}, stderr: ${r.stderr.slice(-300)})`);
  t.match(r.stdout, /learned w = \[3\.000, -2\.000\], b = 0\.500/);
});

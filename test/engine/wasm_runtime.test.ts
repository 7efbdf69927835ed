// The wasm device's runtime: allocator, memory growth, threads, both kernel builds, device choice.
import t from 'tap';
import * as E from '../../engine/index.js';
import { WasmRuntimeImpl, sizeClass } from '../../engine/backends/wasm/runtime.js';
import { loadKernelBinary } from '../../engine/backends/wasm/build.js';
import { assertClose } from '../helpers.js';

t.test('allocator: 16-byte aligned blocks, size classes, reuse after free, growth keeps old views valid', async (t) => {
  const rt = await WasmRuntimeImpl.create({ threads: 1 });
  t.teardown(() => rt.destroy());
  const a = rt.alloc(10),
    b = rt.alloc(100),
    c = rt.alloc(1000);
  for (const p of [a, b, c]) t.equal(p % 16, 0, `block ${p} is 16-byte aligned`);
  t.ok(b >= a + sizeClass(10) && c >= b + sizeClass(100), 'blocks do not overlap');
  t.same(
    [sizeClass(1), sizeClass(17), sizeClass(256), sizeClass(257), sizeClass(1000)],
    [16, 32, 256, 288, 1024],
    'size classes',
  );
  rt.free(b);
  t.equal(rt.alloc(97), b, 'a freed block is reused by the same size class (97 and 100 bytes: 112)');
  t.throws(() => rt.free(12345), /not live/, 'freeing an unknown block throws');
  const view = rt.f32(c, 250);
  view[249] = 7.5;
  const before = rt.memory.buffer.byteLength;
  const big = rt.alloc(64 * 2 ** 20); // 64 MiB: beyond the initial 16 MiB
  t.ok(rt.memory.buffer.byteLength > before, `memory grew (${before} -> ${rt.memory.buffer.byteLength} bytes)`);
  t.equal(view[249], 7.5, 'a view made before growth still reads the same memory');
  view[0] = 3;
  t.equal(rt.f32(c, 1)[0], 3, 'and writes through to it');
  rt.f32(big, 16 * 2 ** 20).fill(1);
  t.equal(rt.f32(big + 4 * (16 * 2 ** 20 - 1), 1)[0], 1, 'the last element of the grown block is addressable');
});

t.test(
  'relaxed and plain SIMD builds both validate and give the same exp / silu / matmul within rounding',
  async (t) => {
    const relaxedBin = await loadKernelBinary(true),
      plainBin = await loadKernelBinary(false);
    t.ok(WebAssembly.validate(plainBin), 'the plain SIMD build validates');
    const plain = await WasmRuntimeImpl.create({ threads: 1, relaxed: false });
    const relaxed = await WasmRuntimeImpl.create({ threads: 1, relaxed: true });
    t.teardown(() => Promise.all([plain.destroy(), relaxed.destroy()]));
    t.notOk(plain.relaxed, 'relaxed=false gives the plain build');
    t.ok(
      WebAssembly.validate(relaxedBin) === relaxed.relaxed,
      `relaxed build ${relaxed.relaxed ? 'in use' : `unsupported: ${relaxed.note}`}`,
    );
    const xs = Array.from({ length: 203 }, (_, i) => Math.fround((i - 101) * 0.37));
    for (const rt of [plain, relaxed]) {
      const a = rt.alloc(4 * xs.length),
        o = rt.alloc(4 * xs.length);
      rt.f32(a, xs.length).set(xs);
      rt.parallel('u_exp', [a, o, xs.length, 0, 0], 1);
      assertClose(
        t,
        rt.f32(o, xs.length),
        xs.map(Math.exp),
        `${rt.relaxed ? 'relaxed' : 'plain'} exp vs Math.exp`,
        3e-7,
        0,
      );
      // the edges: NaN stays NaN, +-inf and beyond the f32 range saturate to inf / 0
      const edge = [NaN, Infinity, -Infinity, 89, -88, 0];
      rt.f32(a, edge.length).set(edge);
      rt.parallel('u_exp', [a, o, edge.length, 0, 0], 1);
      t.same(
        [...rt.f32(o, edge.length)],
        [NaN, Infinity, 0, Infinity, 0, 1],
        `${rt.relaxed ? 'relaxed' : 'plain'} exp at NaN, +-inf, 89, -88, 0`,
      );
      rt.f32(a, xs.length).set(xs);
      rt.parallel('u_silu', [a, o, xs.length, 0, 0], 1);
      assertClose(
        t,
        rt.f32(o, xs.length),
        xs.map((x) => x / (1 + Math.exp(-x))),
        `${rt.relaxed ? 'relaxed' : 'plain'} silu`,
        1e-6,
        1e-30,
      );
      // (3, 5) @ (5, 6)
      const A = Array.from({ length: 15 }, (_, i) => Math.sin(i)),
        B = Array.from({ length: 30 }, (_, i) => Math.cos(i));
      const pa = rt.alloc(60),
        pb = rt.alloc(120),
        pc = rt.alloc(72);
      rt.f32(pa, 15).set(A);
      rt.f32(pb, 30).set(B);
      rt.parallel('mm', [pa, pb, pc, 3, 6, 5, 5, 1, 6, 6, 0], 3);
      const want = Array.from({ length: 18 }, (_, k) => {
        let s = 0;
        for (let j = 0; j < 5; j++) s += A[Math.floor(k / 6) * 5 + j] * B[j * 6 + (k % 6)];
        return s;
      });
      assertClose(t, rt.f32(pc, 18), want, `${rt.relaxed ? 'relaxed' : 'plain'} mm vs float64 loops`, 1e-5, 1e-6);
    }
  },
);

t.test('threads=1 and threads=2 give identical results on ops big enough to split', async (t) => {
  const run = async (threads: number) => {
    const d = await E.getDevice('wasm', { threads });
    t.equal((d as E.WasmDevice).wasm.threads, threads, `device opened with ${threads} thread(s)`);
    E.manualSeed(3);
    const x = E.randn([2, 16, 40, 40], { device: d }),
      w = E.randn([24, 16, 3, 3], { device: d }),
      b = E.randn([24], { device: d });
    const y = E.conv2d(x, w, b, { padding: 1, act: 'silu' });
    const z = E.add(E.mul(y, E.reshape(b, [1, 24, 1, 1])), E.sigmoid(y));
    return [...(await z.data())];
  };
  const one = await run(1),
    two = await run(2);
  t.ok(one.length === 2 * 24 * 40 * 40 && one.every((v, i) => Object.is(v, two[i])), 'bit-identical');
  E.manualSeed(3);
  const x = E.randn([2, 16, 40, 40]),
    w = E.randn([24, 16, 3, 3]),
    b = E.randn([24]);
  const y = E.conv2d(x, w, b, { padding: 1, act: 'silu' });
  assertClose(
    t,
    one,
    await E.add(E.mul(y, E.reshape(b, [1, 24, 1, 1])), E.sigmoid(y)).data(),
    'and match the cpu reference',
    1e-4,
    1e-4,
  );
  E.releaseDevices();
});

t.test('parallel(): every task of every launch runs exactly once, whichever thread claims it', async (t) => {
  // a += b in place: a chunk run twice (or skipped) leaves a wrong count in its elements
  for (const threads of [2, 3]) {
    const rt = await WasmRuntimeImpl.create({ threads });
    t.teardown(() => rt.destroy());
    const N = 1 << 18,
      a = rt.alloc(4 * N),
      b = rt.alloc(4 * N);
    rt.f32(b, N).fill(1);
    rt.f32(a, N).fill(0);
    // back-to-back launches of every size, from 1 task (the caller alone) to 256 tasks of 1024
    const sizes = Array.from({ length: 300 }, (_, i) => 1 + ((i * 7919) % N));
    for (const n of sizes) rt.parallel('b_add', [a, b, a, n, 1, 1], Math.ceil(n / 1024));
    const got = rt.f32(a, N);
    let bad = -1;
    for (let i = 0; i < N && bad < 0; i++) if (got[i] !== sizes.filter((n) => n > i).length) bad = i;
    t.equal(bad, -1, `threads=${threads}: 300 launches, each element added once per launch that covers it`);
    // a trap in some chunk (out of bounds past the memory's end) fails the call on whichever thread
    // ran it, and the next launch runs normally
    const end = rt.memory.buffer.byteLength,
      far = end - 4 * 2048;
    t.throws(
      () => rt.parallel('b_add', [far, b, far, 64 * 1024, 1, 1], 64),
      /out of bounds|failed on a worker thread/,
      `threads=${threads}: a trapping chunk fails the launch`,
    );
    rt.f32(a, 4096).fill(0);
    rt.parallel('b_add', [a, b, a, 4096, 1, 1], 4);
    t.ok(
      rt.f32(a, 4096).every((v) => v === 1),
      `threads=${threads}: the launch after it runs every task once`,
    );
  }
});

t.test('tensors on wasm: storage in the shared memory, freed on dispose, dataSync works', async (t) => {
  const d = (await E.getDevice('wasm', { threads: 1 })) as E.WasmDevice;
  t.teardown(E.releaseDevices);
  const live = d.wasm.liveBytes;
  const x = E.tensor([1, 2, 3], [3], { device: d });
  t.ok(
    (x.storage.ptr > 0 && x.storage.array!.buffer === d.wasm.memory.buffer) ||
      x.storage.array!.buffer instanceof SharedArrayBuffer,
    'a view over the shared memory',
  );
  t.same([...x.dataSync()], [1, 2, 3]);
  t.ok(d.wasm.liveBytes > live, 'the block is live');
  x.dispose();
  t.equal(d.wasm.liveBytes, live, 'dispose frees the block');
  const y = await E.tensor([4, 5], [2]).to(d);
  t.equal(y.device.type, 'wasm');
  t.same([...(await y.to(E.cpu)).dataSync()], [4, 5], 'to() round trip');
  t.throws(() => E.tensor([1], [1], { device: d, dtype: 'f64' }), /f64 tensors exist only on the cpu device/);
});

t.test('threads= errors name the option; device=wasm and the device line', async (t) => {
  await t.rejects(E.getDevice('wasm', { threads: 0 }), /threads=0: expected a whole number of threads from 1 to 256/);
  await t.rejects(E.getDevice('wasm', { threads: 'many' }), /threads=many/);
  const old = process.env.YOLO_THREADS;
  process.env.YOLO_THREADS = '-2';
  t.throws(() => E.parseThreads(undefined), /YOLO_THREADS=-2/);
  if (old === undefined) delete process.env.YOLO_THREADS;
  else process.env.YOLO_THREADS = old;
  const d = await E.getDevice('wasm', { threads: 2 });
  t.match(E.describeDevice(d), /^wasm \(SIMD.*2 threads/);
  E.releaseDevices();
});

t.test('inference-only kernels (no autograd): max_pool2d without indices matches the cpu reference', async (t) => {
  const d = await E.getDevice('wasm', { threads: 2 });
  t.teardown(E.releaseDevices);
  E.manualSeed(5);
  const host = E.randn([2, 3, 13, 11]).dataSync();
  host[7] = NaN; // NaN wins its windows, as in the reference
  for (const opts of [
    { kernelSize: 5, stride: 1, padding: 2 },
    { kernelSize: 3, stride: 2, padding: 1 },
    { kernelSize: 2, dilation: 2 },
  ] as E.MaxPool2dOptions[]) {
    const run = (dev: E.Device) => E.noGrad(() => E.maxPool2d(E.tensor(host, [2, 3, 13, 11], { device: dev }), opts));
    assertClose(t, await run(d).data(), await run(E.cpu).data(), `maxPool2d ${JSON.stringify(opts)} wasm vs cpu`, 0, 0);
  }
});

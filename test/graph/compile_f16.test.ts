// The half compiled forward (engine/graph/executor_f16.ts, engine/backends/wgsl_f16.ts): the f16
// rule on WGSL text, every kernel of a compiled YOLOv8-pose forward compiling as f16 in Dawn, the
// f32 <-> f16 conversions against IEEE half, and the whole forward in f16 against f32.
import t from 'tap';
import { loadPoseModel } from '../../models/index.js';
import { cpu, manualSeed, rand, tensor, type Tensor } from '../../engine/index.js';
import { openWebGPU, releaseDevices } from '../../engine/device.js';
import { buildShader } from '../../engine/backends/wgsl.js';
import { f16Storage } from '../../engine/backends/wgsl_f16.js';
import { setGemmVariant } from '../../engine/backends/kernel_variants.js';
import { CompiledForward } from '../../engine/graph/index.js';
import { castStep, deviceHasF16, emptyHalf, toHalf } from '../../engine/graph/executor_f16.js';
import { f16ToF32 } from '../../engine/io/safetensors.js';

const WEIGHTS = 'test/fixtures/predict/yolov8n-pose-coco128.pt';

t.test('the f16 rule: storage narrowed, reads widened, stores narrowed, nothing else touched', async (t) => {
  const src = `alias TA = f32;
struct Params { n: u32, alpha: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<TA>;
@group(0) @binding(2) var<storage, read> w4: array<vec4f>;
@group(0) @binding(3) var<storage, read> idx: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;
var<workgroup> tile: array<f32, 64>;
fn main() {
  // out[0] = a[0]; a comment is not code
  let v = a[idx[1]] * p.alpha + w4[2].x;
  tile[0] = a[3];
  out[1] = w4[a4(1u)] + vec4f(v);
  out[2][3] = v;
  out[0] += w4[0];
}`;
  const got = f16Storage(src);
  t.match(got, /^enable f16;\n/, 'enable f16 first');
  t.match(got, /var<storage, read> a: array<f16>;/, 'an alias of f32 is followed');
  t.match(got, /w4: array<vec4<f16>>;/);
  t.match(got, /out: array<vec4<f16>>;/);
  t.match(got, /idx: array<i32>;/, 'i32 storage untouched');
  t.match(got, /var<workgroup> tile: array<f32, 64>;/, 'workgroup memory stays f32');
  t.match(
    got,
    /let v = f32\(a\[idx\[1\]\]\) \* p\.alpha \+ f32\(w4\[2\]\.x\);/,
    'reads widened; a swizzle is a scalar',
  );
  t.match(got, /tile\[0\] = f32\(a\[3\]\);/);
  t.match(got, /out\[1\] = vec4<f16>\(vec4<f32>\(w4\[a4\(1u\)\]\) \+ vec4f\(v\)\);/, 'a vec4 store narrowed');
  t.match(got, /out\[2\]\[3\] = f16\(v\);/, 'a component store narrowed to a scalar');
  t.match(got, /out\[0\] = vec4<f16>\(vec4<f32>\(out\[0\]\) \+ \(vec4<f32>\(w4\[0\]\)\)\);/, 'op= is read, op, store');
  t.notMatch(got, /a comment/, 'comments in code are dropped, never rewritten');
  t.match(f16Storage(src, ['out']), /a: array<TA>;/, 'only the named bindings');
  t.throws(() => f16Storage(src, ['idx']), /no f32 storage binding 'idx'/);
  t.throws(() => f16Storage(src.replace('let v =', 'let q = &a[0]; let v =')), /pointer into 'a'/);
  t.throws(() => f16Storage(got), /already enables f16/);
});

t.test('f16 plans need webgpu with shader-f16', async (t) => {
  const model = loadPoseModel(WEIGHTS, { device: cpu }).eval().fuse();
  t.throws(
    () => new CompiledForward(model, cpu, { dtype: 'f16' }),
    /compile: dtype f16 needs webgpu with the 'shader-f16' feature; cpu/,
  );
});

t.test('on webgpu with shader-f16', async (t) => {
  const gpu = await openWebGPU();
  t.teardown(releaseDevices);
  if (!gpu || !deviceHasF16(gpu)) return t.skip(`no WebGPU adapter with shader-f16 (${gpu?.name ?? 'none'})`);
  const dev = gpu.gpu.device;

  t.test('every kernel of the compiled forward compiles as f16 (both GEMM cores)', async (t) => {
    const ew = { TA: 'f32', TB: 'f32', TC: 'f32', TOUT: 'f32', EXPR: 'x / (1.0 + exp(-x)) + y * p.alpha' };
    const kernels: [string, Record<string, string>, string[]?][] = [
      ['conv2d_tiled.wgsl', {}],
      ['elementwise.wgsl', ew],
      ['elementwise.wgsl', ew, ['out']],
      ['elementwise.wgsl', ew, ['a']],
      ['max_pool2d.wgsl', {}],
      ['upsample_nearest2d.wgsl', {}],
      ['dfl.wgsl', {}],
      ['softmax.wgsl', {}],
    ];
    if (dev.features.has('subgroups')) kernels.push(['conv2d_subgroup.wgsl', {}]);
    for (const [file, slots, names] of kernels) {
      const mod = dev.createShaderModule({ code: f16Storage(buildShader(file, slots), names) });
      const errors = (await mod.getCompilationInfo()).messages.filter((m) => m.type === 'error');
      t.same(
        errors.map((e) => `${e.lineNum}: ${e.message}`),
        [],
        `${file}${names ? ' ' + names : ''}`,
      );
    }
  });

  t.test('conversions: f32 -> f16 to a neighbouring half, f16 -> f32 exact', async (t) => {
    const vals = [0, -0, 1, -1, 0.1, 1 / 3, 65504, -65504, 6.1e-5, 5.96e-8, 1e-8, 2049, 2051, 3.14159, -1234.5678];
    const x = tensor(vals, [vals.length], { device: gpu });
    const h = toHalf(x);
    const bits = new Uint16Array(await gpu.gpu.read(h.storage.buffer!, 0, 2 * vals.length));
    const asF32 = f16ToF32(bits);
    vals.forEach((v, i) => {
      const ulp = Math.abs(v) < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(Math.abs(v))) - 10);
      t.ok(Math.abs(asF32[i] - v) <= ulp / 2 + 1e-12 * Math.abs(v), `${v} -> ${asF32[i]} (nearest half)`);
    });
    const back = tensor(new Array(vals.length).fill(7), [vals.length], { device: gpu });
    castStep(h, back, 'f32')();
    t.same(Array.from(await back.data()), Array.from(asF32), 'f16 -> f32 is exact');
    [x, h, back].forEach((v) => v.dispose());
    const e = emptyHalf(gpu, [1000, 3]);
    t.ok(e.storage.buffer!.size >= 6000 && e.storage.buffer!.size < 12000, 'emptyHalf: 2 bytes per element (bucketed)');
    e.dispose();
  });

  t.test('YOLOv8n-pose: f16 plan within 1e-2 of the f32 plan, fewer device bytes', async (t) => {
    const model = loadPoseModel(WEIGHTS, { device: gpu }).eval().fuse();
    manualSeed(0);
    for (const variant of ['gpu', 'cpu-like'] as const) {
      if (variant === 'cpu-like' && !dev.features.has('subgroups')) continue;
      setGemmVariant(variant);
      const f32 = new CompiledForward(model, gpu, { select: (o) => (o as number[])[0] });
      const f16 = new CompiledForward(model, gpu, { select: (o) => (o as number[])[0], dtype: 'f16' });
      for (const s of [
        [1, 3, 64, 64],
        [2, 3, 96, 128],
      ]) {
        const x = tensor(rand(s).dataSync(), s, { device: gpu });
        const [a, b] = [f32.run(x) as Tensor, f16.run(x) as Tensor];
        t.same(b.shape, a.shape);
        const [ra, rb] = [(await a.data()) as Float32Array, (await b.data()) as Float32Array];
        // boxes (4 rows), scores (1), keypoints (51): each against its own scale
        for (const [name, r0, r1] of [
          ['boxes', 0, 4],
          ['scores', 4, 5],
          ['keypoints', 5, 56],
        ] as const) {
          let d = 0,
            m = 0;
          const A = a.shape[2];
          for (let bi = 0; bi < a.shape[0]; bi++)
            for (let r = r0; r < r1; r++)
              for (let k = 0; k < A; k++) {
                const i = (bi * 56 + r) * A + k;
                ((d = Math.max(d, Math.abs(rb[i] - ra[i]))), (m = Math.max(m, Math.abs(ra[i]))));
              }
          t.ok(d / m <= 1e-2, `${variant} ${s} ${name}: max |f16 - f32| / max |f32| = ${(d / m).toExponential(2)}`);
        }
        const [ea, eb] = [f32.executor(s), f16.executor(s)];
        t.equal(eb.plan.stats.kernels, ea.plan.stats.kernels, 'the same plan');
        t.ok(eb.bytes < ea.bytes, `device bytes: f16 plan ${eb.bytes}, f32 plan ${ea.bytes}`);
        [x, a, b].forEach((v) => v.dispose());
      }
      f32.dispose();
      f16.dispose();
    }
    setGemmVariant(null);
  });
});

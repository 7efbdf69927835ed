// YOLO_PROFILE's per-kind table (engine/profile.ts) on a real forward: on webgpu every conv2d of
// yolov8n-pose is one timed kernel (counted against the graph tracer's conv2d nodes, an independent
// count), and the kernels' GPU time fits inside the wall time measured around the forward.
import t from 'tap';
import * as E from '../../engine/index.js';
import { traceModule } from '../../engine/graph/index.js';
import { kernelKind, profiler } from '../../engine/profile.js';
import { loadPoseModel } from '../../models/index.js';
import { testDevices } from '../helpers.js';

const WEIGHTS = 'test/fixtures/predict/yolov8n-pose-coco128.pt';
const SHAPE = [1, 3, 64, 64];

t.test('kernel names map to op kinds', async (t) => {
  t.equal(kernelKind('conv2d_subgroup.wgsl'), 'conv2d fwd');
  t.equal(kernelKind('conv2d_grad_input_tiled.wgsl'), 'conv2d grad-input');
  t.equal(kernelKind('conv2d_grad_weight_subgroup.wgsl'), 'conv2d grad-weight');
  t.equal(
    kernelKind('batch_norm2d.wgsl:grad_input'),
    'batch_norm2d',
    'a batch-norm entry named grad_input stays batch norm',
  );
  t.equal(kernelKind('max_pool2d.wgsl:pool_backward'), 'max_pool2d backward');
  t.equal(kernelKind('optim_step.wgsl:sgd'), 'optimizer');
});

t.test('webgpu: conv2d kernels counted and timed within the wall time', async (t) => {
  const gpu = (await testDevices(t)).find((d) => d.type === 'webgpu');
  if (!gpu) return t.skip('no WebGPU adapter');
  const convNodes = traceModule(loadPoseModel(WEIGHTS, { device: E.cpu }).eval().fuse(), SHAPE).nodes.filter(
    (n) => n.op === 'conv2d',
  ).length;
  const model = loadPoseModel(WEIGHTS, { device: gpu }).eval().fuse();
  E.manualSeed(0);
  const host = E.rand(SHAPE).dataSync();
  const forward = async () => {
    const x = E.tensor(host, SHAPE, { device: gpu });
    const y = model.predict(x);
    await y.data();
    x.dispose();
    y.dispose();
  };
  await forward(); // pipelines compiled, pool filled: the profiled run is steady state
  try {
    profiler.enable();
    const t0 = performance.now();
    await forward();
    const wall = performance.now() - t0;
    await profiler.settle();
    const conv = profiler.totals.get('conv2d fwd');
    t.equal(conv?.count, convNodes, `${convNodes} conv2d kernels (the traced graph's conv2d nodes)`);
    const kernels = [...profiler.totals].filter(([k]) => !k.startsWith('webgpu encode') && !k.includes('->'));
    const sum = kernels.reduce((s, [, e]) => s + e.ms, 0);
    t.ok(conv!.ms > 0 && sum > 0, `kernel time measured: conv ${conv!.ms.toFixed(2)} ms of ${sum.toFixed(2)} ms`);
    t.ok(sum <= wall, `kernel GPU time ${sum.toFixed(1)} ms <= wall ${wall.toFixed(1)} ms`);
    const up = profiler.totals.get('host->device upload');
    t.ok(
      up && up.bytes >= 4 * host.length,
      `uploads counted with their bytes (${up?.count} uploads, ${up?.bytes} bytes, the input ${4 * host.length})`,
    );
    const report = await profiler.report('test');
    t.match(report, /timestamp queries/, 'the header says how webgpu was timed');
    t.match(report, /conv2d fwd\s+[\d.]+\s+\d+\s+[\d.]+/, 'a conv2d fwd row: ms, count, % of wall');
  } finally {
    profiler.enable(false);
    for (const [, p] of [...model.namedParameters(), ...model.namedBuffers()]) p.dispose();
  }
});

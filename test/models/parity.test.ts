// Acceptance: yolov8n-pose with the seed-0 Ultralytics checkpoint against Ultralytics 8.2.82's own
// outputs (test/fixtures/models/make_parity_fixture.ts derives the goldens), on every device.
// Metric: max |Δ| / max |ref| per tensor, at most 1e-4.
import t from 'tap';
import * as E from '../../engine/index.js';
import { asF32, readSafetensors } from '../../engine/io/safetensors.js';
import { loadPoseModel } from '../../models/index.js';
import type { PoseEvalOutput, PoseTrainOutput } from '../../nn/index.js';
import { testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });
const ref = readSafetensors('test/fixtures/models/parity-n-seed0-small.safetensors').tensors;
const get = (k: string) => {
  const e = ref.get(k);
  if (!e) throw new Error(`fixture has no '${k}'`);
  return { shape: e.shape, data: asF32(e) };
};
const u8 = ref.get('input_u8')!;
const input = { shape: u8.shape, data: Float32Array.from(u8.data as Uint8Array, (v) => v / 255) }; // exactly Ultralytics' im / 255
const rect = get('input_rect');
const TOL = 1e-4;

/** max |Δ| / max |ref| over the first `n` elements (image 0 when n is one image's worth). */
function relDelta(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let d = 0,
    m = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    m = Math.max(m, Math.abs(want[i]));
  }
  return Number.isNaN(d) ? Infinity : d / m;
}

for (const device of devices) {
  t.test(`yolov8n-pose parity on ${device.type}`, async (t) => {
    const model = loadPoseModel('test/fixtures/models/yolov8n-pose-seed0.pt', { device });
    const report: string[] = [];
    const check = async (name: string, got: E.Tensor, key = name) => {
      const want = get(key);
      const n = want.data.length;
      const d = relDelta((await got.data()).subarray(0, n), want.data);
      report.push(`${name} ${d.toExponential(2)}`);
      t.ok(d <= TOL, `${device.type} ${name}: max|Δ|/max|ref| = ${d.toExponential(2)}`);
    };

    // eval mode, unfused: decoded output on both images, raw maps on image 0
    model.eval();
    await E.noGrad(async () => {
      const x = E.tensor(input.data, input.shape, { device });
      const [pred, [feats, kpt]] = model.forward(x) as PoseEvalOutput;
      t.same(pred.shape, [2, 56, 2100]);
      await check('eval_out', pred);
      for (let i = 0; i < 3; i++) await check(`eval_feat${i}`, feats[i]);
      await check('eval_kpt_raw', kpt);
      const xr = E.tensor(rect.data, rect.shape, { device });
      const out = model.predict(xr);
      t.same(out.shape, [1, 56, 1260]);
      await check('eval_out_rect', out);
      [x, pred, ...feats, kpt, xr, out].forEach((v) => v.dispose());
    });

    // train mode: BatchNorm on batch statistics (over both images), and one running-stat update
    model.train();
    await E.noGrad(async () => {
      const x = E.tensor(input.data, input.shape, { device });
      const [feats, kpt] = model.forward(x) as PoseTrainOutput;
      for (let i = 0; i < 3; i++) await check(`train_feat${i}`, feats[i]);
      await check('train_kpt_raw', kpt);
      const sd = model.stateDict();
      await check('bn_running_mean', sd.get('model.0.bn.running_mean')!, 'bn_running_mean.model.0.bn');
      await check('bn_running_var', sd.get('model.0.bn.running_var')!, 'bn_running_var.model.0.bn');
      [x, ...feats, kpt].forEach((v) => v.dispose());
    });
    t.comment(`${device.type} deltas: ${report.join(', ')}`);
  });
}

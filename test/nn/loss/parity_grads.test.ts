// Acceptance, end to end: yolov8n-pose-seed0.pt in train mode on the reference batch (two 320×320
// images), v8PoseLoss, backward; the gradients of the listed parameters (model.0, model.2.m.0,
// model.9, model.22) against Ultralytics 8.2.82's, within 1e-3 relative (‖Δ‖/‖ref‖), on every
// device. Reuses the model fixtures of test/models (the checkpoint and the letterboxed images);
// large gradients are compared on every 8th element (see gen_loss.py, parity_grads).
// Cost: a full train step of the network at 320 px on two images. On webgpu ~25 s here (lavapipe,
// 2 cores); the pure-TS cpu backend takes ~150 s, so the cpu half runs only with LOSS_PARITY_CPU=1
// or when there is no WebGPU adapter (the loss itself is checked on cpu by parity.test.ts).
import t from 'tap';
import * as E from '../../../engine/index.js';
import { asF32, readSafetensors } from '../../../engine/io/safetensors.js';
import { loadPoseModel } from '../../../models/index.js';
import type { PoseTrainOutput } from '../../../nn/index.js';
import { V8PoseLoss } from '../../../nn/loss/v8_pose_loss.js';
import { testDevices } from '../../helpers.js';
import { loadFixture, relNorm } from './fixtures.js';

const all = await testDevices(t, { wasm: true });
const devices = all.length > 1 && !process.env.LOSS_PARITY_CPU ? all.filter((d) => d.type !== 'cpu') : all;
const models = (f: string) => new URL(`../../fixtures/models/${f}`, import.meta.url).pathname;
const head = loadFixture('parity_head');
const grads = readSafetensors(new URL('../../fixtures/loss/parity_grads.safetensors', import.meta.url).pathname);
const stride = Number(grads.metadata.stride),
  fullUpTo = Number(grads.metadata.full_up_to);
const u8 = readSafetensors(models('parity-n-seed0-small.safetensors')).tensors.get('input_u8')!;
const TOL = 1e-3;

for (const device of devices) {
  t.test(`parameter gradients of loss_total match Ultralytics (${device.type})`, async (t) => {
    const model = loadPoseModel(models('yolov8n-pose-seed0.pt'), { device });
    model.train();
    const x = E.tensor(
      Float32Array.from(u8.data as Uint8Array, (v) => v / 255),
      u8.shape,
      { device },
    );
    const preds = model.forward(x) as PoseTrainOutput;
    const batch = {
      batchIdx: head.get('batch_batch_idx').data,
      cls: head.get('batch_cls').data,
      bboxes: head.get('batch_bboxes').data,
      keypoints: head.get('batch_keypoints').data,
    };
    const { loss, items } = await new V8PoseLoss({ strides: model.stride }).forward(preds, batch);
    const refItems = head.get('loss_items').data;
    const it = await items.data();
    const worstItem = Math.max(...[...refItems].map((r, i) => Math.abs(it[i] - r) / Math.abs(r)));
    t.ok(worstItem < TOL, `loss items from the model's own forward: worst rel ${worstItem.toExponential(2)}`);
    loss.backward();

    const params = new Map(model.namedParameters());
    const report: string[] = [];
    let worst = 0,
      compared = 0;
    for (const [key, entry] of grads.tensors) {
      const name = key.slice('grad.'.length);
      const p = params.get(name);
      if (!p?.grad) {
        t.fail(`${name}: no gradient`);
        continue;
      }
      const g = await p.grad.data();
      const sub = g.length <= fullUpTo ? g : g.filter((_, i) => i % stride === 0);
      const rel = relNorm(sub, asF32(entry));
      worst = Math.max(worst, rel);
      compared++;
      if (!(rel < TOL)) t.fail(`${name}: ‖Δ‖/‖ref‖ = ${rel.toExponential(2)}`);
      if (/^model\.(0|2\.m\.0|9)\.|cv\d\.0\.2\./.test(name) && name.endsWith('weight'))
        report.push(`${name} ${rel.toExponential(2)}`);
    }
    t.equal(compared, grads.tensors.size, `${compared} parameters compared, worst ‖Δ‖/‖ref‖ ${worst.toExponential(2)}`);
    t.comment(`${device.type}: ${report.join(', ')}`);
  });
}

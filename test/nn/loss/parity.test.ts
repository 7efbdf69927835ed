// Acceptance: the reference batch of ../shared/reference/parity-n-seed0.safetensors (copied into
// test/fixtures/loss/parity_head.safetensors by gen_loss.py). The train-mode head outputs of
// yolov8n-pose-seed0.pt on two 320×320 images go in as leaves; the five loss items and the total
// must match Ultralytics 8.2.82 within 1e-3 relative, on every device.
import t from 'tap';
import * as E from '../../../engine/index.js';
import { V8PoseLoss } from '../../../nn/loss/v8_pose_loss.js';
import { assertClose, testDevices } from '../../helpers.js';
import { loadFixture, relNorm } from './fixtures.js';

const devices = await testDevices(t);
const fx = loadFixture('parity_head');
const B = 2,
  A = 2100;

async function run(device: E.Device) {
  const leaf = (k: string) => E.tensor(fx.get(k).data, fx.get(k).shape, { device, requiresGrad: true });
  const feats = [0, 1, 2].map((i) => leaf(`train_feat${i}`));
  const kpt = leaf('train_kpt_raw');
  const batch = {
    batchIdx: fx.get('batch_batch_idx').data,
    cls: fx.get('batch_cls').data,
    bboxes: fx.get('batch_bboxes').data,
    keypoints: fx.get('batch_keypoints').data,
  };
  const out = await new V8PoseLoss().forward([feats, kpt], batch);
  out.loss.backward();
  // dense (B, 65, A) and (B, 51, A) gradients
  const gFeat = new Float32Array(B * 65 * A);
  let a0 = 0;
  for (const f of feats) {
    const g = await f.grad!.data(),
      hw = f.shape[2] * f.shape[3];
    for (let b = 0; b < B; b++)
      for (let c = 0; c < 65; c++)
        gFeat.set(g.subarray((b * 65 + c) * hw, (b * 65 + c + 1) * hw), (b * 65 + c) * A + a0);
    a0 += hw;
  }
  return {
    items: await out.items.data(),
    total: await out.loss.item(),
    assignment: out.assignment,
    gFeat,
    gKpt: await kpt.grad!.data(),
  };
}

const results = new Map<string, Awaited<ReturnType<typeof run>>>();
for (const d of devices) results.set(d.type, await run(d));

t.test('loss items and total match Ultralytics within 1e-3 relative', async (t) => {
  const ref = fx.get('loss_items').data,
    refTotal = fx.get('loss_total').data[0];
  const names = ['box', 'pose', 'kobj', 'cls', 'dfl'];
  for (const [dev, r] of results) {
    names.forEach((n, i) => {
      const rel = Math.abs(r.items[i] - ref[i]) / Math.abs(ref[i]);
      t.ok(rel < 1e-3, `${n} ${r.items[i].toFixed(6)} vs ${ref[i].toFixed(6)}: rel ${rel.toExponential(2)} (${dev})`);
    });
    const rel = Math.abs(r.total - refTotal) / refTotal;
    t.ok(rel < 1e-3, `total ${r.total.toFixed(5)} vs ${refTotal.toFixed(5)}: rel ${rel.toExponential(2)} (${dev})`);
  }
});

t.test('the same foreground anchors, boxes and scores as the re-implementation', async (t) => {
  const index = fx.get('fg_index').data,
    gtIdx = fx.get('fg_gt_idx').data;
  for (const [dev, r] of results) {
    const fg = [...r.assignment.fgMask.keys()].filter((o) => r.assignment.fgMask[o]);
    t.same(fg, [...index], `${index.length} foreground anchors (${dev})`);
    t.same(
      fg.map((o) => r.assignment.targetGtIdx[o]),
      [...gtIdx],
      `their boxes (${dev})`,
    );
    assertClose(
      t,
      fg.map((o) => r.assignment.targetScores[o]),
      fx.get('fg_target_scores').data,
      `their target scores (${dev})`,
      1e-4,
      1e-7,
    );
  }
});

t.test('gradients w.r.t. the head outputs: torch re-implementation, and webgpu vs cpu', async (t) => {
  const index = fx.get('fg_index').data,
    nFg = index.length;
  for (const [dev, r] of results) {
    // class channel everywhere; box channels and keypoints only at foreground anchors (zero elsewhere)
    const cls = new Float32Array(B * A),
      box = new Float32Array(nFg * 64),
      kpt = new Float32Array(nFg * 51);
    for (let b = 0; b < B; b++) cls.set(r.gFeat.subarray((b * 65 + 64) * A, (b * 65 + 65) * A), b * A);
    let strayBox = 0,
      strayKpt = 0;
    const isFg = new Set(index);
    for (let o = 0; o < B * A; o++) {
      const b = Math.floor(o / A),
        a = o % A,
        i = isFg.has(o) ? [...index].indexOf(o) : -1;
      for (let c = 0; c < 64; c++) {
        const v = r.gFeat[(b * 65 + c) * A + a];
        if (i >= 0) box[i * 64 + c] = v;
        else strayBox = Math.max(strayBox, Math.abs(v));
      }
      for (let c = 0; c < 51; c++) {
        const v = r.gKpt[(b * 51 + c) * A + a];
        if (i >= 0) kpt[i * 51 + c] = v;
        else strayKpt = Math.max(strayKpt, Math.abs(v));
      }
    }
    t.equal(strayBox + strayKpt, 0, `no gradient outside the foreground (${dev})`);
    for (const [name, got, key] of [
      ['class logits', cls, 'grad_cls'],
      ['box logits (fg)', box, 'grad_box_fg'],
      ['keypoints (fg)', kpt, 'grad_kpt_fg'],
    ] as const) {
      const rel = relNorm(got, fx.get(key).data);
      t.ok(rel < 1e-4, `${name}: ‖Δ‖/‖ref‖ ${rel.toExponential(2)} (${dev})`);
    }
  }
  const cpu = results.get('cpu')!,
    gpu = results.get('webgpu');
  if (gpu) {
    t.ok(
      relNorm(gpu.gFeat, cpu.gFeat) < 1e-5,
      `feats grad webgpu vs cpu: ${relNorm(gpu.gFeat, cpu.gFeat).toExponential(2)}`,
    );
    t.ok(relNorm(gpu.gKpt, cpu.gKpt) < 1e-5, `kpt grad webgpu vs cpu: ${relNorm(gpu.gKpt, cpu.gKpt).toExponential(2)}`);
  }
});

import t from 'tap';
import * as E from '../../../engine/index.js';
import { V8PoseLoss, type BatchTargets } from '../../../nn/loss/v8_pose_loss.js';
import { assertClose, testDevices } from '../../helpers.js';
import { hashed, loadFixture } from './fixtures.js';

const devices = await testDevices(t, { wasm: true });
const fx = loadFixture('loss_small');

// The two synthetic cases of gen_loss.py: s1 = 2 images at 64 px, 2 classes, 17×3 keypoints (OKS
// sigmas); s2 = 2 images at 32 px, 1 class, 5×2 keypoints (uniform sigmas, no visibility loss).
const CASES = {
  s1: { nc: 2, kptShape: [17, 3] as [number, number], imgsz: 64, seed: 11 },
  s2: { nc: 1, kptShape: [5, 2] as [number, number], imgsz: 32, seed: 23 },
};

function heads(c: (typeof CASES)['s1'], device: E.Device, dtype: 'f32' | 'f64' = 'f32') {
  const B = 2,
    no = 64 + c.nc,
    [K, nd] = c.kptShape;
  const sizes = [8, 16, 32].map((s) => c.imgsz / s);
  const feats = sizes.map((h, i) =>
    E.tensor(hashed(B * no * h * h, c.seed + i, 3.0), [B, no, h, h], { device, dtype, requiresGrad: true }),
  );
  const A = sizes.reduce((s, h) => s + h * h, 0);
  const kpt = E.tensor(hashed(B * K * nd * A, c.seed + 7, 1.5), [B, K * nd, A], { device, dtype, requiresGrad: true });
  return { feats, kpt };
}

function batchOf(p: string): BatchTargets {
  const g = (k: string) => fx.get(`${p}.batch_${k}`).data;
  return { batchIdx: g('batch_idx'), cls: g('cls'), bboxes: g('bboxes'), keypoints: g('keypoints') };
}

for (const [p, c] of Object.entries(CASES)) {
  t.test(`${p}: loss items, total and head gradients match the torch re-implementation on every device`, async (t) => {
    for (const device of devices) {
      const { feats, kpt } = heads(c, device);
      const crit = new V8PoseLoss({ nc: c.nc, kptShape: c.kptShape });
      const { loss, items } = await crit.forward([feats, kpt], batchOf(p));
      t.same(loss.shape, [], 'loss is 0-d');
      t.notOk(items.requiresGrad, 'items are detached');
      assertClose(t, await items.data(), fx.get(`${p}.items`).data, `${p} items (${device.type})`, 1e-4, 1e-6);
      assertClose(t, [await loss.item()], fx.get(`${p}.total`).data, `${p} total (${device.type})`, 1e-4, 0);
      loss.backward();
      for (let i = 0; i < 3; i++)
        assertClose(
          t,
          await feats[i].grad!.data(),
          fx.get(`${p}.grad_feat${i}`).data,
          `${p} grad feat${i} (${device.type})`,
          1e-3,
          1e-6,
        );
      assertClose(
        t,
        await kpt.grad!.data(),
        fx.get(`${p}.grad_kpt`).data,
        `${p} grad kpt (${device.type})`,
        1e-3,
        1e-6,
      );
    }
  });
}

// Ultralytics treats the assigner's targets as constants (they depend on the predictions but are
// detached), and CIoU's alpha likewise: the differences are taken with the assignment frozen and
// the box gain at 0 (CIoU's gradient is checked against torch in bbox.test.ts and above).
t.test('f64 central differences agree with backward, targets frozen', async (t) => {
  const c = { nc: 2, kptShape: [4, 3] as [number, number], imgsz: 32, seed: 5 };
  const batch: BatchTargets = {
    batchIdx: [0, 1, 1],
    cls: [1, 0, 1],
    bboxes: [0.5, 0.5, 0.6, 0.7, 0.4, 0.45, 0.5, 0.5, 0.6, 0.55, 0.4, 0.5],
    keypoints: [
      0.4, 0.4, 2, 0.6, 0.5, 1, 0.5, 0.7, 0, 0.45, 0.3, 2, 0.3, 0.4, 2, 0.5, 0.5, 2, 0.4, 0.6, 1, 0.2, 0.3, 0, 0.6, 0.5,
      2, 0.7, 0.6, 2, 0.5, 0.4, 1, 0.55, 0.7, 2,
    ],
  };
  const crit = new V8PoseLoss({ nc: c.nc, kptShape: c.kptShape, hyp: { box: 0 } });
  const { feats, kpt } = heads(c, E.cpu, 'f64');
  const inputs = [...feats, kpt];
  const { loss, assignment } = await crit.forward([feats, kpt], batch);
  t.ok(assignment.fgMask.reduce((s, v) => s + v, 0) >= 4, 'several foreground anchors');
  loss.backward();
  const eps = 1e-6;
  const objective = async () =>
    E.noGrad(async () => (await crit.forward([feats, kpt], batch, { assignment })).loss.item());
  for (const [k, x] of inputs.entries()) {
    const arr = x.storage.array as Float64Array;
    const grad = x.grad!.dataSync();
    // the largest gradients, plus a few others
    const order = [...grad.keys()].sort((a, b) => Math.abs(grad[b]) - Math.abs(grad[a]));
    const picks = [...order.slice(0, 12), ...order.filter((_, i) => i % 97 === 5).slice(0, 4)];
    const numeric: number[] = [],
      analytic: number[] = [];
    for (const i of picks) {
      const v = arr[i];
      arr[i] = v + eps;
      const up = await objective();
      arr[i] = v - eps;
      const down = await objective();
      arr[i] = v;
      numeric.push((up - down) / (2 * eps));
      analytic.push(grad[i]);
    }
    assertClose(t, analytic, numeric, `input ${k}: ${picks.length} elements`, 1e-5, 1e-7);
  }
});

t.test('a batch without objects: only the class loss, with gradient', async (t) => {
  const c = CASES.s2;
  for (const device of devices) {
    const { feats, kpt } = heads(c, device);
    const { loss, items } = await new V8PoseLoss({ nc: 1, kptShape: [5, 2] }).forward([feats, kpt], {
      batchIdx: [],
      cls: [],
      bboxes: [],
      keypoints: [],
    });
    const it = await items.data();
    t.same([it[0], it[1], it[2], it[4]], [0, 0, 0, 0], `box, pose, kobj, dfl are 0 (${device.type})`);
    t.ok(it[3] > 0, 'cls > 0');
    loss.backward();
    t.ok(feats[0].grad && kpt.grad === null, 'gradient reaches the class logits only');
  }
});

t.test('bad input names the loss and the shapes', async (t) => {
  const crit = new V8PoseLoss();
  const { feats, kpt } = heads({ nc: 1, kptShape: [17, 3], imgsz: 32, seed: 1 }, E.cpu);
  await t.rejects(crit.forward([feats.slice(0, 2), kpt], batchOf('s1')), /V8PoseLoss: 2 levels for 3 strides/);
  await t.rejects(
    crit.forward([feats, E.narrow(kpt, 1, 0, 50)], batchOf('s1')),
    /V8PoseLoss: kpt must be \(B, 51, A = 21\)/,
  );
  await t.rejects(
    new V8PoseLoss({ nc: 3 }).forward([feats, kpt], batchOf('s1')),
    /V8PoseLoss: each level must be \(B, 67, h, w\)/,
  );
  await t.rejects(crit.forward([feats, kpt], { ...batchOf('s1'), cls: [0] }), /V8PoseLoss: batch arrays disagree/);
  await t.rejects(
    crit.forward([feats, kpt], {
      batchIdx: [2],
      cls: [0],
      bboxes: [0.5, 0.5, 0.1, 0.1],
      keypoints: new Array(51).fill(0),
    }),
    /V8PoseLoss: batchIdx 2 at row 0 is outside 0..1/,
  );
});

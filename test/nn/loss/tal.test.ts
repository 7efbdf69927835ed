import t from 'tap';
import { TaskAlignedAssigner } from '../../../nn/loss/tal.js';
import { assertClose } from '../../helpers.js';
import { loadFixture } from './fixtures.js';

const fx = loadFixture('assigner');

// Scene a: 3 images with 3, 0 and 4 boxes (padded rows), 2 classes, imgsz 64 (84 anchors: the
// nth_element path of torch.topk); scene b: 1 class, imgsz 160 (525 anchors). Both have anchors
// claimed by two boxes and in-box anchors with a zero metric.
for (const p of ['a', 'b']) {
  t.test(`scene ${p}: the same assignment as Ultralytics' TaskAlignedAssigner`, async (t) => {
    const g = (k: string) => fx.get(`${p}.${k}`);
    const [B, A, nc] = g('pd_scores').shape,
      M = g('gt_bboxes').shape[1];
    const out = new TaskAlignedAssigner(nc).assign({
      B,
      A,
      M,
      nc,
      pdScores: g('pd_scores').data as Float32Array,
      pdBboxes: g('pd_bboxes').data as Float32Array,
      anchors: g('anchors').data as Float32Array,
      gtLabels: g('gt_labels').data as Float32Array,
      gtBboxes: g('gt_bboxes').data as Float32Array,
      maskGt: Uint8Array.from(g('mask_gt').data),
    });
    t.same([...out.fgMask], [...g('fg_mask').data], 'fg_mask');
    t.same([...out.targetGtIdx], [...g('target_gt_idx').data], 'target_gt_idx');
    assertClose(t, out.targetScores, g('target_scores').data, 'target_scores', 1e-5, 1e-7);
    assertClose(t, out.targetBboxes, g('target_bboxes').data, 'target_bboxes', 0, 0);
    t.ok(out.fgMask.reduce((s, v) => s + v, 0) > 10, 'the scene has foreground anchors');
  });
}

t.test('no boxes in the batch: everything is background', async (t) => {
  const out = new TaskAlignedAssigner(1).assign({
    B: 2,
    A: 21,
    M: 0,
    nc: 1,
    pdScores: new Float32Array(42).fill(0.5),
    pdBboxes: new Float32Array(168),
    anchors: new Float32Array(42),
    gtLabels: new Float32Array(0),
    gtBboxes: new Float32Array(0),
    maskGt: new Uint8Array(0),
  });
  t.equal(
    out.fgMask.reduce((s, v) => s + v, 0),
    0,
  );
  t.equal(
    out.targetScores.reduce((s, v) => s + v, 0),
    0,
  );
});

t.test('bad input', async (t) => {
  t.throws(
    () => new TaskAlignedAssigner(1).assign({ B: 1, A: 1, M: 0, nc: 2 } as any),
    /TaskAlignedAssigner: built for 1 classes, got scores with 2/,
  );
});

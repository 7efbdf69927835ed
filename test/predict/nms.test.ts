// torchvision.ops.nms and Ultralytics' non_max_suppression on hand-made cases.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { nms, nonMaxSuppression } from '../../tasks/predict/nms.js';

const f = (a: number[]) => Float32Array.from(a);

t.test('nms: greedy by score, IoU strictly above the threshold suppresses', async (t) => {
  // box 1 overlaps box 0 with IoU 0.5 exactly (inter 50, union 100); box 2 is apart.
  const boxes = f([0, 0, 10, 10, 0, 0, 10, 5, 20, 20, 30, 30]);
  t.same(Array.from(nms(boxes, f([0.9, 0.8, 0.7]), 0.4)), [0, 2], 'IoU 0.5 > 0.4 suppressed');
  t.same(Array.from(nms(boxes, f([0.9, 0.8, 0.7]), 0.5)), [0, 1, 2], 'IoU exactly at the threshold is kept');
  t.same(Array.from(nms(boxes, f([0.7, 0.8, 0.9]), 0.4)), [2, 1], 'kept in score order');
  t.same(
    Array.from(nms(f([0, 0, 1, 1, 0, 0, 1, 1]), f([0.5, 0.5]), 0.5)),
    [0],
    'ties: the earlier box wins (stable sort)',
  );
  t.same(Array.from(nms(f([]), f([]), 0.5)), [], 'empty input');
  t.throws(() => nms(f([0, 0, 1]), f([1]), 0.5), /nms: boxes must be \(n, 4\)/);
});

/** A (1, 4 + nc + nm, A) output from per-anchor rows [cx, cy, w, h, scores..., extras...]. */
function output(rows: number[][]): { data: Float32Array; shape: number[] } {
  const c = rows[0].length,
    a = rows.length;
  const data = new Float32Array(c * a);
  rows.forEach((r, j) => r.forEach((v, i) => (data[i * a + j] = v)));
  return { data, shape: [1, c, a] };
}

t.test('non_max_suppression: conf filter, xyxy, extras carried, max_det', async (t) => {
  const o = output([
    [50, 50, 20, 20, 0.9, 1, 2, 0.5],
    [51, 50, 20, 20, 0.8, 3, 4, 0.6], // overlaps the first: suppressed at iou 0.7
    [150, 50, 20, 20, 0.25, 0, 0, 0], // exactly conf: dropped (strictly greater)
    [250, 50, 20, 20, 0.3, 5, 6, 0.7],
  ]);
  const [d] = nonMaxSuppression(o.data, o.shape, { conf: 0.25, iou: 0.7, nc: 1 });
  t.equal(d.cols, 9, '6 + 3 extra columns');
  t.equal(d.n, 2);
  t.same(
    Array.from(d.data.subarray(0, 9)),
    Array.from(f([40, 40, 60, 60, 0.9, 0, 1, 2, 0.5])),
    'first row: xyxy, conf, cls, extras',
  );
  t.same(d.data[9 + 4], Math.fround(0.3), 'second kept detection');
  const [d1] = nonMaxSuppression(o.data, o.shape, { conf: 0.25, iou: 0.7, nc: 1, maxDet: 1 });
  t.equal(d1.n, 1, 'max_det 1');
  const [d2] = nonMaxSuppression(o.data, o.shape, { conf: 0.25, iou: 0.99, nc: 1 });
  t.equal(d2.n, 3, 'higher iou keeps the overlapping pair');
});

t.test('non_max_suppression: class-aware unless agnostic, classes filter, max_nms', async (t) => {
  const o = output([
    [50, 50, 20, 20, 0.9, 0.1],
    [51, 50, 20, 20, 0.1, 0.8],
  ]);
  t.equal(nonMaxSuppression(o.data, o.shape, { conf: 0.25 })[0].n, 2, 'different classes do not suppress each other');
  t.equal(nonMaxSuppression(o.data, o.shape, { conf: 0.25, agnostic: true })[0].n, 1, 'agnostic: one NMS over all');
  const [c1] = nonMaxSuppression(o.data, o.shape, { conf: 0.25, classes: [1] });
  t.same([c1.n, c1.data[5]], [1, 1], 'classes=[1]');
  const [m] = nonMaxSuppression(o.data, o.shape, { conf: 0.25, maxNms: 1 });
  t.same([m.n, m.data[4]], [1, Math.fround(0.9)], 'max_nms keeps the highest scores');
});

t.test('non_max_suppression: batches and bad arguments', async (t) => {
  const one = output([[50, 50, 20, 20, 0.9]]);
  const two = new Float32Array([...one.data, ...one.data.map((v, i) => (i === 4 ? 0.1 : v))]);
  const out = nonMaxSuppression(two, [2, 5, 1], { conf: 0.25 });
  t.same(
    out.map((d) => d.n),
    [1, 0],
    'per image',
  );
  t.throws(() => nonMaxSuppression(two, [2, 5, 2]), /expected a \(B, 4 \+ nc \+ nm, A\) output, got shape \[2, 5, 2\]/);
  t.throws(() => nonMaxSuppression(one.data, one.shape, { conf: 1.5 }), /invalid confidence threshold 1.5/);
  t.throws(() => nonMaxSuppression(one.data, one.shape, { iou: -1 }), /invalid IoU -1/);
});

t.test("multiLabel: Ultralytics' non_max_suppression(multi_label=True), as val calls it", async (t) => {
  // golden: test/fixtures/predict/gen_nms_multilabel.py (3 classes, 2 extra values, 2 images)
  const g = JSON.parse(readFileSync(new URL('../fixtures/predict/nms_multilabel.json', import.meta.url), 'utf8'));
  const pred = Float32Array.from(g.pred as number[]);
  for (const c of g.cases as { conf: number; iou: number; max_det: number; max_nms: number; out: number[][][] }[]) {
    const got = nonMaxSuppression(pred, g.shape, {
      conf: c.conf,
      iou: c.iou,
      maxDet: c.max_det,
      maxNms: c.max_nms,
      nc: g.nc,
      multiLabel: true,
    });
    c.out.forEach((want, b) => {
      t.equal(
        got[b].n,
        want.length,
        `conf ${c.conf} iou ${c.iou} max_det ${c.max_det} max_nms ${c.max_nms}: image ${b} keeps ${want.length}`,
      );
      t.same(Array.from(got[b].data), want.flat(), 'rows identical (boxes, conf, cls, extras)');
    });
  }
  const single = nonMaxSuppression(pred, g.shape, { conf: 0.001, iou: 0.7, nc: g.nc });
  t.ok(single[0].n < g.cases[0].out[0].length, 'without multiLabel: one class per anchor, fewer rows');
});

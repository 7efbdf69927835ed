// tasks/val/metrics.ts and confusion.ts against numpy goldens re-derived from Ultralytics 8.2
// (test/fixtures/val/gen_metrics_goldens.py).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  apPerClass,
  boxIou,
  computeAp,
  IOU_THRESHOLDS,
  kptIou,
  matchPredictions,
  oksAreas,
  PoseMetrics,
  smooth,
} from '../../tasks/val/metrics.js';
import { ConfusionMatrix } from '../../tasks/val/confusion.js';
import { assertClose } from '../helpers.js';
import { OKS_SIGMA } from '../../nn/loss/keypoint_loss.js';

const G = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/val/metrics_goldens.json'), 'utf8'));
const flat = (a: unknown): number[] => (Array.isArray(a) ? (a.flat(Infinity as 1) as number[]) : [a as number]);

t.test('box IoU', async (t) => {
  const g = G.box_iou;
  assertClose(t, boxIou(flat(g.box1), flat(g.box2)), flat(g.iou), 'box_iou', 1e-12, 1e-12);
});

t.test('OKS with COCO sigmas and with 1/K sigmas', async (t) => {
  for (const name of ['kpt_iou17', 'kpt_iou5']) {
    const g = G[name];
    const k = g.sigma.length;
    assertClose(t, oksAreas(flat(g.gt_boxes)), g.area, `${name} area = 0.53 * box area`, 1e-12, 1e-9);
    assertClose(t, kptIou(flat(g.gt), flat(g.pred), g.area, g.sigma), flat(g.oks), name, 1e-12, 1e-12);
    if (k === 17) assertClose(t, OKS_SIGMA, g.sigma, 'OKS_SIGMA', 0, 1e-15);
  }
});

t.test('match_predictions: greedy, first detection in order takes a label', async (t) => {
  const g = G.match;
  t.same(Array.from(matchPredictions(g.pred_cls, g.true_cls, flat(g.iou))), flat(g.correct));
  t.same(
    Array.from(IOU_THRESHOLDS).map((v) => +v.toFixed(6)),
    [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95],
  );
});

t.test('compute_ap: 101-point interpolation, repeated recall values, edge curves', async (t) => {
  for (const c of G.compute_ap) {
    const { ap } = computeAp(c.recall, c.precision);
    t.ok(Math.abs(ap - c.ap) < 1e-12, `ap ${ap} vs ${c.ap} for ${c.recall.length} points`);
  }
});

t.test('smooth: 0.1 box filter and its argmax', async (t) => {
  const s = smooth(G.smooth.y, 0.1);
  assertClose(t, s, G.smooth.smoothed, 'smoothed', 1e-12, 1e-12);
  let best = 0;
  for (let i = 1; i < s.length; i++) if (s[i] > s[best]) best = i;
  t.equal(best, G.smooth.argmax);
});

t.test('a stream of images: tp per image, ap_per_class, PoseMetrics, fitness, confusion matrix', async (t) => {
  const g = G.stream;
  const tp: number[] = [],
    tpP: number[] = [],
    conf: number[] = [],
    predCls: number[] = [],
    targetCls: number[] = [];
  const cm = new ConfusionMatrix(g.nc, 0.001);
  g.images.forEach((im: any, n: number) => {
    const det: number[][] = im.det;
    const gtBoxes = flat(im.gt_boxes);
    const dBoxes = det.flatMap((d) => d.slice(0, 4));
    const dCls = det.map((d) => d[5]);
    const nd = det.length,
      ng = im.gt_cls.length;
    if (nd && ng) {
      const bt = matchPredictions(dCls, im.gt_cls, boxIou(gtBoxes, dBoxes));
      const oks = kptIou(flat(im.gt_kpts), flat(im.pred_kpts), oksAreas(gtBoxes), OKS_SIGMA);
      const kt = matchPredictions(dCls, im.gt_cls, oks);
      t.same(Array.from(bt), flat(im.tp), `image ${n}: box tp`);
      t.same(Array.from(kt), flat(im.tp_p), `image ${n}: pose tp`);
    }
    if (nd || ng) {
      (tp.push(...flat(im.tp)), tpP.push(...flat(im.tp_p)));
      (conf.push(...det.map((d) => d[4])), predCls.push(...dCls), targetCls.push(...im.gt_cls));
    }
    cm.processBatch(nd ? { boxes: dBoxes, conf: det.map((d) => d[4]), cls: dCls } : null, gtBoxes, im.gt_cls);
  });
  t.same(cm.toRows(), g.confusion, 'confusion matrix');

  const names = Object.fromEntries(Array.from({ length: g.nc }, (_, i) => [i, `c${i}`]));
  const m = new PoseMetrics(names);
  m.process(tp, tpP, conf, predCls, targetCls);
  for (const [name, metric] of [
    ['box', m.box],
    ['pose', m.pose],
  ] as const) {
    const e = g[name];
    const res = apPerClass(name === 'box' ? tp : tpP, conf, predCls, targetCls);
    t.same(res.uniqueClasses, e.unique_classes, `${name} classes`);
    assertClose(t, res.p, e.p, `${name} p`, 1e-12, 1e-12);
    assertClose(t, res.r, e.r, `${name} r`, 1e-12, 1e-12);
    assertClose(t, res.f1, e.f1, `${name} f1`, 1e-12, 1e-12);
    assertClose(t, res.tp, e.tp, `${name} tp`, 0, 0);
    assertClose(t, res.fp, e.fp, `${name} fp`, 0, 0);
    assertClose(
      t,
      res.ap.flatMap((a) => Array.from(a)),
      flat(e.ap),
      `${name} ap`,
      1e-12,
      1e-12,
    );
    const every = (rows: Float64Array[]) => rows.flatMap((r) => Array.from(r).filter((_, i) => i % g.curve_step === 0));
    assertClose(t, every(res.pCurve), flat(e.p_curve), `${name} p curve`, 1e-12, 1e-12);
    assertClose(t, every(res.rCurve), flat(e.r_curve), `${name} r curve`, 1e-12, 1e-12);
    assertClose(t, every(res.f1Curve), flat(e.f1_curve), `${name} f1 curve`, 1e-12, 1e-12);
    assertClose(t, every(res.precValues), flat(e.prec_values), `${name} precision at mAP50`, 1e-12, 1e-12);
    for (const k of ['mp', 'mr', 'map50', 'map75', 'map'] as const)
      assertClose(t, [metric[k]], [e[k]], `${name}.${k}`, 1e-12, 1e-12);
    assertClose(t, metric.maps, e.maps, `${name}.maps`, 1e-12, 1e-12);
    assertClose(t, [metric.fitness()], [e.fitness], `${name} fitness`, 1e-12, 1e-12);
  }
  assertClose(t, [m.fitness], [g.fitness], 'PoseMetrics.fitness = box + pose', 1e-12, 1e-12);
  t.equal(Object.keys(m.resultsDict).length, 9);
});

t.test('degenerate inputs', async (t) => {
  // No predictions at all: zeros, not NaN.
  const m = new PoseMetrics({ 0: 'person' });
  m.process([], [], [], [], [0, 0]);
  t.same(m.meanResults(), [0, 0, 0, 0, 0, 0, 0, 0]);
  // A perfect single detection.
  const r = apPerClass(new Array(10).fill(1), [0.9], [0], [0]);
  // 0.995, not 1: the envelope drops to 0 at recall 1 and trapz over 101 points halves the last step.
  t.ok(Math.abs(r.ap[0][0] - 0.995) < 1e-12, 'AP of a perfect detection is 0.995 as in Ultralytics');
  t.same(Array.from(matchPredictions([], [0], [])), []);
  t.same(Array.from(kptIou([], [], [], OKS_SIGMA)), []);
});

// Validation metrics, number for number with Ultralytics 8.2 (ultralytics/utils/metrics.py and
// BaseValidator.match_predictions): box IoU, keypoint OKS, greedy matching at IoU 0.50:0.05:0.95,
// AP per class by 101-point interpolation, and precision/recall/F1 at the max-F1 confidence.
//
// Plain arrays, float64 throughout (Ultralytics works in float32 torch for IoU/OKS and float64
// numpy afterwards; the difference is far below the printed precision). Matrices are row-major
// flat arrays with their shape in the comment. Pure arithmetic: imports only engine/math (rounding).
// The OKS sigmas live beside the keypoint loss (nn/loss/keypoint_loss.ts), which uses them too.

import { pyRound } from '../../engine/math.js';

/** np.linspace(start, stop, num): i * step + start, the last value set to stop exactly. */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

/**
 * The 10 IoU thresholds 0.50:0.05:0.95. Ultralytics keeps them in a float32 torch tensor
 * (torch.linspace), so 0.55 is compared as 0.550000011920929; fround reproduces that.
 */
export const IOU_THRESHOLDS = Float64Array.from(linspace(0.5, 0.95, 10), Math.fround);

/** Pairwise IoU of xyxy boxes: a (M, 4), b (N, 4) -> (M, N). Ultralytics' box_iou, eps 1e-7. */
export function boxIou(a: ArrayLike<number>, b: ArrayLike<number>, eps = 1e-7): Float64Array {
  const m = a.length / 4,
    n = b.length / 4;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const ax1 = a[4 * i],
      ay1 = a[4 * i + 1],
      ax2 = a[4 * i + 2],
      ay2 = a[4 * i + 3];
    const areaA = (ax2 - ax1) * (ay2 - ay1);
    for (let j = 0; j < n; j++) {
      const bx1 = b[4 * j],
        by1 = b[4 * j + 1],
        bx2 = b[4 * j + 2],
        by2 = b[4 * j + 3];
      const iw = Math.max(Math.min(ax2, bx2) - Math.max(ax1, bx1), 0);
      const ih = Math.max(Math.min(ay2, by2) - Math.max(ay1, by1), 0);
      const inter = iw * ih;
      out[i * n + j] = inter / (areaA + (bx2 - bx1) * (by2 - by1) - inter + eps);
    }
  }
  return out;
}

/** Box area × 0.53 per xyxy box (M, 4) -> (M): the object area Ultralytics' pose OKS uses. */
export function oksAreas(boxes: ArrayLike<number>): Float64Array {
  const m = boxes.length / 4;
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) out[i] = (boxes[4 * i + 2] - boxes[4 * i]) * (boxes[4 * i + 3] - boxes[4 * i + 1]) * 0.53;
  return out;
}

/**
 * Object keypoint similarity, Ultralytics' kpt_iou (the cocoeval form):
 * gt (M, K, 3) with visibility, pred (N, K, predDim) with x, y first, area (M,), sigma (K,) -> (M, N).
 * Only keypoints with gt visibility != 0 count.
 */
export function kptIou(
  gt: ArrayLike<number>,
  pred: ArrayLike<number>,
  area: ArrayLike<number>,
  sigma: ArrayLike<number>,
  predDim = 3,
  eps = 1e-7,
): Float64Array {
  const k = sigma.length,
    m = area.length;
  const n = pred.length / (k * predDim);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    let visible = 0;
    for (let q = 0; q < k; q++) if (gt[(i * k + q) * 3 + 2] !== 0) visible++;
    const a = area[i] + eps;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) {
        if (gt[(i * k + q) * 3 + 2] === 0) continue;
        const dx = gt[(i * k + q) * 3] - pred[(j * k + q) * predDim];
        const dy = gt[(i * k + q) * 3 + 1] - pred[(j * k + q) * predDim + 1];
        const two = 2 * sigma[q];
        s += Math.exp(-((dx * dx + dy * dy) / (two * two * a * 2)));
      }
      out[i * n + j] = s / (visible + eps);
    }
  }
  return out;
}

/**
 * BaseValidator.match_predictions without scipy: which detections are true positives at each
 * threshold. predCls (N), trueCls (M), iou (M, N) -> correct (N, T) as 0/1.
 * Per threshold: candidate (label, detection) pairs with iou >= t and equal class, sorted by iou
 * (descending); each detection keeps its best label; then, in detection order (= confidence order
 * from NMS), each label goes to the first detection that kept it. Ultralytics does not re-sort by
 * iou before the second step; neither do we.
 */
export function matchPredictions(
  predCls: ArrayLike<number>,
  trueCls: ArrayLike<number>,
  iou: ArrayLike<number>,
  thresholds: ArrayLike<number> = IOU_THRESHOLDS,
): Uint8Array {
  const n = predCls.length,
    m = trueCls.length,
    nt = thresholds.length;
  const correct = new Uint8Array(n * nt);
  for (let ti = 0; ti < nt; ti++) {
    const thr = thresholds[ti];
    const pairs: number[] = []; // flat index i * n + j, row-major as np.nonzero gives them
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const v = trueCls[i] === predCls[j] ? iou[i * n + j] : 0;
        if (v >= thr) pairs.push(i * n + j);
      }
    }
    // numpy: argsort()[::-1] = descending, later pairs first among equal ious.
    pairs.sort((p, q) => iou[q] - iou[p] || q - p);
    const labelOfDet = new Int32Array(n).fill(-1);
    for (const p of pairs) {
      const j = p % n;
      if (labelOfDet[j] < 0) labelOfDet[j] = Math.floor(p / n);
    }
    const labelTaken = new Uint8Array(m);
    for (let j = 0; j < n; j++) {
      const i = labelOfDet[j];
      if (i < 0 || labelTaken[i]) continue;
      labelTaken[i] = 1;
      correct[j * nt + ti] = 1;
    }
  }
  return correct;
}

/**
 * np.interp(x, xp, fp, left, right) for non-decreasing xp, with numpy's rules for repeated xp
 * values (the last xp[j] <= x is used) and exact hits.
 */
export function interp(
  x: ArrayLike<number>,
  xp: ArrayLike<number>,
  fp: ArrayLike<number>,
  left?: number,
  right?: number,
): Float64Array {
  const n = xp.length;
  const lval = left ?? fp[0],
    rval = right ?? fp[n - 1];
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v > xp[n - 1]) out[i] = rval;
    else if (v < xp[0]) out[i] = lval;
    else {
      let lo = 0,
        hi = n - 1; // find the last j with xp[j] <= v
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (xp[mid] <= v) lo = mid;
        else hi = mid - 1;
      }
      const j = lo;
      if (j === n - 1 || xp[j] === v) out[i] = fp[j];
      else out[i] = ((fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])) * (v - xp[j]) + fp[j];
    }
  }
  return out;
}

/** np.trapz(y, x). */
export function trapz(y: ArrayLike<number>, x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 1; i < y.length; i++) s += ((x[i] - x[i - 1]) * (y[i] + y[i - 1])) / 2.0;
  return s;
}

const X101 = linspace(0, 1, 101);

/**
 * Ultralytics' compute_ap ('interp'): AP of one recall/precision curve. Sentinels (0, 1) and
 * (1, 0), the precision envelope, then the 101-point interpolated curve integrated by trapz.
 */
export function computeAp(
  recall: ArrayLike<number>,
  precision: ArrayLike<number>,
): { ap: number; mpre: Float64Array; mrec: Float64Array } {
  const n = recall.length;
  const mrec = new Float64Array(n + 2),
    mpre = new Float64Array(n + 2);
  mrec[n + 1] = 1.0;
  mpre[0] = 1.0;
  for (let i = 0; i < n; i++) ((mrec[i + 1] = recall[i]), (mpre[i + 1] = precision[i]));
  for (let i = n; i >= 0; i--) mpre[i] = Math.max(mpre[i], mpre[i + 1]); // envelope
  return { ap: trapz(interp(X101, mrec, mpre), X101), mpre, mrec };
}

/** Ultralytics' smooth(y, f): a box filter over a fraction f of the points, edges padded. */
export function smooth(y: ArrayLike<number>, f = 0.05): Float64Array {
  const n = y.length;
  const nf = Math.floor(pyRound(n * f * 2) / 2) + 1; // odd
  const half = Math.floor(nf / 2);
  const w = 1 / nf;
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let s = 0;
    for (let m = k - half; m <= k + half; m++) s += y[Math.min(Math.max(m, 0), n - 1)] * w;
    out[k] = s;
  }
  return out;
}

function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** What ap_per_class returns, per class that has targets (nc' = uniqueClasses.length). */
export interface ApResult {
  tp: Float64Array; // (nc') true positives at the max-F1 confidence
  fp: Float64Array; // (nc')
  p: Float64Array; // (nc') precision at the max-F1 confidence
  r: Float64Array; // (nc')
  f1: Float64Array; // (nc')
  ap: Float64Array[]; // (nc', T) AP per IoU threshold
  uniqueClasses: number[]; // (nc') target classes, ascending
  px: Float64Array; // (1000) confidence / recall axis
  pCurve: Float64Array[]; // (nc', 1000) precision vs confidence
  rCurve: Float64Array[]; // (nc', 1000)
  f1Curve: Float64Array[]; // (nc', 1000)
  precValues: Float64Array[]; // (classes with predictions, 1000) precision vs recall at IoU 0.5
  precClasses: number[]; // the class of each precValues row
}

/**
 * Ultralytics' ap_per_class. tp (n, T) 0/1, conf (n), predCls (n), targetCls (number of labels).
 * Predictions of classes without labels are ignored; a class without predictions gets zeros.
 */
export function apPerClass(
  tp: ArrayLike<number>,
  conf: ArrayLike<number>,
  predCls: ArrayLike<number>,
  targetCls: ArrayLike<number>,
  eps = 1e-16,
): ApResult {
  const n = conf.length;
  const nt = n ? tp.length / n : IOU_THRESHOLDS.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => conf[b] - conf[a] || a - b);

  const counts = new Map<number, number>();
  for (let i = 0; i < targetCls.length; i++) counts.set(targetCls[i], (counts.get(targetCls[i]) ?? 0) + 1);
  const uniqueClasses = [...counts.keys()].sort((a, b) => a - b);
  const nc = uniqueClasses.length;

  const px = linspace(0, 1, 1000);
  const negPx = px.map((v) => -v);
  const ap = uniqueClasses.map(() => new Float64Array(nt));
  const pCurve: Float64Array[] = uniqueClasses.map(() => new Float64Array(1000));
  const rCurve: Float64Array[] = uniqueClasses.map(() => new Float64Array(1000));
  const precValues: Float64Array[] = [];
  const precClasses: number[] = [];
  uniqueClasses.forEach((c, ci) => {
    const idx = order.filter((i) => predCls[i] === c);
    const nl = counts.get(c)!;
    const np_ = idx.length;
    if (np_ === 0 || nl === 0) return;
    const negConf = Float64Array.from(idx, (i) => -conf[i]);
    const recall = Array.from({ length: nt }, () => new Float64Array(np_));
    const precision = Array.from({ length: nt }, () => new Float64Array(np_));
    for (let j = 0; j < nt; j++) {
      let tpc = 0,
        fpc = 0;
      idx.forEach((i, k) => {
        const t = tp[i * nt + j];
        tpc += t;
        fpc += 1 - t;
        recall[j][k] = tpc / (nl + eps);
        precision[j][k] = tpc / (tpc + fpc);
      });
    }
    rCurve[ci] = interp(negPx, negConf, recall[0], 0);
    pCurve[ci] = interp(negPx, negConf, precision[0], 1);
    for (let j = 0; j < nt; j++) {
      const res = computeAp(recall[j], precision[j]);
      ap[ci][j] = res.ap;
      if (j === 0) (precValues.push(interp(px, res.mrec, res.mpre)), precClasses.push(c));
    }
  });

  const f1Curve = pCurve.map((p, ci) => p.map((pv, k) => (2 * pv * rCurve[ci][k]) / (pv + rCurve[ci][k] + eps)));
  const meanF1 = new Float64Array(1000);
  for (const f of f1Curve) for (let k = 0; k < 1000; k++) meanF1[k] += f[k];
  for (let k = 0; k < 1000; k++) meanF1[k] /= nc;
  const best = argmax(smooth(meanF1, 0.1));
  const p = Float64Array.from(pCurve, (c) => c[best]);
  const r = Float64Array.from(rCurve, (c) => c[best]);
  const f1 = Float64Array.from(f1Curve, (c) => c[best]);
  const tpOut = Float64Array.from(r, (v, i) => pyRound(v * counts.get(uniqueClasses[i])!));
  const fpOut = Float64Array.from(tpOut, (v, i) => pyRound(v / (p[i] + eps) - v));
  return { tp: tpOut, fp: fpOut, p, r, f1, ap, uniqueClasses, px, pCurve, rCurve, f1Curve, precValues, precClasses };
}

const mean = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
};

/** Ultralytics' Metric: one task's (box or pose) results, with the same property names. */
export class Metric {
  p: Float64Array = new Float64Array(0); // (nc') precision per class with labels
  r: Float64Array = new Float64Array(0);
  f1: Float64Array = new Float64Array(0);
  allAp: Float64Array[] = []; // (nc', 10)
  apClassIndex: number[] = []; // (nc') class id of each row above
  nc = 0; // number of classes in the model
  curves: ApResult | null = null;

  /** AP at IoU 0.5 per class with labels. */
  get ap50(): number[] {
    return this.allAp.map((a) => a[0]);
  }
  /** AP at IoU 0.5:0.95 per class with labels. */
  get ap(): number[] {
    return this.allAp.map((a) => mean(a));
  }
  get mp(): number {
    return this.p.length ? mean(this.p) : 0;
  }
  get mr(): number {
    return this.r.length ? mean(this.r) : 0;
  }
  get map50(): number {
    return this.allAp.length ? mean(this.ap50) : 0;
  }
  get map75(): number {
    return this.allAp.length ? mean(this.allAp.map((a) => a[5])) : 0;
  }
  get map(): number {
    if (!this.allAp.length) return 0;
    let s = 0;
    for (const a of this.allAp) for (const v of a) s += v;
    return s / (this.allAp.length * this.allAp[0].length);
  }
  /** mAP50-95 of every class id in [0, nc): the overall mAP for classes without labels. */
  get maps(): number[] {
    const out = new Array<number>(this.nc).fill(this.map);
    const ap = this.ap;
    this.apClassIndex.forEach((c, i) => (out[c] = ap[i]));
    return out;
  }
  /** [P, R, mAP50, mAP50-95] */
  meanResults(): [number, number, number, number] {
    return [this.mp, this.mr, this.map50, this.map];
  }
  /** [P, R, AP50, AP50-95] of the i-th class with labels. */
  classResult(i: number): [number, number, number, number] {
    return [this.p[i], this.r[i], this.ap50[i], this.ap[i]];
  }
  /** 0.1 mAP50 + 0.9 mAP50-95. */
  fitness(): number {
    return 0.1 * this.map50 + 0.9 * this.map;
  }
  update(res: ApResult): void {
    this.p = res.p;
    this.r = res.r;
    this.f1 = res.f1;
    this.allAp = res.ap;
    this.apClassIndex = res.uniqueClasses;
    this.curves = res;
  }
}

/** Ultralytics' PoseMetrics: box and pose Metric side by side. */
export class PoseMetrics {
  box = new Metric();
  pose = new Metric();
  /** Milliseconds per image. */
  speed = { preprocess: 0, inference: 0, loss: 0, postprocess: 0 };

  constructor(public names: Record<number, string> = {}) {}

  /** tp/tpP (n, 10) 0/1 for boxes and keypoints; conf, predCls (n); targetCls (labels). */
  process(
    tp: ArrayLike<number>,
    tpP: ArrayLike<number>,
    conf: ArrayLike<number>,
    predCls: ArrayLike<number>,
    targetCls: ArrayLike<number>,
  ): void {
    const nc = Object.keys(this.names).length;
    this.pose.nc = nc;
    this.pose.update(apPerClass(tpP, conf, predCls, targetCls));
    this.box.nc = nc;
    this.box.update(apPerClass(tp, conf, predCls, targetCls));
  }

  get keys(): string[] {
    return [
      'metrics/precision(B)',
      'metrics/recall(B)',
      'metrics/mAP50(B)',
      'metrics/mAP50-95(B)',
      'metrics/precision(P)',
      'metrics/recall(P)',
      'metrics/mAP50(P)',
      'metrics/mAP50-95(P)',
    ];
  }
  meanResults(): number[] {
    return [...this.box.meanResults(), ...this.pose.meanResults()];
  }
  classResult(i: number): number[] {
    return [...this.box.classResult(i), ...this.pose.classResult(i)];
  }
  /** Per class: box mAP50-95 + pose mAP50-95, as Ultralytics sums them. */
  get maps(): number[] {
    const b = this.box.maps,
      p = this.pose.maps;
    return b.map((v, i) => v + p[i]);
  }
  get fitness(): number {
    return this.pose.fitness() + this.box.fitness();
  }
  get apClassIndex(): number[] {
    return this.box.apClassIndex;
  }
  get resultsDict(): Record<string, number> {
    const out: Record<string, number> = {};
    this.keys.forEach((k, i) => (out[k] = this.meanResults()[i]));
    out.fitness = this.fitness;
    return out;
  }
}

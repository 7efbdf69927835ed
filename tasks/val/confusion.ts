// Ultralytics' detection ConfusionMatrix (ultralytics/utils/metrics.py): (nc + 1) x (nc + 1) counts,
// rows = predicted class, columns = true class, the last row/column = background. Detections
// count above conf 0.25 (Ultralytics swaps val's 0.001 for 0.25) and match labels above IoU 0.45.
import { boxIou } from './metrics.js';

/** N detections: boxes (N, 4) xyxy, conf (N), cls (N). */
export interface DetectionArrays {
  boxes: ArrayLike<number>;
  conf: ArrayLike<number>;
  cls: ArrayLike<number>;
}

export class ConfusionMatrix {
  readonly matrix: Float64Array; // (nc + 1, nc + 1) row-major
  readonly conf: number;

  constructor(
    readonly nc: number,
    conf = 0.25,
    readonly iouThres = 0.45,
  ) {
    this.matrix = new Float64Array((nc + 1) * (nc + 1));
    this.conf = conf === 0.001 ? 0.25 : conf;
  }

  private add(pred: number, truth: number): void {
    this.matrix[pred * (this.nc + 1) + truth] += 1;
  }

  /** One image: detections (or null when there are none), gtBoxes (M, 4) xyxy, gtCls (M). */
  processBatch(det: DetectionArrays | null, gtBoxes: ArrayLike<number>, gtCls: ArrayLike<number>): void {
    const bg = this.nc;
    const keep: number[] = [];
    if (det) for (let i = 0; i < det.conf.length; i++) if (det.conf[i] > this.conf) keep.push(i);
    const detCls = keep.map((i) => Math.trunc(det!.cls[i]));
    if (gtCls.length === 0) {
      for (const c of detCls) this.add(c, bg); // false positives
      return;
    }
    if (!det) {
      for (let i = 0; i < gtCls.length; i++) this.add(bg, Math.trunc(gtCls[i])); // missed
      return;
    }
    const boxes = keep.flatMap((i) => [
      det.boxes[4 * i],
      det.boxes[4 * i + 1],
      det.boxes[4 * i + 2],
      det.boxes[4 * i + 3],
    ]);
    const n = keep.length;
    const iou = boxIou(gtBoxes, boxes); // (M, n)
    // Matches above the threshold; keep the best per detection, then the best per label.
    let matches: [number, number, number][] = [];
    for (let i = 0; i < gtCls.length; i++)
      for (let j = 0; j < n; j++) if (iou[i * n + j] > this.iouThres) matches.push([i, j, iou[i * n + j]]);
    if (matches.length > 1) {
      matches = bestPer(matches, 1);
      matches = bestPer(matches, 0);
    }
    for (let i = 0; i < gtCls.length; i++) {
      const hits = matches.filter((m) => m[0] === i);
      if (hits.length === 1) this.add(detCls[hits[0][1]], Math.trunc(gtCls[i]));
      else this.add(bg, Math.trunc(gtCls[i])); // missed: predicted background
    }
    if (matches.length)
      detCls.forEach((c, j) => {
        if (!matches.some((m) => m[1] === j)) this.add(c, bg); // unmatched detection
      });
  }

  /** True and false positives per class (background row/column dropped). */
  tpFp(): { tp: number[]; fp: number[] } {
    const k = this.nc + 1;
    const tp: number[] = [],
      fp: number[] = [];
    for (let c = 0; c < this.nc; c++) {
      let row = 0;
      for (let t = 0; t < k; t++) row += this.matrix[c * k + t];
      tp.push(this.matrix[c * k + c]);
      fp.push(row - this.matrix[c * k + c]);
    }
    return { tp, fp };
  }

  /** Rows as nested arrays (predicted x true). */
  toRows(): number[][] {
    const k = this.nc + 1;
    return Array.from({ length: k }, (_, r) => Array.from(this.matrix.subarray(r * k, (r + 1) * k)));
  }
}

/**
 * numpy's `m = m[m[:, 2].argsort()[::-1]]; m = m[np.unique(m[:, col], return_index=True)[1]]`:
 * sort by iou descending, keep the first row per value of `col`, ordered by that value.
 */
function bestPer(matches: [number, number, number][], col: 0 | 1): [number, number, number][] {
  const sorted = matches
    .map((m, i) => [m, i] as const)
    .sort((a, b) => b[0][2] - a[0][2] || b[1] - a[1])
    .map((x) => x[0]);
  const first = new Map<number, [number, number, number]>();
  for (const m of sorted) if (!first.has(m[col])) first.set(m[col], m);
  return [...first.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
}

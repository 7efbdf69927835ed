// Non-maximum suppression on the host, after the model output has been read back once.
//
// `nms` is torchvision.ops.nms (its CPU kernel): stable sort by score, descending, then greedy
// suppression of every later box whose IoU with a kept box is > iouThres, computed in float32.
// `nonMaxSuppression` is Ultralytics' ops.non_max_suppression for one model output
// (B, 4 + nc + nm, A): confidence filter, xywh -> xyxy, best class per anchor, at most max_nms
// candidates, class-aware NMS by offsetting boxes by cls * max_wh (unless agnostic), max_det.
// Everything is rounded to float32 at the same steps as torch, so ties and borderline IoUs
// resolve the same way.
//
// Imports nothing: plain Float32Arrays in and out.

const f32 = Math.fround;

/**
 * torchvision.ops.nms. `boxes`: (n, 4) xyxy, row-major; `scores`: (n,).
 * Returns the indices of the kept boxes, in decreasing score order.
 */
export function nms(boxes: Float32Array, scores: Float32Array, iouThres: number): Int32Array {
  const n = scores.length;
  if (boxes.length !== n * 4)
    throw new Error(`nms: boxes must be (n, 4) for n = ${n} scores, got ${boxes.length} values`);
  const area = new Float32Array(n);
  for (let i = 0; i < n; i++)
    area[i] = f32(f32(boxes[4 * i + 2] - boxes[4 * i]) * f32(boxes[4 * i + 3] - boxes[4 * i + 1]));
  // Stable descending sort: equal scores keep their input order, as torch's sort(stable=True).
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  const suppressed = new Uint8Array(n);
  const keep: number[] = [];
  for (let oi = 0; oi < n; oi++) {
    const i = order[oi];
    if (suppressed[i]) continue;
    keep.push(i);
    const ix1 = boxes[4 * i],
      iy1 = boxes[4 * i + 1],
      ix2 = boxes[4 * i + 2],
      iy2 = boxes[4 * i + 3];
    for (let oj = oi + 1; oj < n; oj++) {
      const j = order[oj];
      if (suppressed[j]) continue;
      const w = Math.max(0, f32(Math.min(ix2, boxes[4 * j + 2]) - Math.max(ix1, boxes[4 * j])));
      const h = Math.max(0, f32(Math.min(iy2, boxes[4 * j + 3]) - Math.max(iy1, boxes[4 * j + 1])));
      const inter = f32(w * h);
      const iou = f32(inter / f32(f32(area[i] + area[j]) - inter));
      if (iou > iouThres) suppressed[j] = 1;
    }
  }
  return Int32Array.from(keep);
}

export interface NmsOptions {
  /** Keep candidates whose best class score is > conf. Ultralytics' predict default 0.25. */
  conf?: number;
  /** IoU above which a lower-scored box is suppressed. Predict default 0.7. */
  iou?: number;
  /** Only these class indices (Ultralytics' `classes`). */
  classes?: number[] | null;
  /** One NMS over all classes instead of one per class. */
  agnostic?: boolean;
  /** At most this many detections per image. Default 300. */
  maxDet?: number;
  /** Number of classes; the rest of the rows after 4 + nc are extra values (keypoints). */
  nc?: number;
  /** At most this many candidates enter NMS (highest scores first). Default 30000. */
  maxNms?: number;
  /** Class offset for class-aware NMS: boxes of class c are shifted by c * maxWh pixels. */
  maxWh?: number;
  /**
   * Every (anchor, class) pair scoring > conf is a candidate, not only each anchor's best class
   * (Ultralytics' multi_label, which val uses; it only matters for nc > 1).
   */
  multiLabel?: boolean;
}

/** The detections of one image: `n` rows of `6 + nm` values (x1, y1, x2, y2, conf, cls, extras...). */
export interface Detections {
  n: number;
  /** values per row: 6 + number of extra values (51 for 17 keypoints x (x, y, visibility)) */
  cols: number;
  data: Float32Array;
}

/**
 * Ultralytics' non_max_suppression (multi_label=False as predict uses it, or multiLabel as val does).
 * `pred`: the model output (B, 4 + nc + nm, A), row-major, as read back from the device.
 */
export function nonMaxSuppression(pred: Float32Array, shape: readonly number[], opts: NmsOptions = {}): Detections[] {
  const {
    conf = 0.25,
    iou = 0.7,
    classes = null,
    agnostic = false,
    maxDet = 300,
    maxNms = 30000,
    maxWh = 7680,
    multiLabel = false,
  } = opts;
  if (!(conf >= 0 && conf <= 1))
    throw new Error(`nonMaxSuppression: invalid confidence threshold ${conf}, valid values are between 0.0 and 1.0`);
  if (!(iou >= 0 && iou <= 1))
    throw new Error(`nonMaxSuppression: invalid IoU ${iou}, valid values are between 0.0 and 1.0`);
  if (shape.length !== 3 || pred.length !== shape[0] * shape[1] * shape[2])
    throw new Error(
      `nonMaxSuppression: expected a (B, 4 + nc + nm, A) output, got shape [${shape.join(', ')}] with ${pred.length} values`,
    );
  const [bs, ch, na] = shape;
  const nc = opts.nc || ch - 4;
  const nm = ch - nc - 4;
  if (nc < 1 || nm < 0) throw new Error(`nonMaxSuppression: ${ch} channels cannot hold 4 box values and ${nc} classes`);
  const cols = 6 + nm;
  const out: Detections[] = [];

  for (let b = 0; b < bs; b++) {
    const base = b * ch * na;
    const at = (c: number, a: number) => pred[base + c * na + a];
    // Candidates (anchor, class, score), row-major as torch.where lists them.
    let rows =
      multiLabel && nc > 1 ? everyClassAbove(at, na, nc, conf, classes) : bestClassAbove(at, na, nc, conf, classes);
    if (rows.length > maxNms)
      rows = rows
        .map((r, k) => [r, k] as const)
        .sort((p, q) => q[0].score - p[0].score || p[1] - q[1])
        .slice(0, maxNms)
        .map((p) => p[0]);

    // (n, cols) candidate matrix: xywh -> xyxy in float32 as ops.xywh2xyxy does.
    const n = rows.length;
    const cand = new Float32Array(n * cols);
    const shifted = new Float32Array(n * 4);
    const scores = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const { a, c, score } = rows[k];
      const x = at(0, a),
        y = at(1, a),
        hw = f32(at(2, a) / 2),
        hh = f32(at(3, a) / 2);
      const r = cand.subarray(k * cols, (k + 1) * cols);
      r[0] = x - hw;
      r[1] = y - hh;
      r[2] = x + hw;
      r[3] = y + hh;
      r[4] = score;
      r[5] = c;
      for (let m = 0; m < nm; m++) r[6 + m] = at(4 + nc + m, a);
      const off = agnostic ? 0 : f32(c * maxWh);
      for (let q = 0; q < 4; q++) shifted[k * 4 + q] = r[q] + off;
      scores[k] = r[4];
    }
    const keep = nms(shifted, scores, iou).subarray(0, maxDet);
    const data = new Float32Array(keep.length * cols);
    keep.forEach((k, i) => data.set(cand.subarray(k * cols, (k + 1) * cols), i * cols));
    out.push({ n: keep.length, cols, data });
  }
  return out;
}

interface Candidate {
  a: number; // anchor
  c: number; // class
  score: number;
}
type At = (channel: number, anchor: number) => number;

/** multi_label=False: each anchor's best class, when its score is > conf (Ultralytics filters on amax, then on the max). */
function bestClassAbove(at: At, na: number, nc: number, conf: number, classes: number[] | null): Candidate[] {
  const out: Candidate[] = [];
  for (let a = 0; a < na; a++) {
    let best = at(4, a),
      bestC = 0;
    for (let c = 1; c < nc; c++) {
      const s = at(4 + c, a);
      if (s > best) ((best = s), (bestC = c)); // torch.max: first index among equal maxima
    }
    if (!(best > conf)) continue;
    if (classes && !classes.includes(bestC)) continue;
    out.push({ a, c: bestC, score: best });
  }
  return out;
}

/** multi_label=True: every (anchor, class) pair scoring > conf, in torch.where(cls > conf)'s order. */
function everyClassAbove(at: At, na: number, nc: number, conf: number, classes: number[] | null): Candidate[] {
  const out: Candidate[] = [];
  for (let a = 0; a < na; a++)
    for (let c = 0; c < nc; c++) {
      const score = at(4 + c, a);
      if (score > conf && (!classes || classes.includes(c))) out.push({ a, c, score });
    }
  return out;
}

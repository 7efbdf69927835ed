// "Look inside" the Pose head for the current image: its anchor grid per stride, the DFL
// distribution behind one side of one detected box, and one detection's raw keypoint outputs next
// to the decoded ones. Every number comes from the engine: the head's forward (eval mode: decoded
// predictions plus the raw maps), its `anchors` op, the `softmax` and `dfl` ops, and the
// Predictor's own postprocess (NMS, scale_boxes/scale_coords) for the detections themselves.
// Nothing here re-derives what the engine computes; it reads values and lays them out.
import { dfl, noGrad, softmax, tensor, type Tensor } from '../../../engine/index.js';
import { Predictor } from '../../../tasks/predict/predictor.js';
import { hasLayers } from '../../../tasks/predict/visualize.js';
import { Keypoints, type Results } from '../../../tasks/predict/results.js';
import { scaleCoords } from '../../../tasks/data/letterbox.js';
import type { RgbImage } from '../../../tasks/data/image.js';
import type { PoseEvalOutput } from '../../../nn/head.js';
import type { PoseModel } from '../../../models/yolov8_pose.js';
import type { PredictArgs, YOLO } from '../../../tasks/yolo.js';

export interface AnchorLevel {
  stride: number;
  /** feature-map rows and columns: h * w anchors */
  h: number;
  w: number;
  /** first anchor of this level in the (A) order the head uses */
  start: number;
}

export interface HeadDetection {
  /** index in the predict result (Results.boxes / keypoints) */
  index: number;
  /** the anchor (column of the head's (1, 56, A) output) it came from */
  anchor: number;
  level: number;
  stride: number;
  /** the anchor point in grid units (cell + 0.5), the engine's anchors op */
  point: [number, number];
  conf: number;
  /** the box in the result, original-image pixels */
  xyxy: number[];
}

/** One forward of the head's inputs kept on the host: what the three views read. */
export interface HeadInspection {
  /** the letterboxed input as the model sees it (read back from the input tensor) */
  input: RgbImage;
  inShape: [number, number];
  levels: AnchorLevel[];
  /** anchor points (2, A) in grid units and strides (1, A), from the head's `anchors` op */
  points: Float32Array;
  strides: Float32Array;
  /** (1, 4 + nc + nk, A) decoded predictions */
  pred: Float32Array;
  /** (1, 4 * regMax, A) box logits, the levels' cv2 maps concatenated as the head does */
  boxLogits: Float32Array;
  /** (1, nk, A) raw keypoint outputs */
  rawKpts: Float32Array;
  A: number;
  nc: number;
  regMax: number;
  kptShape: [number, number];
  results: Results;
  detections: HeadDetection[];
}

const SIDES = ['l', 't', 'r', 'b'] as const;
export type Side = (typeof SIDES)[number];

function modelOf(model: YOLO): PoseModel {
  const net = model.model;
  if (!net || !model.device || !hasLayers(net))
    throw new Error('look inside: needs a .pt or .safetensors model (an exported .onnx has no layers to show)');
  return net;
}

/** Runs the model once on the image (eager, eval mode) and keeps what the views need. */
export async function inspectHead(model: YOLO, img: RgbImage, args: PredictArgs): Promise<HeadInspection> {
  const net = modelOf(model);
  const predictor = new Predictor(net, model.device!, { verbose: false, save: false, ...args });
  const head = net.head;
  const x = predictor.preprocess(img);
  const inShape: [number, number] = [x.shape[2], x.shape[3]];
  const owned: Tensor[] = [x];
  try {
    const [pred, [feats, kpt]] = noGrad(() => net.forward(x) as PoseEvalOutput);
    owned.push(pred, ...feats, kpt);
    // the head's anchors for these maps: cached by it, owned by it (not disposed here)
    const { points, strides } = head.anchors(feats);
    const boxParts = await Promise.all(feats.map((f) => f.data() as Promise<Float32Array>));
    const levels: AnchorLevel[] = [];
    let start = 0;
    for (let i = 0; i < feats.length; i++) {
      const [, , h, w] = feats[i].shape;
      levels.push({ stride: head.stride[i], h, w, start });
      start += h * w;
    }
    const A = start,
      R = head.regMax;
    // (1, no, h, w) per level -> (1, 4R, A): the box rows, level after level (Detect's x_cat split)
    const boxLogits = new Float32Array(4 * R * A);
    levels.forEach((l, i) => {
      const hw = l.h * l.w;
      for (let c = 0; c < 4 * R; c++) boxLogits.set(boxParts[i].subarray(c * hw, (c + 1) * hw), c * A + l.start);
    });
    const predData = (await pred.data()) as Float32Array;
    const input = await toRgb(x);
    const insp: HeadInspection = {
      input,
      inShape,
      levels,
      points: (await points.data()) as Float32Array,
      strides: (await strides.data()) as Float32Array,
      pred: predData,
      boxLogits,
      rawKpts: (await kpt.data()) as Float32Array,
      A,
      nc: head.nc,
      regMax: R,
      kptShape: [...head.kptShape] as [number, number],
      results: predictor.postprocess({ data: predData, shape: [...pred.shape] }, inShape, img, 'image0.jpg'),
      detections: [],
    };
    insp.detections = matchAnchors(insp);
    return insp;
  } finally {
    for (const t of owned) t.dispose();
  }
}

/** (1, 3, h, w) in [0, 1] -> RGB bytes (the letterboxed image: toCHWFloat divided by 255). */
async function toRgb(x: Tensor): Promise<RgbImage> {
  const [, , h, w] = x.shape;
  const d = (await x.data()) as Float32Array;
  const data = new Uint8Array(w * h * 3);
  for (let c = 0; c < 3; c++) for (let k = 0; k < w * h; k++) data[k * 3 + c] = Math.round(d[c * w * h + k] * 255);
  return { width: w, height: h, data };
}

/**
 * Which anchor each detection of the result came from: NMS copies the anchor's class score into
 * the box unchanged, so the score picks the anchor (ties, if any, by the box centre).
 */
function matchAnchors(h: HeadInspection): HeadDetection[] {
  const { pred, A, results } = h;
  const at = (c: number, a: number) => pred[c * A + a];
  const out: HeadDetection[] = [];
  const boxes = results.boxes;
  for (let i = 0; i < boxes.length; i++) {
    const conf = boxes.conf[i],
      cls = boxes.cls[i],
      xyxy = boxes.xyxy[i];
    const candidates: number[] = [];
    for (let a = 0; a < A; a++) if (Math.fround(at(4 + cls, a)) === Math.fround(conf)) candidates.push(a);
    if (!candidates.length) throw new Error(`look inside: detection ${i} (conf ${conf}) matches no anchor`);
    // ties: the candidate whose box centre, taken back to the original image, is nearest the result's
    const centre = (a: number) => {
      const c = scaleCoords(h.inShape, Float32Array.of(at(0, a), at(1, a)), results.origShape, { stride: 2 });
      return Math.hypot(c[0] - (xyxy[0] + xyxy[2]) / 2, c[1] - (xyxy[1] + xyxy[3]) / 2);
    };
    const a = candidates.length === 1 ? candidates[0] : candidates.sort((p, q) => centre(p) - centre(q))[0];
    let level = 0;
    while (level + 1 < h.levels.length && a >= h.levels[level + 1].start) level++;
    out.push({
      index: i,
      anchor: a,
      level,
      stride: h.strides[a],
      point: [h.points[a], h.points[A + a]],
      conf,
      xyxy,
    });
  }
  return out;
}

export interface DflView {
  side: Side;
  /** the 16 logits of this side at this anchor, from the head's cv2 map */
  logits: number[];
  /** softmax over the bins: the engine's softmax op */
  probs: number[];
  /** Σ p_i i: the engine's dfl op on these logits (grid units) */
  expected: number;
  /** the same side as the model decoded it: from its (xywh, pixels) output at this anchor, in grid units */
  decoded: number;
  stride: number;
  /** the box edge this side gives, in letterboxed-input pixels */
  edge: number;
}

/** The DFL distribution of one side of one detection's box. */
export async function dflView(model: YOLO, h: HeadInspection, det: HeadDetection, side: Side): Promise<DflView> {
  const s = SIDES.indexOf(side);
  if (s < 0) throw new Error(`look inside: side must be one of ${SIDES.join(', ')}, got ${side}`);
  const R = h.regMax,
    A = h.A,
    a = det.anchor;
  const all = new Float32Array(4 * R); // the anchor's 4 x 16 logits, as the head's dfl sees them
  for (let c = 0; c < 4 * R; c++) all[c] = h.boxLogits[c * A + a];
  const device = model.device!;
  const x = tensor(all, [1, 4 * R, 1], { device });
  const bins = tensor(all.slice(s * R, (s + 1) * R), [R], { device });
  try {
    const [p, e] = noGrad(() => [softmax(bins, 0), dfl(x, R)]);
    const probs = Array.from((await p.data()) as Float32Array);
    const expected = ((await e.data()) as Float32Array)[s];
    p.dispose();
    e.dispose();
    // the decoded box (xywh, pixels) back to this side's distance in grid units: what dist2bbox undid
    const [cx, cy, bw, bh] = [0, 1, 2, 3].map((c) => h.pred[c * A + a]);
    const [ax, ay] = det.point,
      st = det.stride;
    const edgePx = [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2][s];
    const decoded =
      s === 0 ? ax - edgePx / st : s === 1 ? ay - edgePx / st : s === 2 ? edgePx / st - ax : edgePx / st - ay;
    return {
      side,
      logits: Array.from(all.subarray(s * R, (s + 1) * R)),
      probs,
      expected,
      decoded,
      stride: st,
      edge: edgePx,
    };
  } finally {
    x.dispose();
    bins.dispose();
  }
}

export interface KeypointRow {
  /** the head's raw outputs for this keypoint at this anchor */
  raw: [number, number, number];
  /** decoded by the model (kpts_decode): letterboxed-input pixels and sigmoid visibility */
  decoded: [number, number, number];
  /** in the original image, as the predict result holds it (scale_coords; (0, 0) when visibility < 0.5) */
  result: [number, number, number];
}

export interface KeypointView {
  anchor: number;
  point: [number, number];
  stride: number;
  rows: KeypointRow[];
}

/** Raw vs decoded keypoints of one detection, all read from the model's outputs. */
export function keypointView(h: HeadInspection, det: HeadDetection): KeypointView {
  const [K, nd] = h.kptShape;
  const A = h.A,
    a = det.anchor,
    base = 4 + h.nc;
  const dec = new Float32Array(K * nd);
  for (let c = 0; c < K * nd; c++) dec[c] = h.pred[(base + c) * A + a];
  // what Predictor.postprocess does with these values: scale_coords, then Keypoints (hides v < 0.5)
  const scaled = scaleCoords(h.inShape, dec.slice(), h.results.origShape, { stride: nd });
  const res = new Keypoints(scaled, [K, nd], h.results.origShape).data;
  const rows: KeypointRow[] = [];
  for (let k = 0; k < K; k++) {
    const v = (c: number) => (c < nd ? h.rawKpts[(k * nd + c) * A + a] : NaN);
    rows.push({
      raw: [v(0), v(1), v(2)],
      decoded: [dec[k * nd], dec[k * nd + 1], nd === 3 ? dec[k * nd + 2] : NaN],
      result: [res[k * nd], res[k * nd + 1], nd === 3 ? res[k * nd + 2] : NaN],
    });
  }
  return { anchor: a, point: det.point, stride: det.stride, rows };
}

export { SIDES };

// Ultralytics' reference predictions (test/fixtures/predict) and the parity check of issue 4:
// after matching, box IoU >= 0.99, conf within 0.01, keypoints within 1 px, for every detection
// whose conf is at least 0.02 above the threshold (both ways: none missing, none extra).
import { readFileSync } from 'node:fs';
import type { Results } from '../../tasks/predict/results.js';

export const FIXTURES = new URL('../fixtures/predict/', import.meta.url).pathname;
export const CKPT = FIXTURES + 'yolov8n-pose-coco128.pt';

export interface RefImage {
  orig_shape: [number, number];
  boxes_xyxy: number[][];
  conf: number[];
  cls: number[];
  keypoints_xy: number[][][];
  keypoints_conf: number[][];
}
export interface Reference {
  checkpoint: string;
  imgsz: number;
  conf: number;
  iou: number;
  max_det: number;
  images: Record<string, RefImage>;
}

export const reference: Reference = JSON.parse(
  readFileSync(FIXTURES + 'predictions-yolov8n-pose-coco128.json', 'utf8'),
);

export function iou(a: number[], b: number[]): number {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

export interface ParityReport {
  checked: number;
  problems: string[];
  worst: { iou: number; conf: number; kpt: number };
}

/** Compares one image's Results with the reference; problems are human-readable lines. */
export function compareToReference(name: string, r: Results, ref: RefImage, thr: number, margin = 0.02): ParityReport {
  const ours = { xyxy: r.boxes.xyxy, conf: r.boxes.conf, kxy: r.keypoints?.xy ?? [], kconf: r.keypoints?.conf ?? [] };
  const problems: string[] = [];
  const worst = { iou: 1, conf: 0, kpt: 0 };
  const used = new Set<number>();
  let checked = 0;
  if (r.origShape[0] !== ref.orig_shape[0] || r.origShape[1] !== ref.orig_shape[1])
    problems.push(`${name}: orig shape ${r.origShape} vs ${ref.orig_shape}`);
  // Reference detections are sorted by conf, so greedy matching takes the surest first.
  ref.conf.forEach((c, i) => {
    if (c < thr + margin) return;
    checked++;
    let best = -1,
      bestIou = 0;
    ours.xyxy.forEach((b, j) => {
      const v = iou(b, ref.boxes_xyxy[i]);
      if (!used.has(j) && v > bestIou) ((best = j), (bestIou = v));
    });
    if (best < 0 || bestIou < 0.99) {
      problems.push(
        `${name}: reference detection ${i} (conf ${c.toFixed(4)}, box ${ref.boxes_xyxy[i]}) has no match (best IoU ${bestIou.toFixed(4)})`,
      );
      return;
    }
    used.add(best);
    worst.iou = Math.min(worst.iou, bestIou);
    const dc = Math.abs(ours.conf[best] - c);
    worst.conf = Math.max(worst.conf, dc);
    if (dc > 0.01) problems.push(`${name}: detection ${i} conf ${ours.conf[best].toFixed(4)} vs ${c.toFixed(4)}`);
    ref.keypoints_xy[i].forEach((p, k) => {
      const rc = ref.keypoints_conf[i][k];
      const oc = ours.kconf[best]?.[k] ?? 0;
      // Points near the 0.5 visibility cut may be zeroed on one side only; compare the rest.
      if (rc < 0.5 || oc < 0.5) {
        if (Math.abs(rc - 0.5) > 0.01 && rc >= 0.5 !== oc >= 0.5)
          problems.push(`${name}: detection ${i} keypoint ${k} visibility ${oc.toFixed(3)} vs ${rc.toFixed(3)}`);
        return;
      }
      const d = Math.max(Math.abs(ours.kxy[best][k][0] - p[0]), Math.abs(ours.kxy[best][k][1] - p[1]));
      worst.kpt = Math.max(worst.kpt, d);
      if (d > 1) problems.push(`${name}: detection ${i} keypoint ${k} off by ${d.toFixed(3)} px`);
    });
  });
  // Nothing extra: every confident detection of ours must be one of the matched ones (the extra
  // 0.01 is the conf tolerance: a reference just under the margin may come out just over it here).
  ours.conf.forEach((c, j) => {
    if (c >= thr + margin + 0.01 && !used.has(j))
      problems.push(`${name}: extra detection (conf ${c.toFixed(4)}, box ${ours.xyxy[j]})`);
  });
  return { checked, problems, worst };
}

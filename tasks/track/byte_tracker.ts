// ByteTrack and BoT-SORT (ReID-free), as Ultralytics 8.2.82's trackers/byte_tracker.py and bot_sort.py
// run them on one video:
//   1. detections split by score: high (>= track_high_thresh) and low (track_low_thresh < s < high)
//   2. tracked + lost tracks are Kalman-predicted (optionally warped by global motion compensation)
//   3. first association: high detections vs that pool, cost 1 - IoU (times the score with fuse_score),
//      linear assignment with match_thresh; BoT-SORT masks nothing without ReID, as in 8.2.82
//   4. second association: low detections vs the still-unmatched tracked tracks, 1 - IoU, thresh 0.5
//   5. unconfirmed tracks (born last frame) vs the leftover high detections, thresh 0.7; else removed
//   6. leftover high detections with score >= new_track_thresh start tracks (activated at once on frame 1)
//   7. lost tracks older than track_buffer frames are removed; duplicates (IoU > 0.85) keep the older
// Track ids come from one counter shared by every tracker (BaseTrack._count), reset with reset().
//
// Imports: ./kalman, ./lap.

import { KalmanFilterXYAH, KalmanFilterXYWH, type Mat, type Vec } from './kalman.js';
import { linearAssignment } from './lap.js';

/** Ultralytics' tracker yaml keys (cfg/trackers/bytetrack.yaml, botsort.yaml). */
export interface TrackerConfig {
  tracker_type: 'bytetrack' | 'botsort';
  track_high_thresh: number;
  track_low_thresh: number;
  new_track_thresh: number;
  track_buffer: number;
  match_thresh: number;
  fuse_score: boolean;
  gmc_method?: string | null;
  proximity_thresh?: number;
  appearance_thresh?: number;
  with_reid?: boolean;
}

export const enum TrackState {
  New = 0,
  Tracked = 1,
  Lost = 2,
  Removed = 3,
}

let count = 0; // BaseTrack._count
const nextId = () => ++count;
export const resetTrackIds = () => (count = 0);

/** A 2x3 affine warp (row-major [a, b, tx, c, d, ty]) from global motion compensation. */
export type Warp = [number, number, number, number, number, number];

export class STrack {
  trackId = 0;
  isActivated = false;
  state = TrackState.New;
  mean: Vec | null = null;
  cov: Mat | null = null;
  kf: KalmanFilterXYAH | null = null;
  trackletLen = 0;
  startFrame = 0;
  frameId = 0;
  /** Where the track has been: box centres, newest last (for trails). */
  readonly tlwh0: Float64Array;

  constructor(
    xywh: ArrayLike<number>,
    public score: number,
    public cls: number,
    public idx: number,
    readonly xywhState: boolean,
  ) {
    const [x, y, w, h] = [Math.fround(xywh[0]), Math.fround(xywh[1]), Math.fround(xywh[2]), Math.fround(xywh[3])];
    this.tlwh0 = new Float64Array([Math.fround(x - Math.fround(w / 2)), Math.fround(y - Math.fround(h / 2)), w, h]); // float32 as numpy
  }

  /** The state's measurement form: xyah (ByteTrack) or xywh (BoT-SORT). */
  convert(tlwh: ArrayLike<number>): Float64Array {
    const r = Float64Array.from(tlwh);
    r[0] += r[2] / 2;
    r[1] += r[3] / 2;
    if (!this.xywhState) r[2] /= r[3];
    return r;
  }

  get tlwh(): Float64Array {
    if (!this.mean) return this.tlwh0.slice();
    const r = this.mean.slice(0, 4);
    if (!this.xywhState) r[2] *= r[3];
    r[0] -= r[2] / 2;
    r[1] -= r[3] / 2;
    return r;
  }

  get xyxy(): Float64Array {
    const r = this.tlwh;
    r[2] += r[0];
    r[3] += r[1];
    return r;
  }

  activate(kf: KalmanFilterXYAH, frameId: number) {
    this.kf = kf;
    this.trackId = nextId();
    ({ mean: this.mean, cov: this.cov } = kf.initiate(this.convert(this.tlwh0)));
    this.trackletLen = 0;
    this.state = TrackState.Tracked;
    if (frameId === 1) this.isActivated = true;
    this.frameId = this.startFrame = frameId;
  }

  private take(det: STrack) {
    this.score = det.score;
    this.cls = det.cls;
    this.idx = det.idx;
  }

  reActivate(det: STrack, frameId: number) {
    ({ mean: this.mean, cov: this.cov } = this.kf!.update(this.mean!, this.cov!, this.convert(det.tlwh)));
    this.trackletLen = 0;
    this.state = TrackState.Tracked;
    this.isActivated = true;
    this.frameId = frameId;
    this.take(det);
  }

  update(det: STrack, frameId: number) {
    this.frameId = frameId;
    this.trackletLen++;
    ({ mean: this.mean, cov: this.cov } = this.kf!.update(this.mean!, this.cov!, this.convert(det.tlwh)));
    this.state = TrackState.Tracked;
    this.isActivated = true;
    this.take(det);
  }

  /** Predict one frame ahead; a track that is not being tracked stops growing (velocity of h, or w and h, zeroed). */
  predict() {
    const m = this.mean!.slice();
    if (this.state !== TrackState.Tracked) {
      m[7] = 0;
      if (this.xywhState) m[6] = 0;
    }
    ({ mean: this.mean, cov: this.cov } = this.kf!.predict(m, this.cov!));
  }

  /** Applies a camera-motion warp to the state: R on each (x, y) pair of mean and covariance, t on the position. */
  applyWarp(H: Warp) {
    const [a, b, tx, c, d, ty] = H;
    const m = this.mean!,
      P = this.cov!;
    const R8 = new Float64Array(64);
    for (let k = 0; k < 4; k++) {
      R8[2 * k * 8 + 2 * k] = a;
      R8[2 * k * 8 + 2 * k + 1] = b;
      R8[(2 * k + 1) * 8 + 2 * k] = c;
      R8[(2 * k + 1) * 8 + 2 * k + 1] = d;
    }
    const nm = new Float64Array(8);
    for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) nm[i] += R8[i * 8 + j] * m[j];
    nm[0] += tx;
    nm[1] += ty;
    const RP = new Float64Array(64),
      np = new Float64Array(64);
    for (let i = 0; i < 8; i++)
      for (let j = 0; j < 8; j++) for (let k = 0; k < 8; k++) RP[i * 8 + j] += R8[i * 8 + k] * P[k * 8 + j];
    for (let i = 0; i < 8; i++)
      for (let j = 0; j < 8; j++) for (let k = 0; k < 8; k++) np[i * 8 + j] += RP[i * 8 + k] * R8[j * 8 + k];
    this.mean = nm;
    this.cov = np;
  }

  get endFrame() {
    return this.frameId;
  }
}

/** bbox_ioa(iou=True) in float32 as Ultralytics computes it: 1 - IoU for each pair. */
export function iouDistance(a: STrack[], b: STrack[]): number[][] {
  const f = Math.fround;
  const A = a.map((t) => Array.from(t.xyxy, f)),
    B = b.map((t) => Array.from(t.xyxy, f));
  return A.map((p) =>
    B.map((q) => {
      const iw = Math.max(f(Math.min(p[2], q[2]) - Math.max(p[0], q[0])), 0);
      const ih = Math.max(f(Math.min(p[3], q[3]) - Math.max(p[1], q[1])), 0);
      const inter = f(iw * ih);
      const area = f(f(f(f(q[2] - q[0]) * f(q[3] - q[1])) + f(f(p[2] - p[0]) * f(p[3] - p[1]))) - inter);
      return 1 - f(inter / f(area + 1e-7));
    }),
  );
}

/** fuse_score: 1 - IoU * detection score. */
const fuseScore = (d: number[][], dets: STrack[]) => d.map((row) => row.map((c, j) => 1 - (1 - c) * dets[j].score));

/** One tracked object of a frame: box (x1, y1, x2, y2), id, score, class, and the detection's index. */
export interface TrackOutput {
  xyxy: [number, number, number, number];
  id: number;
  score: number;
  cls: number;
  idx: number;
}

export class BYTETracker {
  tracked: STrack[] = [];
  lost: STrack[] = [];
  removed: STrack[] = [];
  frameId = 0;
  readonly maxTimeLost: number;
  kf: KalmanFilterXYAH;
  readonly xywh: boolean;
  /** Global motion compensation for BoT-SORT: returns the warp from the previous frame to this one. */
  gmc: { apply(img: { width: number; height: number; data: Uint8Array }): Warp; reset(): void } | null = null;

  constructor(
    readonly args: TrackerConfig,
    frameRate = 30,
  ) {
    this.maxTimeLost = Math.trunc((frameRate / 30) * args.track_buffer);
    this.xywh = args.tracker_type === 'botsort';
    this.kf = this.makeKf();
    resetTrackIds();
  }

  private makeKf() {
    return this.xywh ? new KalmanFilterXYWH() : new KalmanFilterXYAH();
  }

  reset() {
    this.tracked = [];
    this.lost = [];
    this.removed = [];
    this.frameId = 0;
    this.kf = this.makeKf();
    resetTrackIds();
    this.gmc?.reset();
  }

  private dists(tracks: STrack[], dets: STrack[]) {
    const d = iouDistance(tracks, dets);
    return this.args.fuse_score ? fuseScore(d, dets) : d;
  }

  /**
   * One frame: `xywh` (n, 4) centre boxes, scores, classes of the frame's detections; `img` for motion
   * compensation. Returns the activated tracks, as Ultralytics' update() rows.
   */
  update(
    xywh: number[][],
    scores: number[],
    cls: number[],
    img?: { width: number; height: number; data: Uint8Array },
  ): TrackOutput[] {
    this.frameId++;
    const { track_high_thresh: hi, track_low_thresh: lo } = this.args;
    const activated: STrack[] = [],
      refind: STrack[] = [],
      lostNow: STrack[] = [],
      removedNow: STrack[] = [];
    const make = (keep: (s: number) => boolean) =>
      xywh.flatMap((b, i) => (keep(scores[i]) ? [new STrack(b, scores[i], cls[i], i, this.xywh)] : []));
    let detections = make((s) => s >= hi);
    const second = make((s) => s > lo && s < hi);

    const unconfirmed = this.tracked.filter((t) => !t.isActivated);
    const trackedOk = this.tracked.filter((t) => t.isActivated);
    const pool = joint(trackedOk, this.lost);
    for (const t of pool) t.predict();
    if (this.gmc && img) {
      const H = this.gmc.apply(img);
      for (const t of [...pool, ...unconfirmed]) t.applyWarp(H);
    }

    const claim = (track: STrack, det: STrack) => {
      if (track.state === TrackState.Tracked) {
        track.update(det, this.frameId);
        activated.push(track);
      } else {
        track.reActivate(det, this.frameId);
        refind.push(track);
      }
    };
    const first = linearAssignment(this.dists(pool, detections), this.args.match_thresh, detections.length);
    for (const [it, id] of first.matches) claim(pool[it], detections[id]);

    const rTracked = first.unmatchedA.map((i) => pool[i]).filter((t) => t.state === TrackState.Tracked);
    const secondA = linearAssignment(iouDistance(rTracked, second), 0.5, second.length);
    for (const [it, id] of secondA.matches) claim(rTracked[it], second[id]);
    for (const it of secondA.unmatchedA) {
      const t = rTracked[it];
      if (t.state !== TrackState.Lost) {
        t.state = TrackState.Lost;
        lostNow.push(t);
      }
    }

    detections = first.unmatchedB.map((i) => detections[i]);
    const third = linearAssignment(this.dists(unconfirmed, detections), 0.7, detections.length);
    for (const [it, id] of third.matches) {
      unconfirmed[it].update(detections[id], this.frameId);
      activated.push(unconfirmed[it]);
    }
    for (const it of third.unmatchedA) {
      unconfirmed[it].state = TrackState.Removed;
      removedNow.push(unconfirmed[it]);
    }
    for (const id of third.unmatchedB) {
      const t = detections[id];
      if (t.score < this.args.new_track_thresh) continue;
      t.activate(this.kf, this.frameId);
      activated.push(t);
    }
    for (const t of this.lost)
      if (this.frameId - t.endFrame > this.maxTimeLost) {
        t.state = TrackState.Removed;
        removedNow.push(t);
      }

    this.tracked = joint(
      joint(
        this.tracked.filter((t) => t.state === TrackState.Tracked),
        activated,
      ),
      refind,
    );
    this.lost = sub(this.lost, this.tracked);
    this.lost.push(...lostNow);
    this.lost = sub(this.lost, this.removed);
    [this.tracked, this.lost] = removeDuplicates(this.tracked, this.lost);
    this.removed.push(...removedNow);
    if (this.removed.length > 1000) this.removed = this.removed.slice(-999);
    return this.tracked
      .filter((t) => t.isActivated)
      .map((t) => {
        const b = Array.from(t.xyxy, Math.fround) as [number, number, number, number];
        return { xyxy: b, id: t.trackId, score: t.score, cls: t.cls, idx: t.idx };
      });
  }
}

function joint(a: STrack[], b: STrack[]): STrack[] {
  const seen = new Set(a.map((t) => t.trackId));
  const out = [...a];
  for (const t of b)
    if (!seen.has(t.trackId)) {
      seen.add(t.trackId);
      out.push(t);
    }
  return out;
}

function sub(a: STrack[], b: STrack[]): STrack[] {
  const ids = new Set(b.map((t) => t.trackId));
  return a.filter((t) => !ids.has(t.trackId));
}

function removeDuplicates(a: STrack[], b: STrack[]): [STrack[], STrack[]] {
  const d = iouDistance(a, b);
  const dupA = new Set<number>(),
    dupB = new Set<number>();
  d.forEach((row, p) =>
    row.forEach((v, q) => {
      if (!(v < 0.15)) return;
      const tp = a[p].frameId - a[p].startFrame,
        tq = b[q].frameId - b[q].startFrame;
      if (tp > tq) dupB.add(q);
      else dupA.add(p);
    }),
  );
  return [a.filter((_, i) => !dupA.has(i)), b.filter((_, i) => !dupB.has(i))];
}

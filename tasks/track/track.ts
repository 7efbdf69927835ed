// mode=track: the predictor's results passed through ByteTrack or BoT-SORT frame by frame, as
// Ultralytics' trackers/track.py does: one tracker per run (per stream for several streams), reset when
// a new video starts unless persist, frames without detections skip the update, and each frame's Results
// keeps only the tracked detections, with the tracker's boxes (clipped to the image) and ids.
// Annotated frames also get each track's trail (its last 30 box centres), as in Ultralytics' tracking
// example.
//
// Imports: node, yaml, engine/paths, ../predict (types, Results), ../plot/canvas, ./byte_tracker, ./gmc.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { packageRoot } from '../../engine/paths.js';
import type { RgbImage } from '../data/image.js';
import { drawLine } from '../plot/canvas.js';
import { Boxes, Keypoints, Results } from '../predict/results.js';
import { BYTETracker, type TrackerConfig } from './byte_tracker.js';
import { SparseOptFlowGMC } from './gmc.js';

// data/trackers/ ships with the package (package.json files), so the yaml files are found from dist/ too.
const CFG_DIR = join(packageRoot(), 'data', 'trackers');
const KEYS: Record<string, 'number' | 'boolean' | 'string'> = {
  tracker_type: 'string',
  track_high_thresh: 'number',
  track_low_thresh: 'number',
  new_track_thresh: 'number',
  track_buffer: 'number',
  match_thresh: 'number',
  fuse_score: 'boolean',
  gmc_method: 'string',
  proximity_thresh: 'number',
  appearance_thresh: 'number',
  with_reid: 'boolean',
};
const REQUIRED = [
  'tracker_type',
  'track_high_thresh',
  'track_low_thresh',
  'new_track_thresh',
  'track_buffer',
  'match_thresh',
  'fuse_score',
];

/** Reads a tracker yaml: a path, or bytetrack.yaml / botsort.yaml (bundled in data/trackers/). Errors name the file and key. */
export function loadTrackerConfig(tracker: string): TrackerConfig {
  const file = existsSync(tracker) ? tracker : existsSync(join(CFG_DIR, tracker)) ? join(CFG_DIR, tracker) : null;
  if (!file) throw new Error(`tracker=${tracker}: file not found (bundled: bytetrack.yaml, botsort.yaml)`);
  const raw = (parseYaml(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(raw)) {
    if (!(k in KEYS)) throw new Error(`${file}: unknown key '${k}'; tracker keys are ${Object.keys(KEYS).join(', ')}`);
    if (v !== null && typeof v !== KEYS[k]) throw new Error(`${file}: '${k}: ${v}' must be a ${KEYS[k]}`);
  }
  for (const k of REQUIRED) if (raw[k] == null) throw new Error(`${file}: '${k}' is missing`);
  if (raw.tracker_type !== 'bytetrack' && raw.tracker_type !== 'botsort')
    throw new Error(`${file}: tracker_type '${raw.tracker_type}': only 'bytetrack' and 'botsort' are supported`);
  const gmc = raw.gmc_method;
  if (raw.tracker_type === 'botsort' && gmc != null && gmc !== 'none' && gmc !== 'sparseOptFlow')
    throw new Error(
      `${file}: gmc_method '${gmc}': this toolkit implements sparseOptFlow and none (Ultralytics also has orb, sift, ecc)`,
    );
  return raw as unknown as TrackerConfig;
}

const TRAIL = 30;

/** Tracks the Results of one predict run; `apply` is called on each frame's Results in order. */
export class TrackRunner {
  private trackers = new Map<number, BYTETracker>();
  private lastPath = new Map<number, string>();
  /** Box centres per track id, newest last, for trails. */
  readonly history = new Map<number, [number, number][]>();

  constructor(
    readonly cfg: TrackerConfig,
    readonly persist = false,
  ) {}

  private tracker(slot: number): BYTETracker {
    let t = this.trackers.get(slot);
    if (!t) {
      t = new BYTETracker(this.cfg, 30);
      if (this.cfg.tracker_type === 'botsort' && (this.cfg.gmc_method ?? 'none') === 'sparseOptFlow')
        t.gmc = new SparseOptFlowGMC();
      this.trackers.set(slot, t);
    }
    return t;
  }

  /** One frame's Results -> the tracked Results (ids set); `slot` tells streams apart. */
  apply(r: Results, slot = 0): Results {
    const tracker = this.tracker(slot);
    if (!this.persist && this.lastPath.get(slot) !== r.path) {
      tracker.reset();
      this.history.clear();
      this.lastPath.set(slot, r.path);
    }
    if (!r.boxes.length) return r;
    const out = tracker.update(r.boxes.xywh, r.boxes.conf, r.boxes.cls, r.origImg);
    if (!out.length) return r;
    const [h, w] = r.origShape;
    const data = new Float32Array(out.length * 6);
    const ids = new Int32Array(out.length);
    const kp = r.keypoints;
    const per = kp ? kp.kptShape[0] * kp.kptShape[1] : 0;
    const kdata = new Float32Array(out.length * per);
    out.forEach((o, i) => {
      const [x1, y1, x2, y2] = o.xyxy;
      data.set([clamp(x1, w), clamp(y1, h), clamp(x2, w), clamp(y2, h), o.score, o.cls], i * 6);
      ids[i] = o.id;
      if (kp) kdata.set(kp.data.subarray(o.idx * per, (o.idx + 1) * per), i * per);
      const trail = this.history.get(o.id) ?? [];
      trail.push([(x1 + x2) / 2, (y1 + y2) / 2]);
      if (trail.length > TRAIL) trail.shift();
      this.history.set(o.id, trail);
    });
    const res = new Results(
      r.origImg,
      r.path,
      r.names,
      new Boxes(data, r.origShape, ids),
      kp ? new Keypoints(kdata, kp.kptShape, kp.origShape) : null,
    );
    res.speed = r.speed;
    return res;
  }

  /** Draws the trails of the tracks in `r` onto an annotated frame. */
  drawTrails(img: RgbImage, r: Results): void {
    const lw = Math.max(Math.round(((img.height + img.width) / 2) * 0.003), 2);
    for (const id of r.boxes.ids ?? []) {
      const pts = this.history.get(id) ?? [];
      for (let k = 1; k < pts.length; k++)
        drawLine(img, pts[k - 1][0], pts[k - 1][1], pts[k][0], pts[k][1], [230, 230, 230], lw * 2);
    }
  }
}

const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);

// Regenerates every picture (and the two pasted text blocks) of the walkthrough from the bundled
// checkpoint and images, with the project's own code: letterbox, the model layer by layer, the Pose
// head, NMS, the TaskAlignedAssigner, and the WGSL the engine builds for Tensor.silu.
//
//   npx tsx docs/walkthrough/make_figures.ts [outDir=docs/walkthrough/figures] [imgsz=320] [device=webgpu|cpu]
//
// test/docs/walkthrough.test.ts runs makeFigures() on a small imgsz and checks every file.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { getDevice, noGrad, openWebGPU, releaseDevices, silu, tensor, type Device } from '../../engine/index.js';
import { loadPoseModel } from '../../models/checkpoint.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import type { Pose, PoseEvalOutput } from '../../nn/head.js';
import { TaskAlignedAssigner } from '../../nn/loss/tal.js';
import { encodePNG, readImage, type RgbImage } from '../../tasks/data/image.js';
import { parsePoseLabels } from '../../tasks/data/labels.js';
import { letterbox, toCHWFloat } from '../../tasks/data/letterbox.js';
import { resizeBilinear, resizeNearest } from '../../tasks/data/resize.js';
import { drawKeypoints } from '../../tasks/plot/annotator.js';
import { drawLine, fillCircle, strokeRect } from '../../tasks/plot/canvas.js';
import { nonMaxSuppression } from '../../tasks/predict/nms.js';
import { Predictor } from '../../tasks/predict/predictor.js';
import { featureGrid, layerOutputs, viridis } from '../../tasks/predict/visualize.js';
import { barChart, caption, copy, GREY, hstack, LEVEL_COLORS, scaleTo, vstack, wash } from './figure_kit.js';

const ROOT = new URL('../..', import.meta.url).pathname;
export const CHECKPOINT = join(ROOT, 'test/fixtures/predict/yolov8n-pose-coco128.pt');
export const IMAGE = join(ROOT, 'test/fixtures/predict/images/bus.jpg');
export const TRAIN_IMAGE = join(ROOT, 'data/coco8-pose/images/train/000000000036.jpg');
/** The layers whose feature maps the backbone chapter shows. */
export const FEATURE_STAGES = [0, 2, 4, 9, 15, 21];

export interface FigureOptions {
  outDir: string;
  imgsz?: number;
  device?: Device;
  /** confidence threshold for the post-processing pictures (the bundled checkpoint is weak: 0.1) */
  conf?: number;
  log?: (s: string) => void;
}

/** Writes every figure into outDir; returns the file names written. */
export async function makeFigures(o: FigureOptions): Promise<string[]> {
  const imgsz = o.imgsz ?? 320,
    conf = o.conf ?? 0.1,
    log = o.log ?? console.log;
  const device = o.device ?? (await getDevice());
  mkdirSync(o.outDir, { recursive: true });
  const written: string[] = [];
  const save = (name: string, img: RgbImage) => {
    writeFileSync(join(o.outDir, name), encodePNG(img));
    written.push(name);
    log(`  ${name} ${img.width}x${img.height}`);
  };
  const saveText = (name: string, text: string) => {
    writeFileSync(join(o.outDir, name), text);
    written.push(name);
    log(`  ${name}`);
  };

  // First, before any model code builds (and caches) the elementwise pipelines.
  const wgsl = await siluWgsl();
  const model = loadPoseModel(CHECKPOINT, { device }).eval();
  const predictor = new Predictor(model, device, { imgsz, conf, verbose: false });
  const stride = predictor.stride;

  // ---- 1. the image ----------------------------------------------------------------------------
  const orig = readImage(IMAGE);
  const lbAuto = letterbox(orig, { newShape: predictor.imgsz, auto: true, stride });
  const lbSquare = letterbox(orig, { newShape: predictor.imgsz, auto: false, stride });
  const show = Math.max(lbSquare.image.height, 240);
  save(
    '01_letterbox.png',
    hstack([
      caption(scaleTo(orig, Math.round((orig.width * show) / orig.height)), [
        `bus.jpg  ${orig.width}x${orig.height}`,
        'HWC uint8, RGB',
      ]),
      caption(upscale(lbAuto.image, show / lbAuto.image.height), [
        `predict: ${lbAuto.image.width}x${lbAuto.image.height}`,
        `pad ${lbAuto.pad[0]} px left, ${lbAuto.pad[1]} px top`,
      ]),
      caption(upscale(lbSquare.image, show / lbSquare.image.height), [
        `train/val: ${lbSquare.image.width}x${lbSquare.image.height}`,
        `pad ${lbSquare.pad[0]} px left, ${lbSquare.pad[1]} px top`,
      ]),
    ]),
  );

  // ---- 2. backbone and neck: one forward, layer by layer ----------------------------------------
  const lb = lbAuto.image;
  const [H, W] = [lb.height, lb.width];
  const x = tensor(toCHWFloat(lb), [1, 3, H, W], { device });
  const outs = layerOutputs(model, x);
  const head = model.head as Pose;
  const headFrom = model.layerInfo[model.layerInfo.length - 1].from as number[];
  let pred: Float32Array, predShape: number[], feats: Float32Array[], featShapes: number[][];
  try {
    const table = ['| layer | from | n | module | args | output shape |', '|---|---|---|---|---|---|'];
    for (const { i, type, out } of outs) {
      const li = model.layerInfo[i];
      table.push(
        `| ${i} | ${JSON.stringify(li.from)} | ${li.n} | ${type} | ${JSON.stringify(li.args)} | (${out.shape.join(', ')}) |`,
      );
      if (!FEATURE_STAGES.includes(i)) continue;
      const [, C, h, w] = out.shape;
      const data = (await out.data()) as Float32Array;
      const grid = featureGrid(data, [C, h, w], { n: 16, cell: 96, gap: 3, shrink: true });
      save(
        `02_features_stage${i}_${type}.png`,
        caption(grid, `layer ${i} ${type}: (1, ${C}, ${h}, ${w}), stride ${H / h}; first 16 of ${C} channels`),
      );
    }
    // ---- 3. the head ----------------------------------------------------------------------------
    const [p, [fs, kp]] = noGrad(() => head.forward(headFrom.map((j) => outs[j].out))) as PoseEvalOutput;
    predShape = [...p.shape];
    pred = (await p.data()) as Float32Array;
    featShapes = fs.map((f) => [...f.shape]);
    feats = await Promise.all(fs.map(async (f) => (await f.data()) as Float32Array));
    table.push(
      `| ${model.layerInfo.length - 1} | ${JSON.stringify(headFrom)} | 1 | Pose | [nc=${head.nc}, kpt_shape=${JSON.stringify(head.kptShape)}] | (${predShape.join(', ')}) |`,
    );
    saveText(
      'layers.md',
      `<!-- written by docs/walkthrough/make_figures.ts for bus.jpg at imgsz=${imgsz} -->\n${table.join('\n')}\n`,
    );
    [p, ...fs, kp].forEach((t) => t.dispose());
  } finally {
    outs.forEach((l) => l.out.dispose());
    x.dispose();
  }

  const A = predShape[2],
    nc = head.nc,
    ch = predShape[1];
  const at = (c: number, a: number) => pred[c * A + a];
  const levels = featShapes.map(([, , h, w], k) => ({ h, w, s: head.stride[k] }));
  const levelOf = (a: number) => {
    let base = 0;
    for (const [k, L] of levels.entries()) {
      if (a < base + L.h * L.w) return { k, ...L, y: Math.floor((a - base) / L.w), x: (a - base) % L.w };
      base += L.h * L.w;
    }
    throw new Error(`anchor ${a} out of range`);
  };

  save(
    '03_anchors.png',
    hstack(
      levels.map((L, k) => {
        const img = wash(lb, 0.45);
        for (let gx = 0; gx <= L.w; gx++) drawLine(img, gx * L.s, 0, gx * L.s, H, GREY, 1);
        for (let gy = 0; gy <= L.h; gy++) drawLine(img, 0, gy * L.s, W, gy * L.s, GREY, 1);
        for (let gy = 0; gy < L.h; gy++)
          for (let gx = 0; gx < L.w; gx++)
            fillCircle(img, (gx + 0.5) * L.s, (gy + 0.5) * L.s, Math.max(1.2, L.s / 10), LEVEL_COLORS[k]);
        return caption(img, [`P${k + 3}: stride ${L.s}`, `${L.h}x${L.w} cells (h x w) = ${L.w * L.h} anchors`]);
      }),
    ),
  );

  // The most confident anchor whose box lies inside the image: its 4 x 16-bin box distributions and keypoints.
  let best = -1;
  for (let a = 0; a < A; a++) {
    const inside =
      at(0, a) - at(2, a) / 2 > 0 &&
      at(0, a) + at(2, a) / 2 < W &&
      at(1, a) - at(3, a) / 2 > 0 &&
      at(1, a) + at(3, a) / 2 < H;
    if (inside && (best < 0 || at(4, a) > at(4, best))) best = a;
  }
  if (best < 0) best = 0;
  const L = levelOf(best);
  const f = feats[L.k],
    hw = L.h * L.w,
    cell = L.y * L.w + L.x;
  const sides = ['left', 'top', 'right', 'bottom'];
  const dist = sides.map((_, side) => softmax(Array.from({ length: 16 }, (_, b) => f[(side * 16 + b) * hw + cell])));
  const expect = dist.map((d) => d.reduce((s, v, i) => s + v * i, 0));
  const [cx, cy] = [(L.x + 0.5) * L.s, (L.y + 0.5) * L.s];
  const [bx1, by1, bx2, by2] = [cx - expect[0] * L.s, cy - expect[1] * L.s, cx + expect[2] * L.s, cy + expect[3] * L.s];
  const zoom = zoomView(lb, [bx1, by1, bx2, by2], 360);
  const boxImg = zoom.img;
  const Z = zoom.at;
  strokeRect(boxImg, ...Z(bx1, by1), ...Z(bx2, by2), [255, 56, 56], 2);
  for (const [ex, ey] of [
    [bx1, cy],
    [cx, by1],
    [bx2, cy],
    [cx, by2],
  ])
    drawLine(boxImg, ...Z(cx, cy), ...Z(ex, ey), [255, 255, 0], 2);
  strokeRect(boxImg, ...Z(L.x * L.s, L.y * L.s), ...Z((L.x + 1) * L.s, (L.y + 1) * L.s), LEVEL_COLORS[L.k], 2);
  fillCircle(boxImg, ...Z(cx, cy), 4, LEVEL_COLORS[L.k]);
  const charts = dist.map((d, s) =>
    caption(
      barChart(d, { mark: expect[s], color: LEVEL_COLORS[L.k] }),
      `${sides[s]}: E = ${expect[s].toFixed(2)} x ${L.s} = ${(expect[s] * L.s).toFixed(1)} px`,
      1,
    ),
  );
  save(
    '03_dfl.png',
    hstack([
      caption(boxImg, [`anchor ${best}: P${L.k + 3} cell (${L.x}, ${L.y})`, `score ${at(4, best).toFixed(3)}`]),
      vstack([hstack(charts.slice(0, 2), 6), hstack(charts.slice(2), 6)], 0),
    ]),
  );

  const nk = head.kptShape[0],
    dims = head.kptShape[1];
  const kpts = new Float32Array(nk * dims);
  for (let k = 0; k < nk * dims; k++) kpts[k] = at(4 + nc + k, best);
  const kz = zoomView(lb, [bx1, by1, bx2, by2], 360);
  const kImg = kz.img;
  strokeRect(kImg, ...kz.at(L.x * L.s, L.y * L.s), ...kz.at((L.x + 1) * L.s, (L.y + 1) * L.s), LEVEL_COLORS[L.k], 2);
  const zk = new Float32Array(kpts);
  for (let k = 0; k < nk; k++) [zk[k * dims], zk[k * dims + 1]] = kz.at(kpts[k * dims], kpts[k * dims + 1]);
  for (let k = 0; k < nk; k++)
    if (dims < 3 || kpts[k * dims + 2] >= 0.5)
      drawLine(kImg, ...kz.at(cx, cy), zk[k * dims], zk[k * dims + 1], [255, 255, 255], 1);
  drawKeypoints(kImg, zk, [nk, dims], 4);
  save(
    '03_keypoints.png',
    caption(kImg, [`anchor ${best}: 17 keypoints`, 'x = (2 raw_x + cell_x) * stride', 'white: visibility >= 0.5'], 1.5),
  );

  // ---- 4. post-processing ----------------------------------------------------------------------
  let maxScore = 1e-6;
  for (let a = 0; a < A; a++) maxScore = Math.max(maxScore, at(4, a));
  save(
    '04_scores.png',
    hstack(
      levels.map((lv, k) => {
        const base = levels.slice(0, k).reduce((s, q) => s + q.h * q.w, 0);
        const img = copy(lb);
        for (let y = 0; y < H; y++)
          for (let x2 = 0; x2 < W; x2++) {
            const a =
              base + Math.min(Math.floor(y / lv.s), lv.h - 1) * lv.w + Math.min(Math.floor(x2 / lv.s), lv.w - 1);
            const c = viridis(at(4, a) / maxScore);
            const o = (y * W + x2) * 3;
            for (let q = 0; q < 3; q++) img.data[o + q] = Math.round(img.data[o + q] * 0.3 + c[q] * 0.7);
          }
        let mx = 0;
        for (let a = base; a < base + lv.h * lv.w; a++) mx = Math.max(mx, at(4, a));
        return caption(img, [`P${k + 3} person score`, `max ${mx.toFixed(3)} (colours: 0..${maxScore.toFixed(3)})`]);
      }),
    ),
  );

  const before = copy(lb);
  let nCand = 0;
  for (let a = A - 1; a >= 0; a--) {
    if (!(at(4, a) > conf)) continue;
    nCand++;
    const [bxc, byc, bw, bh] = [at(0, a), at(1, a), at(2, a), at(3, a)];
    strokeRect(before, bxc - bw / 2, byc - bh / 2, bxc + bw / 2, byc + bh / 2, LEVEL_COLORS[levelOf(a).k], 1);
  }
  const [det] = nonMaxSuppression(pred, predShape, { conf, iou: 0.7, nc });
  const after = copy(lb);
  for (let i = 0; i < det.n; i++) {
    const r = det.data.subarray(i * det.cols, (i + 1) * det.cols);
    strokeRect(after, r[0], r[1], r[2], r[3], [255, 56, 56], 2);
  }
  const result = predictor.postprocess({ data: pred, shape: predShape }, [H, W], orig, IMAGE);
  const plotted = result.plot();
  save(
    '04_nms.png',
    hstack([
      caption(before, [`before NMS: ${nCand} anchors`, `with score > ${conf}`]),
      caption(after, [`after NMS (IoU 0.7): ${det.n}`, `boxes, ${ch - 4 - nc} kpt values each`]),
      caption(scaleTo(plotted, Math.round((plotted.width * H) / plotted.height)), [
        `scaled back to ${orig.width}x${orig.height}`,
        'Results.plot()',
      ]),
    ]),
  );

  // ---- 5. training: what the TaskAlignedAssigner picks for one person --------------------------
  save('05_assigner.png', await assignerFigure(model, device, imgsz));

  // ---- 6. the engine: the WGSL that Tensor.silu runs on webgpu ----------------------------------
  if (wgsl) saveText('elementwise.silu.wgsl', wgsl);
  else log('  (no WebGPU adapter: elementwise.silu.wgsl not written)');
  return written;
}

/** The training image at imgsz x imgsz, its first person's box, and the anchors assigned to it. */
async function assignerFigure(model: PoseModel, device: Device, imgsz: number): Promise<RgbImage> {
  const img = readImage(TRAIN_IMAGE);
  const labels = parsePoseLabels(
    readFileSync(TRAIN_IMAGE.replace('/images/', '/labels/').replace(/\.jpg$/, '.txt'), 'utf8'),
    TRAIN_IMAGE,
    [17, 3],
    1,
  );
  const lb = letterbox(img, { newShape: imgsz, auto: false });
  const [H, W] = [lb.image.height, lb.image.width];
  const [r, [pw, ph]] = [lb.ratio[0], lb.pad];
  const gt = Array.from({ length: 4 }, (_, k) => labels.bboxes[k]);
  const g = [
    (gt[0] - gt[2] / 2) * img.width * r + pw,
    (gt[1] - gt[3] / 2) * img.height * r + ph,
    (gt[0] + gt[2] / 2) * img.width * r + pw,
    (gt[1] + gt[3] / 2) * img.height * r + ph,
  ];
  const x = tensor(toCHWFloat(lb.image), [1, 3, H, W], { device });
  const p = model.predict(x);
  const pred = (await p.data()) as Float32Array;
  const A = p.shape[2];
  p.dispose();
  x.dispose();
  const head = model.head;
  const sizes = head.stride.map((s) => [H / s, W / s]);
  const anchors = new Float32Array(A * 2),
    level = new Int32Array(A);
  let a = 0;
  sizes.forEach(([h, w], k) => {
    for (let y = 0; y < h; y++)
      for (let x2 = 0; x2 < w; x2++, a++)
        ((anchors[2 * a] = (x2 + 0.5) * head.stride[k]),
          (anchors[2 * a + 1] = (y + 0.5) * head.stride[k]),
          (level[a] = k));
  });
  const pdBboxes = new Float32Array(A * 4),
    pdScores = new Float32Array(A);
  for (let q = 0; q < A; q++) {
    const [cx, cy, w, h] = [0, 1, 2, 3].map((c) => pred[c * A + q]);
    pdBboxes.set([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], q * 4);
    pdScores[q] = pred[4 * A + q];
  }
  const asg = new TaskAlignedAssigner(1, { topk: 10, alpha: 0.5, beta: 6.0 }).assign({
    B: 1,
    A,
    M: 1,
    nc: 1,
    pdScores,
    pdBboxes,
    anchors,
    gtLabels: new Float32Array([0]),
    gtBboxes: new Float32Array(g),
    maskGt: new Uint8Array([1]),
  });
  const out = wash(lb.image, 0.35);
  strokeRect(out, g[0], g[1], g[2], g[3], [255, 255, 255], 2);
  let inside = 0,
    fg = 0;
  const perLevel = head.stride.map(() => 0);
  for (let q = 0; q < A; q++) {
    const [px, py] = [anchors[2 * q], anchors[2 * q + 1]];
    if (px > g[0] && px < g[2] && py > g[1] && py < g[3]) (inside++, fillCircle(out, px, py, 1.5, GREY));
  }
  for (let q = 0; q < A; q++) {
    if (!asg.fgMask[q]) continue;
    fg++;
    perLevel[level[q]]++;
    const s = head.stride[level[q]];
    strokeRect(
      out,
      anchors[2 * q] - s / 2,
      anchors[2 * q + 1] - s / 2,
      anchors[2 * q] + s / 2,
      anchors[2 * q + 1] + s / 2,
      LEVEL_COLORS[level[q]],
      1,
    );
    fillCircle(out, anchors[2 * q], anchors[2 * q + 1], 3.5, LEVEL_COLORS[level[q]]);
  }
  return caption(upscale(out, 1.5), [
    `${fg} anchors assigned to the person (top-10 by s^0.5 * IoU^6)`,
    `of ${inside} anchor centres inside the box (grey);`,
    perLevel.map((n, k) => `P${k + 3}: ${n}`).join(', '),
  ]);
}

/** Runs Tensor.silu on webgpu with YOLO_DUMP_WGSL set and returns the final shader the engine built, or null without an adapter. */
export async function siluWgsl(): Promise<string | null> {
  const gpu = await openWebGPU();
  if (!gpu) return null;
  const dir = mkdtempSync(join(tmpdir(), 'wgsl-'));
  const prev = process.env.YOLO_DUMP_WGSL;
  process.env.YOLO_DUMP_WGSL = dir;
  try {
    const t = tensor([-2, -1, 0, 1, 2], [5], { device: gpu });
    const y = silu(t);
    await y.data();
    y.dispose();
    t.dispose();
    const file = readdirSync(dir).find((n) => n.startsWith('elementwise.') && n.includes('exp_x'));
    if (!file)
      throw new Error(
        'siluWgsl: no elementwise silu shader was dumped (its pipeline was already built in this process: call siluWgsl first)',
      );
    return readFileSync(join(dir, file), 'utf8');
  } finally {
    if (prev === undefined) delete process.env.YOLO_DUMP_WGSL;
    else process.env.YOLO_DUMP_WGSL = prev;
    rmSync(dir, { recursive: true, force: true });
  }
}

function softmax(v: number[]): number[] {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** A crop of `img` around `box` (x1, y1, x2, y2, grown by 40%), scaled to `height`; `at` maps image pixels into it. */
function zoomView(img: RgbImage, box: number[], height: number) {
  const [w0, h0] = [box[2] - box[0], box[3] - box[1]];
  const x1 = Math.max(0, Math.floor(box[0] - 0.2 * w0)),
    y1 = Math.max(0, Math.floor(box[1] - 0.2 * h0));
  const x2 = Math.min(img.width, Math.ceil(box[2] + 0.2 * w0)),
    y2 = Math.min(img.height, Math.ceil(box[3] + 0.2 * h0));
  const crop = { width: x2 - x1, height: y2 - y1, data: new Uint8Array((x2 - x1) * (y2 - y1) * 3) };
  for (let y = y1; y < y2; y++)
    crop.data.set(img.data.subarray((y * img.width + x1) * 3, (y * img.width + x2) * 3), (y - y1) * crop.width * 3);
  const f = height / crop.height;
  const out = resizeBilinear(crop, Math.round(crop.width * f), height);
  return { img: out, at: (x: number, y: number): [number, number] => [(x - x1) * f, (y - y1) * f] };
}

function upscale(img: RgbImage, f: number): RgbImage {
  return f === 1 ? img : resizeNearest(img, Math.round(img.width * f), Math.round(img.height * f));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [outDir = join(ROOT, 'docs/walkthrough/figures'), imgsz = '320', dev] = process.argv.slice(2);
  const device = await getDevice(dev);
  console.log(`make_figures: ${outDir} at imgsz=${imgsz} on ${device.type}`);
  const t0 = performance.now();
  const files = await makeFigures({ outDir, imgsz: Number(imgsz), device });
  console.log(`${files.length} files in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  releaseDevices();
}

// Pictures for the head views (./head.ts): the anchor grid over the letterboxed input, the DFL
// bins as bars, raw vs decoded keypoints. Canvas 2D only; every value drawn is one the view carries.
import { SKELETON } from '../../../tasks/plot/annotator.js';
import type { DflView, HeadDetection, HeadInspection, KeypointView } from './head.js';
import type { RgbImage } from '../../../tasks/data/image.js';

/** One colour per stride (8, 16, 32, 64). */
export const STRIDE_COLORS = ['#ff3838', '#2c99a8', '#ffb21d', '#8438ff'];

function putImage(ctx: CanvasRenderingContext2D, img: RgbImage, dx = 0, dy = 0) {
  const out = ctx.createImageData(img.width, img.height);
  for (let i = 0, j = 0; j < img.data.length; i += 4, j += 3) {
    out.data[i] = img.data[j];
    out.data[i + 1] = img.data[j + 1];
    out.data[i + 2] = img.data[j + 2];
    out.data[i + 3] = 255;
  }
  ctx.putImageData(out, dx, dy);
}

/**
 * The letterboxed input with every anchor point of the chosen levels (grid units x stride = pixels),
 * one colour per stride; the chosen detection's anchor ringed.
 */
export function drawAnchors(
  canvas: HTMLCanvasElement,
  h: HeadInspection,
  show: boolean[],
  det?: HeadDetection,
  side?: number,
) {
  const { width: W, height: H } = h.input;
  const z = Math.max(1, Math.round(640 / Math.max(W, H))); // small inputs drawn larger
  canvas.width = W * z;
  canvas.height = H * z;
  const ctx = canvas.getContext('2d')!;
  const off = document.createElement('canvas');
  off.width = W;
  off.height = H;
  putImage(off.getContext('2d')!, h.input);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, W * z, H * z);
  ctx.fillStyle = 'rgba(255,255,255,0.35)';
  ctx.fillRect(0, 0, W * z, H * z);
  h.levels.forEach((l, i) => {
    if (!show[i]) return;
    ctx.fillStyle = STRIDE_COLORS[i % STRIDE_COLORS.length];
    const r = (z * Math.min(8, l.stride)) / 4; // a dot per anchor, larger for coarser strides
    for (let a = l.start; a < l.start + l.h * l.w; a++) {
      const x = h.points[a] * h.strides[a] * z,
        y = h.points[h.A + a] * h.strides[a] * z;
      ctx.beginPath();
      ctx.arc(x, y, r * (1 + i * 0.6) * 0.5, 0, 2 * Math.PI);
      ctx.fill();
    }
  });
  if (det) {
    const [px, py] = det.point;
    ctx.strokeStyle = STRIDE_COLORS[det.level % STRIDE_COLORS.length];
    ctx.lineWidth = 2;
    ctx.strokeRect((px - 0.5) * det.stride * z, (py - 0.5) * det.stride * z, det.stride * z, det.stride * z);
    // its box as the model decoded it (xywh at this anchor), and the chosen side's distance from the anchor
    const [cx, cy, bw, bh] = [0, 1, 2, 3].map((c) => h.pred[c * h.A + det.anchor] * z);
    const [x1, y1, x2, y2] = [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2];
    ctx.strokeStyle = '#042a35';
    ctx.lineWidth = 1.5;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    if (side !== undefined) {
      const [ax, ay] = [px * det.stride * z, py * det.stride * z];
      const edge = [
        [x1, y1, x1, y2],
        [x1, y1, x2, y1],
        [x2, y1, x2, y2],
        [x1, y2, x2, y2],
      ][side];
      ctx.strokeStyle = '#ff3838';
      ctx.lineWidth = 3;
      ctx.beginPath();
      ctx.moveTo(edge[0], edge[1]);
      ctx.lineTo(edge[2], edge[3]);
      ctx.stroke();
      ctx.lineWidth = 1.5;
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(ax, ay);
      ctx.lineTo(side % 2 === 0 ? edge[0] : ax, side % 2 === 0 ? ay : edge[1]);
      ctx.stroke();
      ctx.setLineDash([]);
    }
  }
}

/** The 16 bins of one box side: softmax bars, the expected value marked. */
export function drawDfl(canvas: HTMLCanvasElement, v: DflView) {
  const R = v.probs.length;
  const W = 520,
    H = 220,
    left = 40,
    bottom = 30,
    top = 36;
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, H);
  const bw = (W - left - 10) / R;
  const pmax = Math.max(...v.probs, 1e-9);
  const y = (p: number) => H - bottom - ((H - bottom - top) * p) / pmax;
  ctx.font = '11px sans-serif';
  ctx.fillStyle = '#333';
  ctx.textAlign = 'right';
  for (const f of [0, 0.5, 1]) ctx.fillText((pmax * f).toFixed(2), left - 4, y(pmax * f) + 4);
  for (let i = 0; i < R; i++) {
    ctx.fillStyle = '#2c99a8';
    ctx.fillRect(left + i * bw + 2, y(v.probs[i]), bw - 4, H - bottom - y(v.probs[i]));
    ctx.fillStyle = '#333';
    ctx.textAlign = 'center';
    ctx.fillText(String(i), left + (i + 0.5) * bw, H - bottom + 14);
  }
  // the expected value on the same axis as the bins (bin i is centred at i)
  const ex = left + (v.expected + 0.5) * bw;
  ctx.strokeStyle = '#ff3838';
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(ex, top - 8);
  ctx.lineTo(ex, H - bottom);
  ctx.stroke();
  ctx.fillStyle = '#ff3838';
  ctx.textAlign = ex > W / 2 ? 'right' : 'left';
  ctx.fillText(`E[${v.side}] = ${v.expected.toFixed(4)}`, ex + (ex > W / 2 ? -4 : 4), top - 10);
  ctx.fillStyle = '#555';
  ctx.textAlign = 'left';
  ctx.fillText(`softmax over the ${R} bins of side ${v.side} (grid units)`, left, 12);
}

/**
 * The detection's region of the letterboxed input with its anchor cell, the decoded keypoints and
 * their skeleton (visibility as opacity); beside it, the raw (x, y) outputs in their own units, the
 * anchor's cell as the square they are measured from.
 */
export function drawKeypoints(canvas: HTMLCanvasElement, h: HeadInspection, det: HeadDetection, kv: KeypointView) {
  const pts = kv.rows.map((r) => r.decoded);
  const st = det.stride;
  const [ax, ay] = det.point.map((p) => p * st);
  const xs = [...pts.map((p) => p[0]), ax],
    ys = [...pts.map((p) => p[1]), ay];
  const pad = 2 * st;
  const x0 = Math.max(0, Math.min(...xs) - pad),
    y0 = Math.max(0, Math.min(...ys) - pad);
  const x1 = Math.min(h.input.width, Math.max(...xs) + pad),
    y1 = Math.min(h.input.height, Math.max(...ys) + pad);
  const S = 360; // the crop's longer side on the canvas
  const k = S / Math.max(x1 - x0, y1 - y0);
  const cw = Math.round((x1 - x0) * k),
    ch = Math.round((y1 - y0) * k);
  const rawW = 300;
  canvas.width = cw + rawW + 20;
  canvas.height = Math.max(ch, rawW);
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  // the crop, scaled (nearest) through an offscreen canvas
  const off = document.createElement('canvas');
  off.width = h.input.width;
  off.height = h.input.height;
  putImage(off.getContext('2d')!, h.input);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, x0, y0, x1 - x0, y1 - y0, 0, 0, cw, ch);
  const P = (x: number, y: number): [number, number] => [(x - x0) * k, (y - y0) * k];
  // the stride's grid and the anchor cell
  ctx.strokeStyle = 'rgba(255,255,255,0.35)';
  ctx.lineWidth = 1;
  for (let gx = Math.ceil(x0 / st) * st; gx <= x1; gx += st) {
    const [px] = P(gx, 0);
    ctx.beginPath();
    ctx.moveTo(px, 0);
    ctx.lineTo(px, ch);
    ctx.stroke();
  }
  for (let gy = Math.ceil(y0 / st) * st; gy <= y1; gy += st) {
    const [, py] = P(0, gy);
    ctx.beginPath();
    ctx.moveTo(0, py);
    ctx.lineTo(cw, py);
    ctx.stroke();
  }
  const [cx, cy] = P(ax - st / 2, ay - st / 2);
  ctx.strokeStyle = STRIDE_COLORS[det.level % STRIDE_COLORS.length];
  ctx.lineWidth = 2;
  ctx.strokeRect(cx, cy, st * k, st * k);
  const vis = (v: number) => (Number.isNaN(v) ? 1 : Math.max(0.15, v));
  ctx.strokeStyle = 'rgba(255,255,255,0.9)';
  for (const [a, b] of SKELETON) {
    const pa = pts[a - 1],
      pb = pts[b - 1];
    if (!pa || !pb) continue;
    ctx.globalAlpha = Math.min(vis(pa[2]), vis(pb[2]));
    ctx.beginPath();
    ctx.moveTo(...P(pa[0], pa[1]));
    ctx.lineTo(...P(pb[0], pb[1]));
    ctx.stroke();
  }
  pts.forEach((p, i) => {
    ctx.globalAlpha = vis(p[2]);
    ctx.fillStyle = '#3de07a';
    ctx.beginPath();
    ctx.arc(...P(p[0], p[1]), 4, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillStyle = '#fff';
    ctx.font = '10px sans-serif';
    ctx.fillText(String(i), ...P(p[0] + 3 / k, p[1] - 3 / k));
  });
  ctx.globalAlpha = 1;
  // the raw outputs: x, y in the head's own units; decoded = (raw * 2 + anchor - 0.5) * stride
  const ox = cw + 20;
  const raws = kv.rows.map((r) => r.raw);
  const m = Math.max(1, ...raws.flatMap((r) => [Math.abs(r[0]), Math.abs(r[1])])) * 1.15;
  const R = (x: number, y: number): [number, number] => [ox + ((x + m) / (2 * m)) * rawW, ((y + m) / (2 * m)) * rawW];
  ctx.strokeStyle = '#ccc';
  ctx.strokeRect(ox, 0, rawW, rawW);
  ctx.beginPath();
  ctx.moveTo(...R(-m, 0));
  ctx.lineTo(...R(m, 0));
  ctx.moveTo(...R(0, -m));
  ctx.lineTo(...R(0, m));
  ctx.stroke();
  // the anchor's own cell: anchor = cell + 0.5, so 2 * raw + anchor - 0.5 stays in it for raw in [0, 0.5]
  ctx.strokeStyle = STRIDE_COLORS[det.level % STRIDE_COLORS.length];
  const [q0x, q0y] = R(0, 0),
    [q1x, q1y] = R(0.5, 0.5);
  ctx.strokeRect(q0x, q0y, q1x - q0x, q1y - q0y);
  ctx.font = '10px sans-serif';
  raws.forEach((r, i) => {
    ctx.globalAlpha = vis(kv.rows[i].decoded[2]);
    ctx.fillStyle = '#2c99a8';
    ctx.beginPath();
    ctx.arc(...R(r[0], r[1]), 3.5, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillStyle = '#333';
    ctx.fillText(String(i), ...R(r[0] + m * 0.02, r[1] - m * 0.02));
  });
  ctx.globalAlpha = 1;
  ctx.fillStyle = '#555';
  ctx.fillText(`raw (x, y), ±${m.toFixed(1)}`, ox + 4, rawW - 6);
}

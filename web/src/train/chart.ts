// A small line chart on a canvas for the fine-tune view: one x axis (step or epoch), a few named
// series, a y range that grows with the data, the latest values in the legend. Redrawn whole on
// every point (a few hundred points at most); the points are kept so tests can count them.
//
// Imports: nothing.

export interface SeriesSpec {
  name: string;
  color: string;
}

export interface ChartPoint {
  x: number;
  y: number[];
}

const PAD = { left: 44, right: 8, top: 18, bottom: 22 };
const ROW = 13; // a legend row

/** 1, 2, 5 x 10^k: a tick spacing that gives about `n` ticks over `span`. */
function niceStep(span: number, n: number): number {
  const raw = span / Math.max(1, n);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m >= 5 ? 10 : m >= 2 ? 5 : m >= 1 ? 2 : 1) * p;
}

export class LineChart {
  readonly points: ChartPoint[] = [];

  constructor(
    readonly canvas: HTMLCanvasElement,
    readonly title: string,
    readonly series: SeriesSpec[],
    readonly xLabel: string,
  ) {
    this.draw();
  }

  push(x: number, y: number[]): void {
    if (y.length !== this.series.length)
      throw new Error(`${this.title}: expected ${this.series.length} values per point, got ${y.length}`);
    this.points.push({ x, y: [...y] });
    this.draw();
  }

  clear(): void {
    this.points.length = 0;
    this.draw();
  }

  draw(): void {
    const c = this.canvas;
    const dpr = globalThis.devicePixelRatio || 1;
    const w = c.clientWidth || c.width;
    const h = c.clientHeight || c.height;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const ctx = c.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, w, h);
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#333';
    ctx.textBaseline = 'top';
    ctx.fillText(this.title, PAD.left, 4);

    // the legend (name and latest value) above the plot, in as many rows as the width needs
    const pts = this.points.filter((p) => p.y.every(Number.isFinite));
    const last = pts[pts.length - 1];
    const legend: { label: string; color: string; x: number; row: number }[] = [];
    let lx = PAD.left;
    let row = 0;
    this.series.forEach((s, k) => {
      const label = last ? `${s.name} ${last.y[k].toFixed(3)}` : s.name;
      const tw = ctx.measureText(label).width + 16;
      if (lx + tw > w - PAD.right && lx > PAD.left) {
        lx = PAD.left;
        row++;
      }
      legend.push({ label, color: s.color, x: lx, row });
      lx += tw;
    });
    const top = PAD.top + (row + 1) * ROW;

    const xs = pts.map((p) => p.x);
    const ys = pts.flatMap((p) => p.y);
    const x0 = xs.length ? Math.min(...xs) : 0;
    const x1 = xs.length ? Math.max(...xs, x0 + 1) : 1;
    const y0 = Math.min(0, ...ys);
    const y1 = ys.length ? Math.max(...ys) * 1.05 || 1 : 1;
    const pw = w - PAD.left - PAD.right;
    const ph = h - top - PAD.bottom;
    const px = (x: number) => PAD.left + ((x - x0) / (x1 - x0)) * pw;
    const py = (y: number) => top + ph - ((y - y0) / (y1 - y0)) * ph;

    // grid and ticks
    ctx.strokeStyle = '#e4e4e4';
    ctx.fillStyle = '#666';
    ctx.lineWidth = 1;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    const ys_ = niceStep(y1 - y0, 4);
    for (let v = Math.ceil(y0 / ys_) * ys_; v <= y1; v += ys_) {
      ctx.beginPath();
      ctx.moveTo(PAD.left, py(v));
      ctx.lineTo(w - PAD.right, py(v));
      ctx.stroke();
      ctx.fillText(Number(v.toPrecision(3)).toString(), PAD.left - 4, py(v));
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const xs_ = Math.max(1, niceStep(x1 - x0, 5));
    for (let v = Math.ceil(x0 / xs_) * xs_; v <= x1; v += xs_) ctx.fillText(String(v), px(v), h - PAD.bottom + 4);
    ctx.textAlign = 'right';
    ctx.fillText(this.xLabel, w - PAD.right, h - 11);
    ctx.strokeStyle = '#999';
    ctx.strokeRect(PAD.left, top, pw, ph);

    // series: a line, and a dot per point (a lone point is still visible)
    this.series.forEach((s, k) => {
      ctx.strokeStyle = ctx.fillStyle = s.color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      pts.forEach((p, i) => (i ? ctx.lineTo(px(p.x), py(p.y[k])) : ctx.moveTo(px(p.x), py(p.y[k]))));
      ctx.stroke();
      for (const p of pts) {
        ctx.beginPath();
        ctx.arc(px(p.x), py(p.y[k]), 2, 0, 2 * Math.PI);
        ctx.fill();
      }
    });

    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    for (const l of legend) {
      const ly = PAD.top + l.row * ROW;
      ctx.fillStyle = l.color;
      ctx.fillRect(l.x, ly + 4, 8, 3);
      ctx.fillStyle = '#333';
      ctx.fillText(l.label, l.x + 11, ly);
    }
  }
}

// labels.jpg and labels_correlogram.jpg from known labels: bar heights follow the class counts,
// each box lands in its histogram cell, boxes are drawn from the centre with their size.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plotCorrelogram, plotLabels } from '../../tasks/train/label_plots.js';
import type { LabelEntry } from '../../tasks/data/labels.js';

const entry = (rows: number[][]): LabelEntry => ({
  imFile: 'x.jpg',
  shape: [100, 100],
  cls: Float32Array.from(rows.map((r) => r[0])),
  bboxes: Float32Array.from(rows.flatMap((r) => r.slice(1))),
  keypoints: new Float32Array(rows.length * 17 * 3),
});

t.test('labels.jpg: class bars, centred boxes, x-y histogram', async (t) => {
  const rows = [...Array(4)]
    .map(() => [0, 0.25, 0.75, 0.5, 0.25])
    .concat([
      [1, 0.25, 0.75, 0.5, 0.25],
      [1, 0.25, 0.75, 0.5, 0.25],
    ]);
  const dir = mkdtempSync(join(tmpdir(), 'lp-'));
  const img = plotLabels([entry(rows)], { 0: 'person', 1: 'dog', 2: 'cat' }, join(dir, 'labels.jpg'));
  t.same([img.width, img.height], [800, 800]);
  const px = (x: number, y: number) => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];
  const isBar = (p: number[]) => p[0] === 31 && p[1] === 119 && p[2] === 180;
  // panel A spans x 30..392 with three class slots of ~120 px: the bar heights are 4 : 2 : 0
  const height = (cx: number) => {
    let n = 0;
    for (let y = 0; y < 400; y++) if (isBar(px(cx, y))) n++;
    return n;
  };
  const [h0, h1, h2] = [30 + 60, 30 + 181, 30 + 302].map(height);
  t.ok(h0 > 0 && Math.abs(h1 / h0 - 0.5) < 0.02 && h2 === 0, `bars ${h0}, ${h1}, ${h2}`);
  // panel C (0, 400): the 50 x 50 histogram puts all six boxes in the cell of x 0.25, y 0.75 (y up)
  const s = 362,
    cx = Math.round(30 + 0.25 * s + 2),
    cy = Math.round(408 + s - 0.75 * s - 2);
  t.not(px(cx, cy).join(), '255,255,255', 'the (0.25, 0.75) cell is filled');
  t.same(px(30 + Math.round(0.75 * s), 408 + Math.round(0.75 * s)), [255, 255, 255], 'an empty cell stays white');
  // panel B (400, 0): the 0.5 x 0.25 boxes drawn from the centre: outline at x = centre +- 0.25 * s
  const bx = 430 + s / 2 + 0.25 * s,
    by = 8 + s / 2;
  t.not(px(Math.round(bx), Math.round(by)).join(), '255,255,255', 'box outline at its right edge');
  const c = plotCorrelogram([entry(rows)], join(dir, 'labels_correlogram.jpg'));
  t.same([c.width, c.height], [800, 800]);
});

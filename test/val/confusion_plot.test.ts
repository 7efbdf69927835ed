// The confusion-matrix plots carry a colour bar (seaborn's heatmap beside the matrix): a vertical
// strip from the darkest blue at the top (vmax) to white at the bottom (0).
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfusionMatrix } from '../../tasks/val/confusion.js';
import { plotConfusion } from '../../tasks/val/plots.js';
import { readImage } from '../../tasks/data/image.js';

t.test('confusion_matrix.png and _normalized.png have a colour bar', async (t) => {
  const cm = new ConfusionMatrix(2, 0.25);
  [5, 1, 0, 2, 7, 1, 0, 3, 0].forEach((v, i) => (cm.matrix[i] = v));
  const dir = mkdtempSync(join(tmpdir(), 'cm-'));
  plotConfusion(cm, { 0: 'person', 1: 'dog' }, dir);
  for (const f of ['confusion_matrix.png', 'confusion_matrix_normalized.png']) {
    const img = readImage(join(dir, f));
    const lum = (x: number, y: number) => img.data[(y * img.width + x) * 3] + img.data[(y * img.width + x) * 3 + 1] + img.data[(y * img.width + x) * 3 + 2];
    let best = 0, bestX = -1;
    for (let x = 0; x < img.width; x++) {
      let steps = 0;
      for (let y = 61; y < img.height; y++) if (lum(x, y) > lum(x, y - 1) && lum(x, y) < 765) steps++;
      if (steps > best) (best = steps), (bestX = x);
    }
    t.ok(best > 40, `${f}: a column (x=${bestX}) lightening down over ${best} rows`);
  }
});

// Val batches: Ultralytics' rectangular batches (goldens from set_rectangle in
// test/fixtures/val/gen_metrics_goldens.py), and one batch of PoseDataset's val mode with its labels
// taken back to original pixels by tasks/val/prepare_batch.ts (_prepare_batch).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDatasetYaml } from '../../tasks/data/dataset.js';
import { PoseDataset, rectBatches } from '../../tasks/data/loader.js';
import { prepareBatch } from '../../tasks/val/prepare_batch.js';

const G = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/val/metrics_goldens.json'), 'utf8'));
const FIX = join(import.meta.dirname, '../fixtures/val/coco8-pose');

t.test('rect batches: order by aspect ratio, ceil(shape * imgsz / 32 + 0.5) * 32', async (t) => {
  for (const g of G.rect) {
    const plan = rectBatches(g.shapes, g.batch, g.imgsz);
    t.same(plan.order, g.order, `order, ${g.shapes.length} images, batch ${g.batch}`);
    t.same(plan.shapes, g.batch_shapes, `shapes at imgsz ${g.imgsz}`);
    t.same(
      plan.batches.flat(),
      g.order.map((_: number, i: number) => i),
    );
  }
});

t.test('one batch of coco8-pose val at imgsz 320: 352x352 letterbox, labels back in original pixels', async (t) => {
  const cfg = loadDatasetYaml(join(FIX, 'coco8-pose.yaml'));
  const quiet = { labelCache: false, log: () => {}, progress: { live: false, write: () => {} } };
  const ds = PoseDataset.fromConfig(cfg, 'val', { ...quiet, imgsz: 320, batch: 16, augment: false });
  const [batch] = [...ds.batches()];
  const images = prepareBatch(batch, cfg.kptShape[0]);
  t.same(batch.shape.slice(2), [352, 352]);
  t.equal(batch.images.length, 4 * 3 * 352 * 352);
  for (const im of images) {
    const [h0, w0] = im.ori;
    const s = ds.labels.find((x) => x.imFile === im.imFile)!;
    // Long side 320, so the gain is 320 / max side; padding centres the image in 352 x 352.
    const gain = im.ratioPad.ratio[0];
    t.ok(Math.abs(gain - 320 / Math.max(h0, w0)) < 0.01, `${im.imFile}: gain ${gain}`);
    const [left, top] = im.ratioPad.pad;
    t.ok(left >= 16 && top >= 16, 'padded on both sides');
    // Native boxes equal the normalized labels times the original size, to a fraction of a pixel
    // (the resize rounds each side up to whole pixels).
    let worst = 0;
    for (let i = 0; i < im.cls.length; i++) {
      const [cx, cy, w, h] = s.bboxes.subarray(i * 4, i * 4 + 4);
      const want = [
        Math.max((cx - w / 2) * w0, 0),
        Math.max((cy - h / 2) * h0, 0),
        Math.min((cx + w / 2) * w0, w0),
        Math.min((cy + h / 2) * h0, h0),
      ];
      for (let q = 0; q < 4; q++) worst = Math.max(worst, Math.abs(im.boxes[i * 4 + q] - want[q]));
      for (let k = 0; k < 17; k++) {
        if (!s.keypoints[(i * 17 + k) * 3 + 2]) continue;
        worst = Math.max(worst, Math.abs(im.kpts[(i * 17 + k) * 3] - s.keypoints[(i * 17 + k) * 3] * w0));
      }
    }
    t.ok(worst < 1.5, `${im.imFile}: labels within ${worst.toFixed(3)} px of normalized x original size`);
  }
  // Pixels: the padding is 114 gray, the input is /255.
  t.equal(batch.images[0], Math.fround(114 / 255));
});

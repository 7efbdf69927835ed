// save_hybrid and single_cls in val against Ultralytics 8.2.82: non_max_suppression(labels=...,
// agnostic=..., multi_label=True) as PoseValidator.postprocess calls it (goldens from
// test/fixtures/longtail/gen_options_goldens.py), then the whole val on coco8-pose.
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appendHybridLabels } from '../../tasks/val/hybrid.js';
import { nonMaxSuppression } from '../../tasks/predict/nms.js';
import { YOLO } from '../../tasks/yolo.js';

const G = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/longtail/options_goldens.json', import.meta.url)), 'utf8'),
);
const YAML = fileURLToPath(new URL('../fixtures/val/coco8-pose/coco8-pose.yaml', import.meta.url));

t.test('labels join the candidates as Ultralytics does; agnostic NMS for single_cls', async (t) => {
  for (const c of G.nms) {
    let pred = Float32Array.from(c.pred),
      shape: number[] = c.shape;
    if (c.labels.length) {
      const images = c.labels.map((lb: number[][]) => ({
        cls: Float32Array.from(lb.map((r) => r[0])),
        lbBoxes: Float32Array.from(lb.flatMap(([, x, y, w, h]) => [x - w / 2, y - h / 2, x + w / 2, y + h / 2])),
      }));
      ({ pred, shape } = appendHybridLabels(pred, shape, images, c.nc));
    }
    const dets = nonMaxSuppression(pred, shape, {
      conf: 0.25,
      iou: 0.5,
      maxDet: 300,
      nc: c.nc,
      agnostic: c.agnostic,
      multiLabel: true,
    });
    dets.forEach((d, b) => {
      const want: number[][] = c.out[b];
      t.equal(d.n, want.length, `nc=${c.nc} agnostic=${c.agnostic} hybrid=${!!c.labels.length} image ${b}: detections`);
      let maxDiff = 0;
      for (let i = 0; i < Math.min(d.n, want.length); i++)
        for (let k = 0; k < d.cols; k++) maxDiff = Math.max(maxDiff, Math.abs(d.data[i * d.cols + k] - want[i][k]));
      t.ok(maxDiff < 1e-4, `same rows in the same order (max |diff| ${maxDiff})`);
      if (c.labels.length)
        t.equal(
          [...Array(d.n).keys()].filter((i) => d.data[i * d.cols + 4] === 1).length,
          want.filter((r) => r[4] === 1).length,
          'same label rows kept',
        );
    });
  }
});

t.test(
  'val with save_hybrid + save_txt writes the ground truth as confidence-1 labels; single_cls is accepted',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'hybrid-'));
    const logs: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => void logs.push(a.join(' '));
    try {
      await new YOLO('yolov8n-pose.yaml').val({
        data: YAML,
        imgsz: 64,
        device: 'cpu',
        plots: false,
        save_hybrid: true,
        single_cls: true,
        save_txt: true,
        save_conf: true,
        project: dir,
        name: 'v',
      });
    } finally {
      console.log = log;
    }
    t.match(logs.join('\n'), /'save_hybrid=True' will cause incorrect mAP/);
    const labels = join(dir, 'v', 'labels');
    const files = readdirSync(labels);
    t.ok(files.length > 0);
    for (const f of files) {
      const gt = readFileSync(
        fileURLToPath(new URL(`../fixtures/val/coco8-pose/labels/val/${f}`, import.meta.url)),
        'utf8',
      )
        .trim()
        .split('\n')
        .map((l) => l.split(' ').map(Number));
      const rows = readFileSync(join(labels, f), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' ').map(Number));
      const ones = rows.filter((r) => r[r.length - 1] === 1);
      t.ok(
        ones.length >= 1 && ones.length <= gt.length,
        `${f}: ${ones.length} of ${gt.length} labels kept as detections`,
      );
      for (const r of ones) {
        t.equal(r[0], 0, 'single_cls: class 0');
        t.ok(
          gt.some((g) => [1, 2, 3, 4].every((k) => Math.abs(g[k] - r[k]) < 0.02)),
          `${f}: a confidence-1 box is a ground-truth box`,
        );
      }
    }
  },
);

// What val shows: the confusion-matrix colour bar (seaborn's heatmap beside the matrix: a vertical
// strip from darkest blue at vmax to white at 0), and the standalone run's header and progress bar.
import t from 'tap';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
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
    const lum = (x: number, y: number) =>
      img.data[(y * img.width + x) * 3] + img.data[(y * img.width + x) * 3 + 1] + img.data[(y * img.width + x) * 3 + 2];
    let best = 0,
      bestX = -1;
    for (let x = 0; x < img.width; x++) {
      let steps = 0;
      for (let y = 61; y < img.height; y++) if (lum(x, y) > lum(x, y - 1) && lum(x, y) < 765) steps++;
      if (steps > best) ((best = steps), (bestX = x));
    }
    t.ok(best > 40, `${f}: a column (x=${bestX}) lightening down over ${best} rows`);
  }
});

t.test(
  "yolo pose val's header: version/device line, fused summary, 'val: Scanning ...' and the batch bar",
  async (t) => {
    const { PoseValidator } = await import('../../tasks/val/validator.js');
    const { valModel } = await import('../../tasks/val/api.js');
    const { YOLO } = await import('../../tasks/yolo.js');
    const { fileURLToPath } = await import('node:url');
    // a fresh copy: the first scan prints the labels folder and writes labels/val.cache there
    const root = mkdtempSync(join(tmpdir(), 'val-out-'));
    t.teardown(() => rmSync(root, { recursive: true, force: true }));
    cpSync(fileURLToPath(new URL('../fixtures/val/coco8-pose', import.meta.url)), root, { recursive: true });
    const yaml = join(root, 'coco8-pose.yaml');
    const logs: string[] = [],
      bars: string[] = [];
    const proto = PoseValidator.prototype as unknown as { run: (...a: unknown[]) => unknown };
    const run = proto.run;
    proto.run = function (this: InstanceType<typeof PoseValidator>, ...a: unknown[]) {
      this.log = (s) => logs.push(s);
      this.progress = { write: (s) => bars.push(s), live: false };
      return run.apply(this, a);
    };
    const orig = console.log;
    console.log = (s: string) => logs.push(s);
    try {
      await valModel(new YOLO('yolov8n-pose.yaml'), { data: yaml, imgsz: 32, batch: 2, device: 'cpu', plots: false });
    } finally {
      proto.run = run;
      console.log = orig;
    }
    t.match(logs[0], /^yolo-ts \S+ 🚀 Node-[\d.]+ cpu/);
    t.match(logs[1], /^YOLOv8n-pose summary \(fused\): \d+ layers, [\d,]+ parameters, 0 gradients/);
    const out = bars.join('');
    t.match(out, /val: Scanning .*labels\/val\.\.\. 4 images, 0 backgrounds, 0 corrupt: 100%/);
    t.ok(existsSync(join(root, 'labels/val.cache')), 'val.cache written, as Ultralytics does for every split');
    t.ok(logs.includes(`val: New cache created: ${join(root, 'labels/val.cache')}`));
    t.match(
      out,
      /Class {5}Images  Instances.*mAP50-95\): 100%.* 2\/2 \[/,
      'the header row leads a bar over the 2 batches',
    );
    t.notOk(
      logs.some((l) => /Class {5}Images/.test(l)),
      'not printed twice',
    );
  },
);

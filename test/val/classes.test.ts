// classes= in val (and train): Ultralytics 8.2.82 passes it to build_yolo_dataset, whose
// BaseDataset.update_labels keeps only the labels of those class ids (before single_cls); predictions
// are not filtered (PoseValidator.postprocess never reads classes). Checked here on the label files
// themselves and on a whole val of coco8-pose.
import t from 'tap';
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDatasetYaml } from '../../tasks/data/dataset.js';
import { PoseDataset } from '../../tasks/data/loader.js';
import { YOLO } from '../../tasks/yolo.js';

const COCO = fileURLToPath(new URL('../fixtures/val/coco8-pose', import.meta.url));
const quiet = { labelCache: false, log: () => {}, progress: { live: false, write: () => {} } };

t.test('the dataset keeps only the listed classes, boxes and keypoints with them; single_cls after', async (t) => {
  // a two-class copy of coco8-pose: every other object of each label file becomes class 1
  const dir = mkdtempSync(join(tmpdir(), 'classes-'));
  cpSync(COCO, dir, { recursive: true });
  const lblDir = join(dir, 'labels', 'val');
  const rows: Record<string, number[][]> = {};
  for (const f of readdirSync(lblDir)) {
    const r = readFileSync(join(lblDir, f), 'utf8')
      .trim()
      .split('\n')
      .map((l, i) => {
        const v = l.trim().split(/\s+/).map(Number);
        v[0] = i % 2;
        return v;
      });
    writeFileSync(join(lblDir, f), r.map((v) => v.join(' ')).join('\n') + '\n');
    rows[f.replace(/\.txt$/, '')] = r;
  }
  const yaml = join(dir, 'coco8-pose.yaml');
  writeFileSync(yaml, readFileSync(yaml, 'utf8').replace(/names:[\s\S]*$/, 'names:\n  0: person\n  1: other\n'));
  const cfg = loadDatasetYaml(yaml);
  for (const [classes, singleCls] of [
    [[1], false],
    [1, true],
    [[0, 1], false],
  ] as const) {
    const ds = PoseDataset.fromConfig(cfg, 'val', { ...quiet, augment: false, rect: false, classes, singleCls });
    t.equal(ds.labels.length, Object.keys(rows).length, 'every image stays (as a background when none is kept)');
    for (const l of ds.labels) {
      const stem = l.imFile
        .split('/')
        .pop()!
        .replace(/\.\w+$/, '');
      const want = rows[stem].filter((r) => [classes].flat().includes(r[0]));
      t.same(
        [...l.cls],
        want.map((r) => (singleCls ? 0 : r[0])),
        `${stem} classes=${JSON.stringify(classes)}`,
      );
      const got = [...l.bboxes];
      t.ok(
        want.flatMap((r) => r.slice(1, 5)).every((v, i) => Math.abs(v - got[i]) < 1e-6),
        `${stem}: the kept rows' boxes`,
      );
      const kx = [...l.keypoints].filter((_, i) => i % 3 === 0);
      t.ok(
        want.flatMap((r) => r.slice(5).filter((_, i) => i % 3 === 0)).every((v, i) => Math.abs(v - kx[i]) < 1e-6),
        `${stem}: their keypoints`,
      );
    }
  }
});

t.test(
  "val classes=: [0] is every label of coco8-pose, [1] none (no labels, zero metrics, Ultralytics' warning)",
  async (t) => {
    const yaml = join(COCO, 'coco8-pose.yaml');
    const run = async (classes?: number[]) => {
      const logs: string[] = [];
      const log = console.log;
      console.log = (...a: unknown[]) => void logs.push(a.join(' '));
      try {
        const m = await new YOLO('yolov8n-pose.yaml').val({
          data: yaml,
          imgsz: 64,
          device: 'cpu',
          plots: false,
          classes,
        });
        return { r: m.resultsDict, logs: logs.join('\n') };
      } finally {
        console.log = log;
      }
    };
    const all = await run();
    const zero = await run([0]);
    const one = await run([1]);
    t.same(zero.r, all.r, 'classes=[0] keeps every label of a one-class dataset');
    t.match(all.logs, /all\s+4\s+14\s/);
    t.match(one.logs, /all\s+4\s+0\s/, 'no instances left');
    t.match(one.logs, /no labels found in pose set, can not compute metrics without labels/);
    t.equal(one.r!['metrics/mAP50-95(B)'], 0);
  },
);

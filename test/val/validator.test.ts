// PoseValidator end to end with a stand-in model that "predicts" the ground truth of each batch:
// every stage but the network (data, rect batches, NMS, scaling back, matching, metrics, table,
// predictions.json, plots) and the bad-input errors.
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpu, tensor, type Tensor } from '../../engine/index.js';
import { loadDatasetYaml } from '../../tasks/data/dataset.js';
import { PoseDataset } from '../../tasks/data/loader.js';
import { prepareBatch } from '../../tasks/val/prepare_batch.js';
import { PoseValidator, type ValModel } from '../../tasks/val/validator.js';
import { formatRow, headerRow } from '../../tasks/val/report.js';
import { formatG } from '../../tasks/format.js';

const FIX = join(import.meta.dirname, '../fixtures/val/coco8-pose');
const YAML = join(FIX, 'coco8-pose.yaml');

/** A model whose output for batch b holds that batch's labels as detections (conf 0.9), then noise. */
function oracle(imgsz: number, batch: number, opts: { jitter?: number; kptShape?: [number, number] } = {}): ValModel {
  const cfg = loadDatasetYaml(YAML);
  const quiet = { labelCache: false, log: () => {}, progress: { live: false, write: () => {} } };
  const ds = PoseDataset.fromConfig(cfg, 'val', { ...quiet, imgsz, batch, augment: false });
  const outputs = [...ds.batches()].map((vb) => {
    const A = 64,
      C = 4 + 1 + 51,
      B = vb.shape[0];
    const out = new Float32Array(B * C * A);
    prepareBatch(vb, 17).forEach((im, b) => {
      for (let i = 0; i < im.cls.length; i++) {
        const [x1, y1, x2, y2] = im.lbBoxes.subarray(i * 4, i * 4 + 4);
        const j = opts.jitter ?? 0;
        const v = [(x1 + x2) / 2 + j, (y1 + y2) / 2, x2 - x1, y2 - y1, 0.9 - 0.01 * i];
        for (let k = 0; k < 17; k++)
          v.push(
            im.lbKpts[(i * 17 + k) * 3] + j,
            im.lbKpts[(i * 17 + k) * 3 + 1],
            im.lbKpts[(i * 17 + k) * 3 + 2] ? 0.8 : 0,
          );
        v.forEach((val, c) => (out[(b * C + c) * A + i] = val));
      }
    });
    return { data: out, shape: [B, C, A] };
  });
  let call = 0;
  return {
    stride: [8, 16, 32],
    names: { 0: 'person' },
    kptShape: opts.kptShape ?? [17, 3],
    predict(_x: Tensor) {
      const o = outputs[call++ % outputs.length];
      return tensor(o.data, o.shape, { device: cpu });
    },
  };
}

function tmp(t: Test) {
  const d = process.env.KEEP_VAL_DIR ?? mkdtempSync(join(tmpdir(), 'val-'));
  if (!process.env.KEEP_VAL_DIR) t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test('perfect predictions: box and pose mAP 0.995, table, json, plots', async (t) => {
  const dir = tmp(t);
  const lines: string[] = [];
  const v = new PoseValidator({ data: YAML, imgsz: 320, batch: 2, save_json: true, save_dir: dir });
  v.log = (s) => lines.push(s);
  const r = await v.run(oracle(320, 2), cpu);
  for (const m of [r.metrics.box, r.metrics.pose]) {
    t.ok(Math.abs(m.map - 0.995) < 1e-9 && Math.abs(m.map50 - 0.995) < 1e-9, `map ${m.map} map50 ${m.map50}`);
    t.equal(m.mp, 1);
    t.equal(m.mr, 1);
  }
  t.ok(Math.abs(r.metrics.fitness - 2 * 0.995) < 1e-9);
  t.equal(r.seen, 4);
  t.equal(lines[0], headerRow());
  t.match(
    lines[0],
    /^ {17}Class {5}Images  Instances {6}Box\(P {10}R {6}mAP50  mAP50-95\) {5}Pose\(P {10}R {6}mAP50  mAP50-95\)$/,
  );
  t.equal(lines[1], formatRow('all', 4, 14, [1, 1, 0.995, 0.995, 1, 1, 0.995, 0.995]));
  t.equal(
    lines[1],
    '                   all          4         14          1          1      0.995      0.995          1          1      0.995      0.995',
  );
  t.match(
    lines.join('\n'),
    /Speed: [\d.]+ms preprocess, [\d.]+ms inference, [\d.]+ms loss, [\d.]+ms postprocess per image/,
  );

  const json = JSON.parse(readFileSync(join(dir, 'predictions.json'), 'utf8'));
  t.equal(json.length, 14);
  const rec = json.find((d: any) => d.image_id === 113);
  t.ok(rec, 'numeric stems become numeric image ids');
  t.equal(rec.category_id, 1, 'category id from annotations/person_keypoints_val.json (person = 1)');
  t.equal(rec.bbox.length, 4);
  t.equal(rec.keypoints.length, 51);
  t.equal(rec.score, 0.9);
  // The box matches the label in original pixels (COCO xywh).
  const ann = JSON.parse(readFileSync(join(FIX, 'annotations/person_keypoints_val.json'), 'utf8')).annotations.filter(
    (a: any) => a.image_id === 113,
  );
  const best = Math.min(
    ...ann.map((a: any) => Math.max(...a.bbox.map((v: number, q: number) => Math.abs(v - rec.bbox[q])))),
  );
  t.ok(best < 1, `bbox within ${best.toFixed(3)} px of the COCO annotation`);

  for (const f of [
    'BoxPR_curve.png',
    'BoxF1_curve.png',
    'PosePR_curve.png',
    'PoseF1_curve.png',
    'PoseR_curve.png',
    'confusion_matrix.png',
    'confusion_matrix_normalized.png',
    'val_batch0_labels.jpg',
    'val_batch0_pred.jpg',
    'val_batch1_labels.jpg',
    'val_batch1_pred.jpg',
  ])
    t.ok(existsSync(join(dir, f)), f);
  t.same(r.confusionMatrix.toRows(), [
    [14, 0],
    [0, 0],
  ]);
});

t.test('shifted keypoints: boxes still match, OKS drops', async (t) => {
  const v = new PoseValidator({ data: YAML, imgsz: 320, batch: 4, plots: false, verbose: false });
  const r = await v.run(oracle(320, 4, { jitter: 2 }), cpu);
  t.ok(r.metrics.box.map50 > 0.9, `box map50 ${r.metrics.box.map50}`);
  t.ok(r.metrics.pose.map < r.metrics.box.map, `pose map ${r.metrics.pose.map} < box map ${r.metrics.box.map}`);
  t.equal(r.saveDir === null || !existsSync(join(r.saveDir, 'predictions.json')), true);
});

t.test('bad input: model kpt_shape differs from the data', async (t) => {
  const v = new PoseValidator({ data: YAML, imgsz: 320, plots: false, verbose: false, model_path: 'my-model.pt' });
  await t.rejects(v.run(oracle(320, 16, { kptShape: [5, 3] }), cpu), {
    message:
      /kpt_shape mismatch: my-model\.pt predicts kpt_shape \[5, 3\] but .*coco8-pose\.yaml has kpt_shape \[17, 3\]/,
  });
  t.throws(() => new PoseValidator({ data: YAML, conf: 2 }), /conf=2 must be between 0\.0 and 1\.0/);
});

t.test("Python's %.3g", async (t) => {
  const cases: [number, string][] = [
    [0, '0'],
    [1, '1'],
    [0.995, '0.995'],
    [0.0180996, '0.0181'],
    [0.000379077, '0.000379'],
    [1.23e-5, '1.23e-05'],
    [0.99951, '1'],
    [123.4, '123'],
    [1234, '1.23e+03'],
  ];
  for (const [v, s] of cases) t.equal(formatG(v, 3), s, `${v}`);
});

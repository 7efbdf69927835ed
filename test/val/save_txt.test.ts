// val save_txt / save_conf: labels/<stem>.txt per image in Results.save_txt's format, the same
// detections as predictions.json (normalized xywh of the original image, keypoints, confidence).
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { YOLO } from '../../tasks/yolo.js';
import { readImage } from '../../tasks/data/image.js';

const YAML = fileURLToPath(new URL('../fixtures/val/coco8-pose/coco8-pose.yaml', import.meta.url));
const IMG = fileURLToPath(new URL('../fixtures/val/coco8-pose/images/val/000000000113.jpg', import.meta.url));

t.test('labels/*.txt agree with predictions.json', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'valtxt-'));
  await new YOLO('yolov8n-pose.yaml').val({
    data: YAML,
    imgsz: 64,
    device: 'cpu',
    conf: 0.001,
    plots: false,
    verbose: false,
    save_json: true,
    save_txt: true,
    save_conf: true,
    project: dir,
    name: 'v',
  });
  const out = join(dir, 'v');
  const files = readdirSync(join(out, 'labels'));
  t.ok(files.includes('000000000113.txt'), files.join(','));
  const lines = readFileSync(join(out, 'labels', '000000000113.txt'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' ').map(Number));
  t.ok(
    lines.every((l) => l.length === 1 + 4 + 17 * 3 + 1),
    'cls xywh 17 x (x y visibility) conf',
  );
  t.ok(
    lines.every((l) => l.slice(1, 5).every((v) => v >= 0 && v <= 1)),
    'normalized boxes',
  );
  const json = JSON.parse(readFileSync(join(out, 'predictions.json'), 'utf8')).filter(
    (r: { image_id: number }) => r.image_id === 113,
  );
  t.equal(lines.length, json.length, 'one line per detection');
  const { width: W, height: H } = readImage(IMG);
  for (const rec of json.slice(0, 5)) {
    const [x, , w, h] = rec.bbox;
    const line = lines.find(
      (l) => Math.abs(l[lines[0].length - 1] - rec.score) < 1e-4 && Math.abs(l[1] - (x + w / 2) / W) < 2e-3,
    );
    t.ok(line, `detection with score ${rec.score} is in the txt`);
    if (line) t.ok(Math.abs(line[3] - w / W) < 2e-3 && Math.abs(line[4] - h / H) < 2e-3, 'same size');
  }
});

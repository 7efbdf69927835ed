// predict embed=[...] and YOLO.embed() against Ultralytics 8.2.82 itself (test/fixtures/predict/gen_embed.py):
// per image, the listed layers' outputs average-pooled and concatenated in layer order.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { YOLO } from '../../tasks/yolo.js';

const HERE = (p: string) => fileURLToPath(new URL(`../fixtures/predict/${p}`, import.meta.url));
const G = JSON.parse(readFileSync(HERE('embed.json'), 'utf8'));
const PT = HERE('yolov8n-pose-coco128.pt');

const maxDiff = (a: Float32Array, b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

t.test('embed=[15, 4, 21] and the default (second-to-last layer) equal Ultralytics', async (t) => {
  const m = new YOLO(PT);
  const imgs = G.images.map((f: string) => HERE(`images/${f}`));
  const listed = await m.predict(imgs, { imgsz: G.imgsz, embed: G.embed, device: 'cpu', verbose: false });
  const def = await m.embed(imgs, { imgsz: G.imgsz, device: 'cpu', verbose: false });
  t.equal(listed.length, 2);
  for (let i = 0; i < 2; i++) {
    t.equal(listed[i].length, G.listed[i].length, '64 + 64 + 256 channels');
    t.ok(
      maxDiff(listed[i], G.listed[i]) < 1e-4,
      `${G.images[i]} listed: max |diff| ${maxDiff(listed[i], G.listed[i])}`,
    );
    t.equal(def[i].length, G.default[i].length);
    t.ok(maxDiff(def[i], G.default[i]) < 1e-4, `${G.images[i]} default: max |diff| ${maxDiff(def[i], G.default[i])}`);
  }
  await t.rejects(
    m.embed(imgs[0], { embed: [22], device: 'cpu' }),
    /embed=\[22\]: expected layer indices in \[0, 21\] \(layer 22 is the Pose head/,
  );
  await t.rejects(
    (async () => {
      for await (const r of m.predict(imgs[0], { embed: [4], stream: true, device: 'cpu' })) void r;
    })(),
    /embed= returns feature vectors, not Results/,
  );
});

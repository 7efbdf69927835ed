// Acceptance (issue 4): the bundled checkpoint on Ultralytics' reference images gives the same
// detections as Ultralytics — box IoU >= 0.99, conf within 0.01, keypoints within 1 px for every
// detection at least 0.02 above the threshold. webgpu runs all 15 images; the cpu reference
// backend (slow: ~25 s per image) runs bus.jpg and zidane.jpg. Stage timings are printed as comments.
import t from 'tap';
import { releaseDevices } from '../../engine/index.js';
import { YOLO } from '../../tasks/yolo.js';
import { testDevices } from '../helpers.js';
import { CKPT, FIXTURES, compareToReference, reference } from './reference.js';

const CPU_SUBSET = ['bus.jpg', 'zidane.jpg']; // the two most sensitive: downscaled 3.4x and 4x

t.test('parity with Ultralytics predictions', async (t) => {
  const devices = await testDevices(t, { wasm: true });
  t.teardown(releaseDevices);
  for (const dev of devices) {
    await t.test(dev.type, async (t) => {
      const names = dev.type === 'cpu' ? CPU_SUBSET : Object.keys(reference.images);
      const model = new YOLO(CKPT);
      const results = await model.predict(
        names.map((n) => FIXTURES + 'images/' + n),
        {
          imgsz: reference.imgsz,
          conf: reference.conf,
          iou: reference.iou,
          max_det: reference.max_det,
          device: dev,
          verbose: false,
        },
      );
      t.equal(results.length, names.length, `${names.length} images predicted`);
      const worst = { iou: 1, conf: 0, kpt: 0 };
      let checked = 0;
      const speed = { preprocess: 0, inference: 0, postprocess: 0 };
      results.forEach((r, i) => {
        const rep = compareToReference(names[i], r, reference.images[names[i]], reference.conf);
        t.same(rep.problems, [], `${names[i]}: ${rep.checked} detections match`);
        checked += rep.checked;
        worst.iou = Math.min(worst.iou, rep.worst.iou);
        worst.conf = Math.max(worst.conf, rep.worst.conf);
        worst.kpt = Math.max(worst.kpt, rep.worst.kpt);
        for (const k of Object.keys(speed) as (keyof typeof speed)[]) speed[k] += r.speed[k] / results.length;
      });
      t.ok(checked > 0, `${checked} detections checked`);
      t.comment(
        `${dev.type}: worst IoU ${worst.iou.toFixed(5)}, worst |Δconf| ${worst.conf.toExponential(2)}, worst keypoint ${worst.kpt.toFixed(4)} px`,
      );
      t.comment(
        `${dev.type}: per image ${speed.preprocess.toFixed(1)} ms preprocess, ${speed.inference.toFixed(1)} ms inference, ${speed.postprocess.toFixed(1)} ms postprocess (imgsz ${reference.imgsz})`,
      );
    });
  }
});

// The postprocess alone, on the model outputs PyTorch computes for the parity images
// (raw_candidates.safetensors, see gen_raw_outputs.py): NMS, scaling back to the original image,
// rounding and keypoint zeroing must reproduce Ultralytics' predictions exactly.
import t from 'tap';
import { readSafetensors } from '../../engine/io/safetensors.js';
import { cpu } from '../../engine/index.js';
import { Predictor, type PoseNet } from '../../tasks/predict/predictor.js';
import { FIXTURES, compareToReference, reference } from './reference.js';

const raw = readSafetensors(FIXTURES + 'raw_candidates.safetensors').tensors;
const model: PoseNet = {
  names: { 0: 'person' },
  stride: [8, 16, 32],
  kptShape: [17, 3],
  predict: () => {
    throw new Error('not used');
  },
};
const p = new Predictor(model, cpu, {
  imgsz: reference.imgsz,
  conf: reference.conf,
  iou: reference.iou,
  max_det: reference.max_det,
});

t.test('postprocess of PyTorch outputs equals Ultralytics exactly', async (t) => {
  let dets = 0;
  for (const [name, ref] of Object.entries(reference.images)) {
    const stem = name.replace(/\.jpg$/, '');
    const cand = raw.get(`${stem}.cand`)!;
    const [h, w] = Array.from(raw.get(`${stem}.shape`)!.data as Int32Array);
    const orig = { height: ref.orig_shape[0], width: ref.orig_shape[1], data: new Uint8Array(0) };
    const r = p.postprocess({ data: cand.data as Float32Array, shape: [1, ...cand.shape] }, [h, w], orig, name);
    t.equal(r.length, ref.conf.length, `${name}: ${ref.conf.length} detections`);
    // Same order, same rounded boxes; conf and keypoints to float32 noise of the torch re-derivation.
    let box = 0,
      conf = 0,
      kpt = 0,
      kconf = 0;
    r.boxes.xyxy.forEach((b, i) => {
      b.forEach((v, k) => (box = Math.max(box, Math.abs(v - ref.boxes_xyxy[i][k]))));
      conf = Math.max(conf, Math.abs(r.boxes.conf[i] - ref.conf[i]));
      r.keypoints!.xy[i].forEach(
        (pt, k) =>
          (kpt = Math.max(
            kpt,
            Math.abs(pt[0] - ref.keypoints_xy[i][k][0]),
            Math.abs(pt[1] - ref.keypoints_xy[i][k][1]),
          )),
      );
      r.keypoints!.conf![i].forEach((c, k) => (kconf = Math.max(kconf, Math.abs(c - ref.keypoints_conf[i][k]))));
    });
    t.ok(
      box === 0 && conf < 1e-6 && kpt < 1e-3 && kconf < 1e-6,
      `${name}: max |Δ| box ${box}, conf ${conf.toExponential(1)}, keypoints ${kpt.toExponential(1)} px, kpt conf ${kconf.toExponential(1)}`,
    );
    const rep = compareToReference(name, r, ref, reference.conf);
    t.same(rep.problems, [], `${name}: parity check passes (${rep.checked} detections checked)`);
    dets += r.length;
  }
  t.ok(dets > 200, `${dets} detections compared`);
});

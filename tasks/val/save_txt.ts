// Val's save_txt / save_conf (PoseValidator.save_one_txt): an image's detections in original-image
// coordinates written as Results.save_txt writes them, to <save_dir>/labels/<stem>.txt.
//
// Imports: ../predict/results, ./postprocess (types).

import { basename, extname, join } from 'node:path';
import { Boxes, Keypoints, Results } from '../predict/results.js';
import type { NativeDetections } from './postprocess.js';

export function saveValTxt(
  det: NativeDetections,
  ori: [number, number],
  imFile: string,
  names: Record<number, string>,
  kptShape: [number, number],
  saveConf: boolean,
  saveDir: string,
): string {
  const box = new Float32Array(det.n * 6);
  for (let i = 0; i < det.n; i++) box.set([...det.boxes.subarray(i * 4, i * 4 + 4), det.conf[i], det.cls[i]], i * 6);
  const origImg = { width: ori[1], height: ori[0], data: new Uint8Array(0) }; // only its shape is read
  const r = new Results(origImg, imFile, names, new Boxes(box, ori), new Keypoints(det.kpts.slice(), kptShape, ori));
  const file = join(saveDir, 'labels', `${basename(imFile, extname(imFile))}.txt`);
  r.saveTxt(file, saveConf);
  return file;
}

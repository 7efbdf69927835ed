// predict embed=[i, j, ...] and YOLO.embed(), as Ultralytics 8.2.82's BaseModel._predict_once: the
// network runs layer by layer up to the largest listed index; each listed layer's output (1, C, h, w)
// is adaptive-average-pooled to 1 x 1 and flattened to C values; the vectors are concatenated in layer
// order (not list order). One Float32Array per image, in place of Results. Images are letterboxed as
// predict does (LetterBox auto, stride-aligned). The Pose head (the last layer) has no map to pool,
// so its index is refused, as it fails in Ultralytics.
//
// Imports: engine, ./predictor (preprocess), ./sources, ./frames, ./visualize (hasLayers, layerOutputs).

import { noGrad, type Tensor } from '../../engine/index.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { readFrames } from './frames.js';
import type { Predictor } from './predictor.js';
import { loadSource, type SourceInput } from './sources.js';
import { hasLayers, layerOutputs } from './visualize.js';

/** Ultralytics' model.embed() default: the second-to-last layer (the last neck C2f before the head). */
export const defaultEmbed = (model: PoseModel): number[] => [model.layerInfo.length - 2];

/** The layer indices checked against the model: integers in [0, head). */
export function checkEmbed(model: unknown, embed: unknown): number[] {
  if (!hasLayers(model))
    throw new Error('embed=: this model has no layers to read (an exported model); use a .pt or .yaml model');
  const n = model.layerInfo.length;
  const list = [embed].flat();
  if (!list.length || !list.every((i) => Number.isInteger(i) && (i as number) >= 0 && (i as number) < n - 1))
    throw new Error(
      `embed=${JSON.stringify(embed)}: expected layer indices in [0, ${n - 2}] (layer ${n - 1} is the Pose head, which has no feature map to pool)`,
    );
  return list as number[];
}

/** The embedding of one preprocessed (1, 3, h, w) image: pooled listed layers, concatenated. */
export async function embedTensor(model: PoseModel, x: Tensor, embed: number[]): Promise<Float32Array> {
  const want = new Set(embed);
  const outs = layerOutputs(model, x, Math.max(...embed));
  // adaptive_avg_pool2d(x, 1) squeezed: (1, C) per listed layer, in layer order
  const pooled = outs.filter((o) => want.has(o.i)).map((o) => noGrad(() => o.out.mean([2, 3])));
  try {
    const parts = await Promise.all(pooled.map((p) => p.data() as Promise<Float32Array>));
    const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) out.set(p, (o += p.length) - p.length);
    return out;
  } finally {
    pooled.forEach((p) => p.dispose());
    outs.forEach((o) => o.out.dispose());
  }
}

/** Every image (or kept video frame) of `source` -> its embedding, through `p`'s preprocessing. */
export async function embedSource(
  p: Predictor,
  model: PoseModel,
  source: SourceInput,
  embed: number[],
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for await (const ev of readFrames(await loadSource(source), { vid_stride: p.args.vid_stride })) {
    if ('problem' in ev) {
      if (ev.problem.fatal) throw new Error(ev.problem.message);
      console.warn(`WARNING ⚠️ ${ev.problem.message}`);
      continue;
    }
    const x = p.preprocess(ev.frame.img);
    try {
      out.push(await embedTensor(model, x, embed));
    } finally {
      x.dispose();
    }
  }
  return out;
}

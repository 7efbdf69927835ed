// "Look inside" for learners: every backbone/neck layer's feature maps for the current image
// (tasks/predict/visualize.ts, the code behind `predict visualize=True`), and the WGSL of each
// kernel file the engine launches, as it is bundled. The head's anchors, DFL and keypoints, and the
// kernels each op of a layer launched, are in ./inside/ (mounted by mountInside).
import packageFiles from 'virtual:package-files';
import { Predictor } from '../../tasks/predict/predictor.js';
import { featureGrid, hasLayers, layerOutputs } from '../../tasks/predict/visualize.js';
import type { RgbImage } from '../../tasks/data/image.js';
import type { YOLO } from '../../tasks/yolo.js';

// the anchor grid, DFL bins, raw vs decoded keypoints and each layer's kernels: ./inside/
export { mountInside } from './inside/panel.js';

export interface LayerMap {
  i: number;
  type: string;
  shape: number[];
  grid: RgbImage;
}

/** The current image letterboxed as predict does, then layer by layer: the first 16 channels of each output. */
export async function featureMaps(model: YOLO, img: RgbImage, imgsz: number): Promise<LayerMap[]> {
  const net = model.model;
  if (!net || !model.device || !hasLayers(net))
    throw new Error('look inside: needs a .pt or .safetensors model (an exported .onnx has no layers to show)');
  const x = new Predictor(net, model.device, { imgsz, verbose: false }).preprocess(img);
  const outs = layerOutputs(net, x);
  try {
    const maps: LayerMap[] = [];
    for (const o of outs) {
      const [, C, h, w] = o.out.shape; // (1, C, h, w): the first 16 channels of x[0], as visualize=True draws them
      if (o.out.ndim !== 4 || !(h > 1 && w > 1)) continue;
      const data = (await o.out.data()) as Float32Array;
      maps.push({
        i: o.i,
        type: o.type,
        shape: [...o.out.shape],
        grid: featureGrid(data.subarray(0, C * h * w), [C, h, w], { n: 16, cols: 4, cell: 80, shrink: true }),
      });
    }
    return maps;
  } finally {
    for (const o of outs) o.out.dispose();
    x.dispose();
  }
}

/** shaders/*.wgsl by file name, each with its `#include`s expanded (as engine/backends/wgsl.ts reads them; slots left as written). */
export function shaderSources(): Record<string, string> {
  const raw = Object.fromEntries(
    Object.entries(packageFiles)
      .filter(([k]) => k.startsWith('shaders/'))
      .map(([k, v]) => [k.slice('shaders/'.length), v]),
  );
  const expand = (text: string): string =>
    text.replace(/^#include\s+"([^"]+)"\s*$/gm, (line, inc: string) =>
      inc in raw ? `// ---- ${inc}\n${expand(raw[inc])}` : line,
    );
  return Object.fromEntries(
    Object.entries(raw)
      .filter(([k]) => k.endsWith('.wgsl'))
      .map(([k, v]) => [k, expand(v)]),
  );
}

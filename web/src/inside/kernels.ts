// "Look inside": for one layer of the model, the ops it runs on the current image and, for each,
// the WGSL of the kernels the webgpu backend actually launched (engine/profile.ts's launchLog: the
// runtime reports every dispatch with the source it compiled, every op reports itself through
// autograd's `record`). The layer runs eagerly, as `predict` runs when not compiled; the module
// path of each op (cv1, m.0.cv2, ...) comes from wrapping the layer's submodules' forward while it runs.
import { noGrad, tidy } from '../../../engine/index.js';
import { launchLog, type OpLaunches } from '../../../engine/profile.js';
import { Predictor } from '../../../tasks/predict/predictor.js';
import { hasLayers, layerInput, layerOutputs } from '../../../tasks/predict/visualize.js';
import type { Module, Sequential } from '../../../nn/module.js';
import type { RgbImage } from '../../../tasks/data/image.js';
import type { YOLO } from '../../../tasks/yolo.js';

export interface LayerKernels {
  i: number;
  type: string;
  device: string;
  /** `where`: the submodule that ran the op, relative to the layer ('' for the layer itself) */
  ops: OpLaunches[];
}

/** The layers of a .pt/.safetensors model: index, class name, where its input comes from. */
export function layerList(model: YOLO): { i: number; type: string; from: number | number[] }[] {
  const net = model.model;
  if (!net || !hasLayers(net)) return [];
  return net.layerInfo.map((l, i) => ({ i, type: l.module.split('.').pop()!, from: l.from }));
}

/** Runs the layers before `index` on the image, then layer `index` with its launches captured. */
export async function layerKernels(model: YOLO, img: RgbImage, imgsz: number, index: number): Promise<LayerKernels> {
  const net = model.model;
  if (!net || !model.device || !hasLayers(net))
    throw new Error('look inside: needs a .pt or .safetensors model (an exported .onnx has no layers to show)');
  const layers = (net.child('model') as Sequential).children();
  if (!(index >= 0 && index < layers.length))
    throw new Error(`look inside: layer ${index} does not exist (0..${layers.length - 1})`);
  const x = new Predictor(net, model.device, { imgsz, verbose: false }).preprocess(img);
  const outs = layerOutputs(net, x, index - 1).map((o) => o.out);
  try {
    const layer = layers[index];
    const stack: string[] = [];
    const unwrap = wrapForwards(layer, stack);
    let ops: OpLaunches[];
    try {
      // each op is labelled with the innermost submodule running when it reports itself
      ops = launchLog.capture(
        () => noGrad(() => tidy(() => void layer.forward(layerInput(net, index, x, outs)))),
        () => stack[stack.length - 1] ?? '',
      ).ops;
    } finally {
      unwrap();
    }
    return {
      i: index,
      type: net.layerInfo[index].module.split('.').pop()!,
      device: model.device.type,
      ops,
    };
  } finally {
    for (const t of outs) t.dispose();
    x.dispose();
  }
}

/** Wraps every submodule's forward (this instance only) to keep the module path on `stack`. */
function wrapForwards(layer: Module, stack: string[]): () => void {
  const wrapped: Module[] = [];
  for (const [name, m] of layer.namedModules()) {
    const orig = m.forward;
    m.forward = function (this: Module, ...args: unknown[]) {
      stack.push(name);
      try {
        return orig.apply(this, args);
      } finally {
        stack.pop();
      }
    };
    wrapped.push(m);
  }
  return () => {
    for (const m of wrapped) delete (m as { forward?: unknown }).forward; // the prototype's again
  };
}

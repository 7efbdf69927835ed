// `yolo export format=ncnn`: Ultralytics' export_ncnn (pnnx) output written by ./ncnn_lower.ts from
// the traced graph: `<stem>_ncnn_model/` with model.ncnn.param, model.ncnn.bin and metadata.yaml.
// half=True stores the convolution weights as float16 (pnnx fp16=1). ncnn runs one image at a time
// (AutoBackend feeds im[0]), so the graph is traced for batch 1 at the fixed imgsz.
//
// Imports: node, models (type), ./static_graph, ./ncnn_lower, ./folder_metadata, ./exporter.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { checkImgsz } from '../predict/predictor.js';
import { staticGraph } from './static_graph.js';
import { lowerToNcnn } from './ncnn_lower.js';
import { metadataYaml } from './folder_metadata.js';
import { exportMetadata, exportPath, type ExportArgs, type ExportSource } from './exporter.js';

/** The image size an export traces at (imgsz rounded up to the model's stride, as Ultralytics' check_imgsz). */
export function exportImgsz(model: PoseModel, args: ExportArgs): [number, number] {
  const sz = args.imgsz ?? 640;
  return checkImgsz(
    Array.isArray(sz) ? sz : [sz, sz],
    Math.max(...model.stride),
    args.verbose === false ? () => {} : console.warn,
  ) as [number, number];
}

export async function exportNcnn(
  model: PoseModel,
  args: ExportArgs,
  src: ExportSource,
  log: (s: string) => void,
): Promise<string> {
  if (args.int8)
    throw new Error(
      "export: int8=True is not supported for format='ncnn' (Ultralytics quantizes only TensorRT, OpenVINO, CoreML and TFLite); use half=True for float16 weights",
    );
  if (args.optimize) throw new Error("optimize=True not compatible with format='ncnn', i.e. use optimize=False");
  if ((args.batch ?? 1) !== 1)
    throw new Error(
      `export: format='ncnn' runs one image at a time; batch=${args.batch} is not supported, use batch=1`,
    );
  const imgsz = exportImgsz(model, args);
  const t0 = performance.now();
  log(`\nNCNN: starting export with yolo-ts (pnnx layer rules, own writer)...`);
  const { g, read } = await staticGraph(model, 1, imgsz);
  const files = lowerToNcnn(g, { half: !!args.half, read });
  const dir = exportPath(src.file, '_ncnn_model');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.ncnn.param'), files.param);
  writeFileSync(join(dir, 'model.ncnn.bin'), files.bin);
  writeFileSync(join(dir, 'metadata.yaml'), metadataYaml(exportMetadata(model, src, 1, imgsz)));
  log(
    `NCNN: export success ✅ ${((performance.now() - t0) / 1000).toFixed(1)}s, saved as '${dir}' (${(files.bin.byteLength / (1 << 20)).toFixed(1)} MB)`,
  );
  return dir;
}

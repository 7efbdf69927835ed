// `yolo export format=paddle`: the layout Ultralytics' export_paddle (x2paddle pytorch2paddle)
// leaves: `<stem>_paddle_model/inference_model/model.pdmodel` + `model.pdiparams`, and
// metadata.yaml in `<stem>_paddle_model/`, written by ./paddle_lower.ts from the traced graph.
//
// Imports: node, models (type), ./static_graph, ./paddle_lower, ./folder_metadata, ./exporter, ./ncnn_export.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { staticGraph } from './static_graph.js';
import { lowerToPaddle } from './paddle_lower.js';
import { metadataYaml } from './folder_metadata.js';
import { exportMetadata, exportPath, type ExportArgs, type ExportSource } from './exporter.js';
import { exportImgsz } from './ncnn_export.js';

export async function exportPaddle(
  model: PoseModel,
  args: ExportArgs,
  src: ExportSource,
  log: (s: string) => void,
): Promise<string> {
  if (args.int8)
    throw new Error(
      "export: int8=True is not supported for format='paddle' (Ultralytics quantizes only TensorRT, OpenVINO, CoreML and TFLite)",
    );
  // Ultralytics 8.2.82 ignores dynamic here: pytorch2paddle(jit_type='trace', input_examples=[im]) records the fixed input
  if (args.dynamic)
    log(
      'PaddlePaddle: WARNING ⚠️ dynamic=True: the ProgramDesc is written at the fixed imgsz and batch (x2paddle traces the example input), setting dynamic=False.',
    );
  const batch = args.batch ?? 1;
  const imgsz = exportImgsz(model, args);
  const t0 = performance.now();
  log(`\nPaddlePaddle: starting export with yolo-ts (ProgramDesc + pdiparams, own writer)...`);
  const { g, read } = await staticGraph(model, batch, imgsz);
  const files = lowerToPaddle(g, { half: !!args.half, read });
  const dir = exportPath(src.file, '_paddle_model');
  mkdirSync(join(dir, 'inference_model'), { recursive: true });
  writeFileSync(join(dir, 'inference_model', 'model.pdmodel'), files.pdmodel);
  writeFileSync(join(dir, 'inference_model', 'model.pdiparams'), files.pdiparams);
  writeFileSync(join(dir, 'metadata.yaml'), metadataYaml(exportMetadata(model, src, batch, imgsz)));
  log(
    `PaddlePaddle: export success ✅ ${((performance.now() - t0) / 1000).toFixed(1)}s, saved as '${dir}' (${(files.pdiparams.byteLength / (1 << 20)).toFixed(1)} MB)`,
  );
  return dir;
}

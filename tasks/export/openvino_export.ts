// `yolo export format=openvino`: Ultralytics' export_openvino output written by ./openvino_lower.ts
// from the traced graph: `<stem>_openvino_model/` with <stem>.xml (IR v11), <stem>.bin and
// metadata.yaml, and the rt_info model_info Ultralytics sets. half=True: f16 weights + Convert
// (compress_to_fp16). dynamic=True: batch, height and width dynamic (`?`), as ov.convert_model(input=None)
// gives Ultralytics (./openvino_lower.ts). int8=True needs NNCF's post-training quantization, which is refused.
//
// Imports: node, models (type), ./static_graph, ./openvino_lower, ./folder_metadata, ./exporter, ./ncnn_export.
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { staticGraph } from './static_graph.js';
import { lowerToOpenVino } from './openvino_lower.js';
import { metadataYaml } from './folder_metadata.js';
import {
  exportGraph,
  exportMetadata,
  exportPath,
  hostWeights,
  type ExportArgs,
  type ExportSource,
} from './exporter.js';

/** The graph traced with sizes B, H, W (BatchNorm folded, nothing size-dependent folded) and its host values. */
async function symbolicGraph(model: PoseModel, batch: number, imgsz: [number, number]) {
  const g = await exportGraph(model, batch, imgsz);
  const weights = await hostWeights(model);
  const read = (id: number): Float32Array => {
    const v = g.values[id];
    const data = (v.data as Float32Array | undefined) ?? (v.name ? weights.get(v.name)?.data : undefined);
    if (!data) throw new Error(`export: no host values for ${v.kind} %${id} ${v.name ?? ''}`);
    return data;
  };
  return { g, read };
}
import { exportImgsz } from './ncnn_export.js';

export async function exportOpenVino(
  model: PoseModel,
  args: ExportArgs,
  src: ExportSource,
  log: (s: string) => void,
): Promise<string> {
  if (args.int8)
    throw new Error(
      "export: int8=True for format='openvino' needs NNCF (Ultralytics runs nncf.quantize with calibration images from data=, ignoring the head's Add/Sub/Mul/Div and DFL), which this toolkit does not implement; export FP32 or half=True",
    );
  const batch = args.batch ?? 1;
  const imgsz = exportImgsz(model, args);
  const t0 = performance.now();
  log(`\nOpenVINO: starting export with yolo-ts (IR v11, own writer)...`);
  // dynamic: Ultralytics' ov.convert_model(input=None) leaves batch/height/width dynamic -> the symbolic graph, anchors computed in the IR
  const { g, read } = args.dynamic ? await symbolicGraph(model, batch, imgsz) : await staticGraph(model, batch, imgsz);
  const rtInfo = {
    iou_threshold: pyStr(args.iou ?? 0.7),
    labels: Object.values(model.names)
      .map((v) => v.replace(/ /g, '_'))
      .join(' '),
    model_type: 'YOLOv8',
    pad_value: '114',
    resize_type: 'fit_to_window_letterbox',
    reverse_input_channels: 'YES',
    scale_values: '255',
  };
  const ir = lowerToOpenVino(g, { half: !!args.half, dynamic: !!args.dynamic, read, rtInfo });
  const dir = exportPath(src.file, '_openvino_model');
  const stem = basename(src.file, extname(src.file));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${stem}.xml`), ir.xml);
  writeFileSync(join(dir, `${stem}.bin`), ir.bin);
  writeFileSync(join(dir, 'metadata.yaml'), metadataYaml(exportMetadata(model, src, batch, imgsz)));
  log(
    `OpenVINO: export success ✅ ${((performance.now() - t0) / 1000).toFixed(1)}s, saved as '${dir}' (${(ir.bin.byteLength / (1 << 20)).toFixed(1)} MB)`,
  );
  return dir;
}

/** Python's str() of an int or float iou as ov's set_rt_info stores it ('0.7', '1', '5e-05'). */
function pyStr(v: number): string {
  return v !== 0 && Math.abs(v) < 1e-4 ? v.toExponential().replace(/e([-+])(\d)$/, 'e$10$2') : String(v);
}

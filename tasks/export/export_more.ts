// The formats beyond ONNX that this branch writes (ncnn, OpenVINO, TensorRT's guided step, Paddle, CoreML), each
// lowered from the traced graph by its own file, and Ultralytics' closing "Export complete" lines.
//
// Imports: node, models (type), ./ncnn_export, ./exporter (types).
import { resolve, dirname } from 'node:path';
import type { PoseModel } from '../../models/yolov8_pose.js';
import type { ExportArgs, ExportSource } from './exporter.js';
import { exportNcnn, exportImgsz } from './ncnn_export.js';
import { isNcnnModel, loadNcnnModel } from './ncnn_model.js';
import { exportOpenVino } from './openvino_export.js';
import { exportTensorRt } from './tensorrt_export.js';
import { exportPaddle } from './paddle_export.js';
import { findPdmodel, loadPaddleModel } from './paddle_model.js';
import { exportCoreMl } from './coreml_export.js';
import { isMlPackage, loadCoreMlModel } from './coreml_model.js';
import { loadOpenVinoModel, openVinoXml } from './openvino_model.js';
import { isTorchScript, loadTorchScriptModel } from './torchscript_import.js';
import type { Device } from '../../engine/index.js';
import type { OnnxPoseModel } from './onnx_model.js';

/** An exported model folder (ncnn, OpenVINO) run through its importer, or null when `path` is none. */
export function loadExportedFolder(path: string, device: Device): OnnxPoseModel | null {
  if (isNcnnModel(path)) return loadNcnnModel(path, device);
  if (/_openvino_model\/?$/.test(path) && openVinoXml(path)) return loadOpenVinoModel(path, device);
  if (/_paddle_model\/?$/.test(path) && findPdmodel(path)) return loadPaddleModel(path, device);
  if (isMlPackage(path)) return loadCoreMlModel(path, device);
  if (isTorchScript(path)) return loadTorchScriptModel(path, device);
  return null;
}

export const MORE_FORMATS = ['ncnn', 'openvino', 'engine', 'paddle', 'coreml'];

export async function exportMore(
  format: string,
  model: PoseModel,
  args: ExportArgs,
  src: ExportSource,
  log: (s: string) => void,
  t0: number,
): Promise<string> {
  let f: string;
  if (format === 'ncnn') f = await exportNcnn(model, args, src, log);
  else if (format === 'openvino') f = await exportOpenVino(model, args, src, log);
  else if (format === 'engine') f = await exportTensorRt(model, args, src, log);
  else if (format === 'paddle') f = await exportPaddle(model, args, src, log);
  else if (format === 'coreml') f = await exportCoreMl(model, args, src, log);
  else throw new Error(`export: format='${format}' is not written by this toolkit`);
  const [h, w] = exportImgsz(model, { ...args, verbose: false });
  const imgszArg = h === w ? String(h) : `${h},${w}`;
  const q = args.half ? 'half' : '';
  log(
    `\nExport complete (${((performance.now() - t0) / 1000).toFixed(1)}s)` +
      `\nResults saved to ${resolve(dirname(f))}` +
      `\nPredict:         yolo predict task=pose model=${f} imgsz=${imgszArg} ${q} ` +
      `\nValidate:        yolo val task=pose model=${f} imgsz=${imgszArg} data=${src.data ?? 'None'} ${q} ` +
      `\nVisualize:       https://netron.app`,
  );
  return f;
}

// `yolo export format=coreml`: Ultralytics' export_coreml for a pose model (ML Program, image input
// 'image' scaled by 1/255, no NMS pipeline) as `<stem>.mlpackage`: Manifest.json,
// Data/com.apple.CoreML/model.mlmodel (the Model spec, ./coreml_lower.ts's program) and
// Data/com.apple.CoreML/weights/weight.bin; Ultralytics' metadata in the spec (short description,
// author, version, license, the rest as user-defined strings). batch must be 1 (Ultralytics' assert).
// half=True: a FLOAT16 program. int8=True: Ultralytics' palettize_weights(OpPalettizerConfig(mode='kmeans',
// nbits=8, weight_threshold=512)) over the FLOAT16 program coremltools converts to: every weight of more
// than 512 elements a constexpr_lut_to_dense (256-entry fp16 table + uint8 indices), specificationVersion 7.
//
// Imports: node, engine (protobuf), models (type), ./static_graph, ./coreml_lower, ./coreml_proto,
// ./exporter, ./metadata, ./ncnn_export.
import { mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { encode } from '../../engine/io/protobuf.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { staticGraph } from './static_graph.js';
import { lowerToMil } from './coreml_lower.js';
import { ARRAY_FLOAT32, COLOR_RGB, COREML_SCHEMA } from './coreml_proto.js';
import { exportMetadata, exportPath, type ExportArgs, type ExportSource } from './exporter.js';
import { pyStr, type PyValue } from './metadata.js';
import { exportImgsz } from './ncnn_export.js';

export async function exportCoreMl(
  model: PoseModel,
  args: ExportArgs & { nms?: boolean },
  src: ExportSource,
  log: (s: string) => void,
): Promise<string> {
  if (String(args.format).toLowerCase() === 'mlmodel')
    throw new Error(
      "export: format='mlmodel' asks for the legacy NeuralNetwork .mlmodel (coremltools<=6.2), which this toolkit does not write; use format='coreml' for an ML Program .mlpackage",
    );
  if ((args.batch ?? 1) !== 1) throw new Error("CoreML batch sizes > 1 are not supported. Please retry at 'batch=1'.");
  if (args.nms) log("CoreML: WARNING ⚠️ 'nms=True' is only available for Detect models like 'yolov8n.pt'.");
  const imgsz = exportImgsz(model, args);
  const t0 = performance.now();
  log(`\nCoreML: starting export with yolo-ts (ML Program, own MIL writer)...`);
  const { g, read } = await staticGraph(model, 1, imgsz);
  const mil = lowerToMil(g, {
    half: !!args.half || !!args.int8,
    read,
    ...(args.int8 ? { palettize: { nbits: 8, threshold: 512 } } : {}),
  });
  const m = exportMetadata(model, src, 1, imgsz);
  const { description, author, version, license, ...rest } = m;
  const spec = {
    specificationVersion: args.int8 ? 7 : 6, // iOS15: the first with ML Programs; iOS16: constexpr ops
    description: {
      input: [{ name: 'image', type: { imageType: { width: imgsz[1], height: imgsz[0], colorSpace: COLOR_RGB } } }],
      output: [{ name: mil.outputName, type: { multiArrayType: { shape: mil.outputShape, dataType: ARRAY_FLOAT32 } } }],
      metadata: {
        shortDescription: description,
        versionString: version,
        author,
        license,
        userDefined: Object.entries(rest).map(([key, v]) => ({ key, value: pyStr(v as PyValue, key === 'names') })),
      },
    },
    mlProgram: mil.program,
  };
  const f = exportPath(src.file, '.mlpackage');
  if (existsSync(f)) rmSync(f, { recursive: true });
  const data = join(f, 'Data', 'com.apple.CoreML');
  mkdirSync(join(data, 'weights'), { recursive: true });
  writeFileSync(join(data, 'model.mlmodel'), encode(COREML_SCHEMA, 'Model', spec));
  writeFileSync(join(data, 'weights', 'weight.bin'), mil.weights);
  const [specId, weightsId] = [randomUUID().toUpperCase(), randomUUID().toUpperCase()];
  const manifest = {
    fileFormatVersion: '1.0.0',
    itemInfoEntries: {
      [specId]: {
        author: 'com.apple.CoreML',
        description: 'CoreML Model Specification',
        name: 'model.mlmodel',
        path: 'com.apple.CoreML/model.mlmodel',
      },
      [weightsId]: {
        author: 'com.apple.CoreML',
        description: 'CoreML Model Weights',
        name: 'weights',
        path: 'com.apple.CoreML/weights',
      },
    },
    rootModelIdentifier: specId,
  };
  writeFileSync(join(f, 'Manifest.json'), JSON.stringify(manifest, null, 4) + '\n');
  log(
    `CoreML: export success ✅ ${((performance.now() - t0) / 1000).toFixed(1)}s, saved as '${f}' (${(mil.weights.byteLength / (1 << 20)).toFixed(1)} MB)`,
  );
  return f;
}
